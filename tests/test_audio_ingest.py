"""Audio ingest (tools.audio): common formats decode; every bad input gets one sentence.

Uses ffmpeg only (no models). Files are generated per session in a temp folder.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests import audio_fixtures as fx
from tools import audio as audio_module
from tools.audio import AudioInputError, AudioLimits, level_curve_db, load_audio, probe_audio


def assert_one_sentence(message: str) -> None:
    """One actionable sentence: single line, ends with a period, no second sentence."""
    assert message and "\n" not in message and "Traceback" not in message
    assert message.endswith("."), message
    assert re.search(r"[.!?]\s+[A-Z]", message) is None, message


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest")


@pytest.fixture(scope="module")
def piano(folder: Path) -> Path:
    return fx.piano_melody(folder / "piano.wav", seconds=5.0)


@pytest.fixture(scope="module")
def piano_mp3(folder: Path, piano: Path) -> Path:
    return fx.encode(piano, folder / "piano.mp3", "-b:a", "128k")


@pytest.mark.parametrize(
    ("suffix", "args"),
    [
        (".wav", ()),
        (".mp3", ("-b:a", "96k")),
        (".flac", ()),
        (".ogg", ("-c:a", "libvorbis")),
        (".opus", ("-c:a", "libopus")),
        (".m4a", ("-c:a", "aac")),
        (".webm", ("-c:a", "libopus")),
    ],
)
def test_common_formats_decode_to_mono_at_fixed_rate(
    folder: Path, piano: Path, suffix: str, args: tuple[str, ...]
) -> None:
    path = fx.encode(piano, folder / f"format{suffix}", *args)
    audio = load_audio(path)
    assert audio.sample_rate == 22050
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert audio.duration_s == pytest.approx(5.0, abs=0.1)
    assert 0.05 < float(np.max(np.abs(audio.samples))) <= 1.0
    assert audio.warnings == ()


def test_eight_channels_at_192_khz_are_downmixed_and_resampled(folder: Path) -> None:
    audio = load_audio(fx.multichannel(folder / "8ch.wav", channels=8, sample_rate=192000))
    assert (audio.source.channels, audio.source.sample_rate) == (8, 192000)
    assert audio.sample_rate == 22050 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(3.0, abs=0.05)
    assert np.max(np.abs(audio.samples)) > 0.01


def rejected(path: Path, limits: AudioLimits | None = None) -> str:
    with pytest.raises(AudioInputError) as caught:
        load_audio(path, limits=limits or AudioLimits())
    assert_one_sentence(str(caught.value))
    return str(caught.value)


def test_text_file_renamed_mp3(folder: Path) -> None:
    message = rejected(fx.text_renamed_mp3(folder / "notes.mp3"))
    assert "not an audio file" in message and "notes.mp3" in message


def test_truncated_mp3_without_a_whole_frame(folder: Path, piano_mp3: Path) -> None:
    message = rejected(fx.truncated(piano_mp3, folder / "cut.mp3", keep_bytes=2000))
    assert "truncated or damaged" in message


def test_mp3_cut_in_half_decodes_what_is_there_and_says_so(folder: Path, piano_mp3: Path) -> None:
    size = piano_mp3.stat().st_size
    audio = load_audio(fx.truncated(piano_mp3, folder / "half.mp3", keep_bytes=size // 2))
    assert 1.5 < audio.duration_s < 3.5
    assert len(audio.warnings) == 1 and "truncated" in audio.warnings[0]
    assert_one_sentence(audio.warnings[0])


def test_zero_byte_file(folder: Path) -> None:
    path = folder / "empty.wav"
    path.write_bytes(b"")
    assert "empty" in rejected(path)


def test_missing_file(folder: Path) -> None:
    assert "No audio file" in rejected(folder / "never-written.mp3")


def test_sixty_seconds_of_digital_silence(folder: Path) -> None:
    message = rejected(fx.silence(folder / "silence.wav", seconds=60))
    assert "silent" in message and "1 min" in message


def test_three_hour_file_is_rejected_from_its_header_without_decoding(folder: Path) -> None:
    path = fx.long_silent_flac(folder / "three-hours.flac")
    started = time.perf_counter()
    message = rejected(path)
    # Decoding 3 h would take many seconds; the header check answers in well under one.
    assert time.perf_counter() - started < 1.0
    assert "3 h 0 min" in message and "15 min limit" in message


def test_duration_limit_is_configurable(piano: Path) -> None:
    assert "4 s limit" in rejected(piano, AudioLimits(max_duration_s=4.0))
    assert load_audio(piano, limits=AudioLimits(max_duration_s=6.0)).duration_s > 4.0


def test_file_size_limit(piano: Path) -> None:
    assert "MB limit" in rejected(piano, AudioLimits(max_file_mb=0.01))


def test_a_header_without_duration_is_still_capped_by_the_decoder(
    piano: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Streams and damaged headers may declare no duration; the decoder's cap must catch them.
    monkeypatch.setattr(audio_module, "_declared_duration", lambda fmt, stream: None)
    assert "longer than the 2 s limit" in rejected(piano, AudioLimits(max_duration_s=2.0))


def test_video_without_audio_track(folder: Path) -> None:
    path = folder / "picture.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=1",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    assert "no audio track" in rejected(path)


def test_probe_reads_the_header_only(piano_mp3: Path) -> None:
    source = probe_audio(piano_mp3)
    assert source.codec == "mp3" and source.channels == 1 and source.sample_rate == 22050
    assert source.declared_duration_s == pytest.approx(5.0, abs=0.1)


def test_nothing_is_left_in_the_temp_folder(
    folder: Path, piano_mp3: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    for path in (
        fx.text_renamed_mp3(folder / "t.mp3"),
        fx.truncated(piano_mp3, folder / "t2.mp3", keep_bytes=2000),
        fx.silence(folder / "s.wav", seconds=2),
    ):
        with pytest.raises(AudioInputError):
            load_audio(path)
    load_audio(piano_mp3)
    assert list(private_tmp.iterdir()) == []


def test_level_curve_tracks_loudness_over_the_whole_file() -> None:
    sr = 1000
    quiet_then_loud = np.concatenate([np.full(10 * sr, 0.01), np.full(10 * sr, 0.5)])
    curve, hop = level_curve_db(quiet_then_loud.astype(np.float32), sr, max_points=10)
    assert hop == pytest.approx(2.0) and len(curve) == 10
    assert curve[0] == pytest.approx(-40.0, abs=0.1) and curve[-1] == pytest.approx(-6.0, abs=0.1)


def test_level_curve_of_a_clip_shorter_than_one_hop() -> None:
    curve, hop = level_curve_db(np.full(100, 0.5, dtype=np.float32), 1000)
    assert curve == [pytest.approx(-6.02, abs=0.01)] and hop == pytest.approx(0.1)
