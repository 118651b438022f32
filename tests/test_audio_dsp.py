"""DSP features (tools.dsp) on generated audio with known tempo, key and level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from tests import audio_fixtures as fx
from tools.audio import load_audio
from tools.dsp import (
    DspFeatures,
    block_loudness,
    compute_features,
    estimate_key,
    integrated_loudness,
    k_weight,
    loudness_spread,
    warm_up,
)

SR = 22050


@pytest.fixture(scope="module")
def features_of(tmp_path_factory: pytest.TempPathFactory):
    """Features of a generated file, computed once per module (numba warmed up first)."""
    warm_up()
    folder = tmp_path_factory.mktemp("dsp")
    cache: dict[str, DspFeatures] = {}

    def compute(name: str) -> DspFeatures:
        if name not in cache:
            generator = getattr(fx, name)
            audio = load_audio(generator(folder / f"{name}.wav"))
            cache[name] = compute_features(audio.samples, audio.sample_rate)
        return cache[name]

    return compute


def test_click_track_at_120_bpm(features_of) -> None:
    features = features_of("click_track")
    assert 118.0 <= features.tempo_bpm <= 122.0
    assert features.tempo_confidence > 0.5


def test_a_minor_progression_reads_a_minor_or_relative_major(features_of) -> None:
    features = features_of("a_minor_progression")
    assert (features.key, features.mode) in {("A", "minor"), ("C", "major")}
    assert features.key_confidence > 0.5


def test_piano_and_dance_beat_differ_where_they_should(features_of) -> None:
    piano, beat = features_of("piano_melody"), features_of("four_on_the_floor")
    assert 126 <= beat.tempo_bpm <= 130 and 58 <= piano.tempo_bpm <= 62
    assert beat.percussive_ratio > 0.3 > 0.1 > piano.percussive_ratio
    assert beat.onset_density > 2 * piano.onset_density
    assert beat.brightness_hz > 2 * piano.brightness_hz
    assert piano.loudness_lufs < beat.loudness_lufs + 3  # the piano was rendered quieter


def test_instrumentals_are_not_flagged_as_vocals_but_speech_is(features_of) -> None:
    assert not features_of("piano_melody").vocals_likely
    assert not features_of("four_on_the_floor").vocals_likely
    speech = features_of("speech")
    assert speech.vocals_likely and speech.voice_activity_ratio > 0.5


def test_loudness_matches_the_bs1770_reference_tone() -> None:
    # BS.1770: a 997 Hz sine at -20 dBFS peak in one channel reads -23.0 LUFS (−3.01 at 0 dBFS).
    t = np.arange(10 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    assert integrated_loudness(block_loudness(tone, SR)) == pytest.approx(-23.0, abs=0.1)
    assert loudness_spread(block_loudness(tone, SR)) < 0.5


def test_k_weighting_reproduces_the_published_48_khz_filters() -> None:
    shelf_b = [1.53512485958697, -2.69169618940638, 1.19839281085285]
    shelf_a = [1.0, -1.69065929318241, 0.73248077421585]
    high_pass_a = [1.0, -1.99004745483398, 0.99007225036621]
    impulse = np.zeros(4800)
    impulse[0] = 1.0
    expected = signal.lfilter([1, -2, 1], high_pass_a, signal.lfilter(shelf_b, shelf_a, impulse))
    np.testing.assert_allclose(k_weight(impulse, 48000), expected, atol=1e-6)


def test_dynamic_range_sees_quiet_and_loud_passages() -> None:
    t = np.arange(10 * SR) / SR
    tone = np.sin(2 * np.pi * 440 * t)
    # Quiet passage 20 dB under the loud one, both above the relative gate.
    varied = np.concatenate([0.5 * tone, 0.05 * tone, 0.5 * tone, 0.05 * tone]).astype(np.float32)
    assert loudness_spread(block_loudness(varied, SR)) == pytest.approx(20.0, abs=1.5)


@pytest.mark.parametrize(
    ("tonic", "mode", "pitch_classes"),
    [(0, "major", [0, 4, 7]), (9, "minor", [9, 0, 4]), (7, "major", [7, 11, 2])],
)
def test_key_profiles_on_ideal_triads(tonic: int, mode: str, pitch_classes: list[int]) -> None:
    chroma = np.full(12, 0.1)
    chroma[pitch_classes] = 1.0
    chroma[tonic] = 1.5
    key, found_mode, confidence = estimate_key(chroma)
    assert (key, found_mode) == (("C", "G#", "A", "G")[[0, 8, 9, 7].index(tonic)], mode)
    assert confidence > 0.6


def test_short_clip_does_not_crash(tmp_path: Path) -> None:
    audio = load_audio(fx.click_track(tmp_path / "short.wav", seconds=1.0))
    features = compute_features(audio.samples, audio.sample_rate)
    assert features.duration_analysed_s == pytest.approx(1.0, abs=0.05)
    assert np.isfinite([features.tempo_bpm, features.loudness_lufs]).all()
