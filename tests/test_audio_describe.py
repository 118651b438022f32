"""describe_audio end to end with the real models: musicnn tags, Whisper lyrics, summaries.

The tagger worker and Whisper load once per session (``tools.tagger.get_tagger`` and
``tools.lyrics.get_transcriber`` are process-wide), so this module costs one model start-up.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest

from tests import audio_fixtures as fx
from tools import describe as describe_module
from tools.audio import AudioInputError, load_audio, resample
from tools.describe import SWITCHED_OFF, AudioDescription, analysis_windows, describe_audio
from tools.tagger import MusicTagger, TaggerError, get_tagger, musicnn_input, verify_restored

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("describe")
    return {
        "piano": fx.piano_melody(folder / "piano.wav"),
        "beat": fx.four_on_the_floor(folder / "beat.wav"),
        "speech": fx.speech(folder / "speech.wav"),
        "long": fx.concatenate(
            folder / "long.wav",
            fx.piano_melody(folder / "p.wav", seconds=10),
            fx.four_on_the_floor(folder / "b.wav", seconds=10),
            repeat=6,
        ),
    }


@pytest.fixture(scope="module")
def described(clips: dict[str, Path]) -> dict[str, AudioDescription]:
    get_tagger().start()
    return {name: describe_audio(clips[name]) for name in ("piano", "beat", "speech")}


def words(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z]+", (text or "").lower()))


def test_float16_trap_is_real_and_avoided() -> None:
    # musicnn's own batch_data computes log10(10000 * mel + 1) on float16: loud input
    # overflows to inf and every clip looks alike. Ours stays finite.
    loud = np.sin(2 * np.pi * 110 * np.arange(3 * 16000) / 16000).astype(np.float32)
    import librosa

    mel = librosa.feature.melspectrogram(y=loud, sr=16000, hop_length=256, n_fft=512, n_mels=96)
    with np.errstate(over="ignore"):
        assert np.isinf(np.log10(10000 * mel.astype(np.float16) + 1)).any()
    patches = musicnn_input(loud)
    assert patches.shape == (1, 188, 96) and patches.dtype == np.float32
    assert np.isfinite(patches).all() and patches.max() > 4.8  # above float16's log10(65504)


def test_worker_verified_every_restored_variable(described) -> None:
    restored = get_tagger().restored_variables
    assert set(restored) == {"MTT_musicnn", "MSD_musicnn"}
    assert all(count > 50 for count in restored.values()), restored


def test_restore_verification_catches_missing_or_unrestored_weights() -> None:
    weights = {"conv/kernel": np.ones((3, 3)), "dense/bias": np.zeros(4)}
    assert verify_restored("MTT_musicnn", weights, dict(weights)) == 2
    with pytest.raises(TaggerError, match="dense/bias"):
        verify_restored("MTT_musicnn", weights, {"conv/kernel": np.ones((3, 3))})
    freshly_initialised = {**weights, "conv/kernel": np.full((3, 3), 0.5)}
    with pytest.raises(TaggerError, match="conv/kernel"):
        verify_restored("MTT_musicnn", freshly_initialised, weights)
    with pytest.raises(TaggerError, match="no variables"):
        verify_restored("MTT_musicnn", {}, weights)


def test_piano_and_beat_get_clearly_different_tags(described) -> None:
    piano, beat = described["piano"], described["beat"]
    piano_top = [t.name for t in piano.tags[:3]]
    beat_top = [t.name for t in beat.tags[:3]]
    assert not set(piano_top) & set(beat_top), (piano_top, beat_top)
    piano_scores = {t.name: t.score for t in piano.tags}
    beat_scores = {t.name: t.score for t in beat.tags}
    assert "techno" in beat_top or "dance" in beat_top
    assert beat_scores.get("techno", 0) > piano_scores.get("techno", 0) + 0.2
    assert "slow" in piano_scores and piano_scores["slow"] > beat_scores.get("slow", 0)
    assert all(0 <= t.score <= 1 for t in piano.tags + beat.tags)


def test_summaries_differ_and_read_like_the_music(described) -> None:
    piano, beat = described["piano"].summary, described["beat"].summary
    assert piano != beat
    assert "slow (60 BPM)" in piano and "in A minor" in piano and "little percussion" in piano
    assert "128 BPM" in beat and "percussion-heavy" in beat
    for summary in (piano, beat):
        assert summary.startswith("A 30-second clip") and "No vocals detected." in summary
        assert "\n" not in summary


def test_speech_is_transcribed_word_for_word(described) -> None:
    speech = described["speech"]
    assert {"play", "me", "some", "miles", "davis"} <= words(speech.lyrics), speech.lyrics
    assert speech.features is not None and speech.features.vocals_likely
    assert "Words heard" in speech.summary


def test_instrumentals_give_no_lyrics(described) -> None:
    assert described["piano"].lyrics is None and described["beat"].lyrics is None
    assert "lyrics" not in described["piano"].skipped


def test_every_part_ran_and_the_plot_series_is_there(described) -> None:
    piano = described["piano"]
    assert piano.skipped == {} and piano.features is not None and piano.tags
    assert len(piano.loudness_curve_db) == 60 and piano.loudness_curve_hop_s == 0.5
    assert set(piano.timings_s) >= {"decode", "dsp", "tags", "lyrics", "total"}


def test_two_different_clips_tag_differently_through_the_worker(clips) -> None:
    tagger = get_tagger()
    piano = resample(load_audio(clips["piano"]).samples, 22050, 16000)
    beat = resample(load_audio(clips["beat"]).samples, 22050, 16000)
    piano_scores = {t.name: t.score for t in tagger.tag(piano)}
    beat_scores = {t.name: t.score for t in tagger.tag(beat)}
    assert len(piano_scores) == len(beat_scores) > 80  # both checkpoints answered
    differences = [abs(piano_scores[n] - beat_scores[n]) for n in piano_scores]
    assert max(differences) > 0.3


@pytest.mark.parametrize("off", ["dsp", "tags", "lyrics"])
def test_each_part_can_be_switched_off(clips, off: str) -> None:
    description = describe_audio(clips["speech"], **{off: False})
    assert description.skipped == {off: SWITCHED_OFF}
    assert (description.features is None) == (off == "dsp")
    assert (description.tags == []) == (off == "tags")
    assert (description.lyrics is None) == (off == "lyrics")
    assert f"Not analysed: {off}" in description.summary


@pytest.mark.parametrize("broken", ["_run_dsp", "_run_tags", "_run_lyrics"])
def test_a_failing_part_never_loses_the_others(
    clips, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    def fail(*args: object) -> None:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(describe_module, broken, fail)
    description = describe_audio(clips["speech"])
    part = broken.removeprefix("_run_")
    assert list(description.skipped) == [part]
    assert "simulated crash" in description.skipped[part]
    assert (description.features is not None) == (part != "dsp")
    assert bool(description.tags) == (part != "tags")
    assert (description.lyrics is not None) == (part != "lyrics")
    assert description.summary


def test_long_files_are_analysed_in_windows(clips) -> None:
    description = describe_audio(clips["long"], window_s=10, max_windows=3)
    assert description.duration_s == pytest.approx(120.0, abs=0.1)
    assert description.analysed_windows_s == [(25.0, 35.0), (55.0, 65.0), (85.0, 95.0)]
    assert description.features is not None
    assert description.features.duration_analysed_s == pytest.approx(30.0, abs=0.1)
    assert "2-minute track (analysed in 3 windows, 30 s in all)" in description.summary
    assert len(description.loudness_curve_db) == 120  # the curve still covers the whole file


def test_windows_cover_short_clips_whole() -> None:
    assert analysis_windows(30 * 100, 100, window_s=20, max_windows=3) == [(0, 3000)]
    windows = analysis_windows(400 * 100, 100, window_s=20, max_windows=3)
    assert [b - a for a, b in windows] == [2000] * 3
    assert windows[0][0] > 0 and windows[-1][1] < 40000


def test_bad_file_raises_the_ingest_sentence(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="silent"):
        describe_audio(fx.silence(tmp_path / "quiet.wav", seconds=60))


def test_tagger_start_failure_is_reported_not_raised_from_describe(
    clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = MusicTagger(model_names=("MTT_no_such_model",))
    with pytest.raises(TaggerError, match="failed to start"):
        broken.start()
    monkeypatch.setattr("tools.tagger.get_tagger", lambda: broken)
    description = describe_audio(clips["piano"], lyrics=False)
    assert "failed to start" in description.skipped["tags"]
    assert description.features is not None


def test_warm_up_leaves_every_model_loaded() -> None:
    describe_module.warm_up()
    assert get_tagger().pid is not None
    from tools.lyrics import get_transcriber

    assert get_transcriber() is get_transcriber()  # loaded once, then shared


def test_summary_quotes_long_lyrics_briefly_and_names_skipped_parts() -> None:
    lyrics = "la " * 200
    summary = describe_module.summarize(
        duration_s=30.0,
        windows_s=[(0.0, 30.0)],
        features=None,
        tags=[],
        lyrics=lyrics,
        skipped={"dsp": SWITCHED_OFF, "tags": "Tagging analysis failed (worker crashed)."},
    )
    quote = summary.split('"')[1]
    assert quote.endswith("…") and len(quote) <= describe_module.SUMMARY_LYRICS_CHARS + 1
    assert summary.endswith(
        "Not analysed: dsp (switched off by the caller); tags (Tagging analysis failed "
        "(worker crashed))."
    )


def test_a_killed_tagger_worker_is_restarted_on_the_next_request(clips) -> None:
    tagger = get_tagger()
    tagger.start()
    old_pid = tagger.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    description = describe_audio(clips["beat"], dsp=False, lyrics=False)
    assert description.tags and "tags" not in description.skipped
    assert tagger.pid not in (None, old_pid)


def test_an_unloadable_whisper_model_falls_back_to_the_packaged_one(clips) -> None:
    from tools.lyrics import PACKAGED_MODEL, Transcriber

    # An unknown size fails inside faster-whisper before any download is attempted.
    transcriber = Transcriber("no-such-whisper-size")
    assert transcriber.model_name == PACKAGED_MODEL
    assert transcriber.note is not None and "no-such-whisper-size" in transcriber.note
    samples = resample(load_audio(clips["speech"]).samples, 22050, 16000)
    assert "davis" in words(transcriber.transcribe(samples))
