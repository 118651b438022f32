"""Signal-processing features of a decoded clip: tempo, key, loudness, dynamics, timbre.

Conventions
-----------
- Input is mono float32 at any rate (22050 Hz from :mod:`tools.audio` in practice); one
  STFT (2048-point, hop 512) feeds every spectral feature so the clip is transformed once.
- Units: BPM, Hz, seconds, LUFS / LU (ITU-R BS.1770 on the mono downmix), events per second;
  ratios and confidences are in [0, 1].
- Functions are pure (array in, numbers out) except that librosa compiles its numba
  kernels on first use: call :func:`warm_up` once before timing anything.

Must not import ``agent``, ``demo`` or ``evals``; no model weights are loaded here except
Silero VAD, which ships inside faster-whisper and runs in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
from pydantic import BaseModel, Field
from scipy import signal

from tools.audio import resample
from vectorstore.sound import PITCH_CLASSES, SoundTraits

N_FFT = 2048
HOP = 512
N_MELS = 96
# Krumhansl–Kessler key profiles (probe-tone ratings), index 0 = tonic.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Silero VAD is trained on speech; sung vocals over a band trigger it less reliably, so a
# modest share of active frames already counts as "vocals likely".
VOCALS_ACTIVITY_THRESHOLD = 0.2


class DspFeatures(BaseModel):
    """Features of the analysed audio (all analysed windows together)."""

    tempo_bpm: float = Field(description="Global tempo estimate in beats per minute.")
    tempo_confidence: float = Field(
        description="Normalised onset autocorrelation at the tempo's beat period, 0-1; "
        "near 1 for a steady pulse, near 0 when there is no clear beat."
    )
    key: str = Field(description="Tonic pitch class, e.g. 'A'.")
    mode: str = Field(description="'major' or 'minor'.")
    key_confidence: float = Field(
        description="Correlation of the chroma profile with the best key profile, -1 to 1."
    )
    loudness_lufs: float = Field(description="Integrated loudness (BS.1770, gated).")
    dynamic_range_db: float = Field(
        description="Spread of 400 ms-block loudness, 95th minus 10th percentile, in LU (dB)."
    )
    brightness_hz: float = Field(description="Mean spectral centroid in Hz.")
    onset_density: float = Field(description="Detected note/drum onsets per second.")
    percussive_ratio: float = Field(
        description="Share of spectral energy in the percussive part of an HPSS split, 0-1."
    )
    voice_activity_ratio: float = Field(
        description="Share of the analysed time Silero VAD marks as voice (speech or singing)."
    )
    vocals_likely: bool = Field(description="Whether a voice is likely present.")
    duration_analysed_s: float = Field(description="Seconds of audio these features describe.")


def k_weight(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting: a +4 dB high shelf above ~1.7 kHz, then a 38 Hz high-pass.

    Coefficients are derived for any rate from the analogue prototypes the way libebur128
    does it, which reproduces BS.1770's published 48 kHz coefficients exactly.
    """
    # Stage 1: high shelf.
    gain_db, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = np.tan(np.pi * fc / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    a1 = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    # Stage 2: high-pass (RLB weighting).
    q, fc = 0.5003270373238773, 38.13547087602444
    k = np.tan(np.pi * fc / sample_rate)
    a0 = 1 + k / q + k * k
    b2 = [1.0, -2.0, 1.0]
    a2 = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    shelved = signal.lfilter(b1, a1, samples.astype(np.float64))
    return signal.lfilter(b2, a2, shelved)


def block_loudness(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Momentary loudness (LUFS) of 400 ms blocks with 75 % overlap, BS.1770 style."""
    weighted = k_weight(samples, sample_rate)
    block, step = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if len(weighted) < block:
        weighted = np.pad(weighted, (0, block - len(weighted)))
    power = np.cumsum(np.concatenate([[0.0], weighted**2]))
    starts = np.arange(0, len(weighted) - block + 1, step)
    mean_square = (power[starts + block] - power[starts]) / block
    return -0.691 + 10 * np.log10(np.maximum(mean_square, 1e-12))


def integrated_loudness(blocks: np.ndarray) -> float:
    """Gated integrated loudness: absolute gate -70 LUFS, then relative gate -10 LU."""
    kept = blocks[blocks > -70.0]
    if kept.size == 0:
        return -70.0
    relative_gate = _energy_mean_db(kept) - 10.0
    kept = kept[kept > relative_gate]
    return _energy_mean_db(kept)


def _energy_mean_db(levels: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(10 ** (levels / 10))))


def loudness_spread(blocks: np.ndarray) -> float:
    """95th minus 10th percentile of the blocks above the absolute and relative gates."""
    kept = blocks[blocks > -70.0]
    if kept.size < 2:
        return 0.0
    kept = kept[kept > _energy_mean_db(kept) - 20.0]
    return float(np.percentile(kept, 95) - np.percentile(kept, 10))


def estimate_key(chroma_mean: np.ndarray) -> tuple[str, str, float]:
    """Krumhansl–Schmuckler: correlate a 12-bin chroma profile with all 24 rotated profiles."""
    best = ("C", "major", -1.0)
    for tonic in range(12):
        for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
            r = float(np.corrcoef(chroma_mean, np.roll(profile, tonic))[0, 1])
            if np.isfinite(r) and r > best[2]:
                best = (PITCH_CLASSES[tonic], mode, r)
    return best


def tempo_with_confidence(onset_env: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """librosa's tempo (log-normal prior around 120 BPM), refined, plus how periodic it is.

    librosa picks a whole-frame lag, which at hop 512 / 22050 Hz quantises 120 BPM to 117.5
    or 123.0; a parabola through the autocorrelation peak recovers the fractional lag.
    Confidence is the peak of the unbiased, normalised autocorrelation at that lag, so a
    perfectly periodic onset envelope scores 1.
    """
    bpm = float(librosa.feature.tempo(onset_envelope=onset_env, sr=sample_rate, hop_length=HOP)[0])
    centred = onset_env - onset_env.mean()
    ac = librosa.autocorrelate(centred)
    ac = ac / (len(centred) - np.arange(len(ac)))
    lag = round(60.0 * sample_rate / (HOP * bpm)) if bpm > 0 else 0
    if ac[0] <= 0 or not 1 <= lag < len(ac) - 2:
        return bpm, 0.0
    lag = max(range(lag - 1, lag + 2), key=lambda i: ac[i])
    left, mid, right = ac[lag - 1], ac[lag], ac[lag + 1]
    curvature = left - 2 * mid + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    refined = 60.0 * sample_rate / (HOP * (lag + float(np.clip(shift, -0.5, 0.5))))
    return refined, float(np.clip(mid / ac[0], 0.0, 1.0))


@lru_cache(maxsize=1)
def _vad_model():
    from faster_whisper.vad import get_vad_model  # deferred: loads onnxruntime

    return get_vad_model()


def voice_activity_ratio(samples_16k: np.ndarray) -> float:
    """Share of the signal (16 kHz) that Silero VAD marks as voice."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    _vad_model()
    spans = get_speech_timestamps(
        samples_16k, VadOptions(min_silence_duration_ms=500, speech_pad_ms=0)
    )
    voiced = sum(span["end"] - span["start"] for span in spans)
    return float(voiced / max(1, len(samples_16k)))


@dataclass(frozen=True)
class _Analysis:
    """One STFT's worth of analysis, shared by :func:`sound_traits` and
    :func:`compute_features` so the clip is transformed once."""

    traits: SoundTraits
    mel: np.ndarray
    onset_env: np.ndarray
    blocks: np.ndarray


def _analyse(samples: np.ndarray, sample_rate: int) -> _Analysis:
    stft = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=N_MELS)
    log_mel = librosa.power_to_db(mel, ref=np.max)
    onset_env = librosa.onset.onset_strength(S=log_mel, sr=sample_rate, hop_length=HOP)
    bpm, tempo_conf = tempo_with_confidence(onset_env, sample_rate)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate)
    key, mode, key_conf = estimate_key(chroma.mean(axis=1))
    blocks = block_loudness(samples, sample_rate)
    centroid = librosa.feature.spectral_centroid(S=stft, sr=sample_rate)[0]
    loud_frames = power.sum(axis=0) > 1e-6 * power.sum(axis=0).max()
    traits = SoundTraits(
        tempo_bpm=round(bpm, 1),
        tempo_confidence=round(tempo_conf, 3),
        key=key,
        mode=mode,
        key_confidence=round(key_conf, 3),
        loudness_lufs=round(integrated_loudness(blocks), 1),
        brightness_hz=round(float(np.mean(centroid[loud_frames])), 0),
    )
    return _Analysis(traits, mel, onset_env, blocks)


def sound_traits(samples: np.ndarray, sample_rate: int) -> SoundTraits:
    """Tempo, key, loudness and brightness of ``samples`` (mono float32), without the
    costlier parts of :func:`compute_features` (HPSS, voice activity)."""
    return _analyse(samples, sample_rate).traits


def compute_features(samples: np.ndarray, sample_rate: int) -> DspFeatures:
    """All features of ``samples`` (mono float32)."""
    analysis = _analyse(samples, sample_rate)
    onsets = librosa.onset.onset_detect(
        onset_envelope=analysis.onset_env, sr=sample_rate, hop_length=HOP, units="frames"
    )
    # HPSS on the 96-band mel spectrogram instead of the 1025-bin STFT: same split of
    # sustained vs. transient energy at a tenth of the median-filtering cost.
    harmonic, percussive = librosa.decompose.hpss(analysis.mel, kernel_size=17)
    total = float(harmonic.sum() + percussive.sum())
    duration = len(samples) / sample_rate
    voice = voice_activity_ratio(_to_16k(samples, sample_rate))
    return DspFeatures(
        **analysis.traits.model_dump(),
        dynamic_range_db=round(loudness_spread(analysis.blocks), 1),
        onset_density=round(len(onsets) / duration, 2),
        percussive_ratio=round(float(percussive.sum()) / total, 3) if total > 0 else 0.0,
        voice_activity_ratio=round(voice, 3),
        vocals_likely=voice >= VOCALS_ACTIVITY_THRESHOLD,
        duration_analysed_s=round(duration, 2),
    )


def _to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    return resample(samples, sample_rate, 16000).astype(np.float32)


def warm_up(sample_rate: int = 22050) -> None:
    """Compile librosa's numba kernels and load the VAD, so later calls are timed warm."""
    rng = np.random.default_rng(0)
    compute_features((0.1 * rng.standard_normal(2 * sample_rate)).astype(np.float32), sample_rate)
