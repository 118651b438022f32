"""Synthetic audio for benchmarks, demos and tests: deterministic musical signals written to
files, so that ``python -m tools.bench`` and the test suite hear the same clips.

Conventions
-----------
- Every generator takes the output ``path`` first, writes exactly that file, and returns it
  as a :class:`~pathlib.Path`; keyword arguments have defaults that the audio tests rely on.
- Signals are deterministic (fixed seeds), mono float at 22050 Hz unless stated, peak
  ≤ 0.9 so nothing clips. Compressed formats go through ffmpeg; speech through espeak-ng
  (both installed by ``make test``; ``make run`` installs ffmpeg).

Imports nothing from this project. Must not import ``agent``, ``demo``, ``evals`` or ``tests``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
A4 = 440.0


def midi_hz(note: int) -> float:
    """Frequency of a MIDI note number (69 = A4 = 440 Hz)."""
    return A4 * 2 ** ((note - 69) / 12)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SR) -> Path:
    """Write float samples (mono ``(n,)`` or ``(n, channels)``) as 16-bit PCM WAV."""
    path = Path(path)
    sf.write(path, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path


def _normalise(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    top = float(np.max(np.abs(x)))
    return (x * (peak / top)).astype(np.float32) if top > 0 else x.astype(np.float32)


def _decaying_note(freq: float, seconds: float, sr: int, partials: int = 8, decay: float = 3.0):
    """Additive 'piano-like' note: harmonics falling as 1/k², each decaying exponentially."""
    t = np.arange(int(seconds * sr)) / sr
    attack = np.minimum(1.0, t / 0.005)
    note = sum(
        np.sin(2 * np.pi * freq * k * t) / k**2 * np.exp(-decay * k**0.5 * t)
        for k in range(1, partials + 1)
    )
    return attack * note


def click_track(path: str | Path, bpm: float = 120.0, seconds: float = 30.0, sr: int = SR) -> Path:
    """A metronome: 20 ms 1.5 kHz clicks every beat, nothing else."""
    out = np.zeros(int(seconds * sr))
    click = np.sin(2 * np.pi * 1500 * np.arange(int(0.02 * sr)) / sr)
    click *= np.exp(-np.arange(len(click)) / (0.004 * sr))
    for start in np.arange(0.0, seconds, 60.0 / bpm):
        i = int(start * sr)
        out[i : i + len(click)] += click[: len(out) - i]
    return write_wav(path, _normalise(out), sr)


def a_minor_progression(path: str | Path, seconds_per_chord: float = 2.0, repeats: int = 4) -> Path:
    """i–iv–V–i in A minor (Am, Dm, E, Am) as sustained additive chords with a bass note."""
    chords = [(45, [57, 60, 64]), (50, [57, 62, 65]), (40, [56, 59, 64]), (45, [57, 60, 64])]
    parts = []
    for _ in range(repeats):
        for bass, notes in chords:
            chord = _decaying_note(midi_hz(bass), seconds_per_chord, SR, decay=1.0)
            for n in notes:
                chord = chord + 0.7 * _decaying_note(midi_hz(n), seconds_per_chord, SR, decay=1.0)
            parts.append(chord)
    return write_wav(path, _normalise(np.concatenate(parts)))


def piano_melody(path: str | Path, seconds: float = 30.0, bpm: float = 60.0) -> Path:
    """A slow, quiet, piano-like melody (one decaying additive note per beat) in A minor."""
    melody = [69, 72, 76, 74, 72, 71, 69, 64]
    beat = 60.0 / bpm
    out = np.zeros(int(seconds * SR))
    for i, start in enumerate(np.arange(0.0, seconds, beat)):
        note = _decaying_note(midi_hz(melody[i % len(melody)]), min(2.5, seconds - start), SR)
        j = int(start * SR)
        out[j : j + len(note)] += note[: len(out) - j]
    return write_wav(path, _normalise(out, peak=0.3))


def four_on_the_floor(path: str | Path, seconds: float = 30.0, bpm: float = 128.0) -> Path:
    """A loud, noisy dance beat: kick every beat, snare on 2 and 4, off-beat hats, hiss."""
    rng = np.random.default_rng(4)
    n = int(seconds * SR)
    out = 0.05 * rng.standard_normal(n)
    t_kick = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t_kick * 30)) * t_kick) * np.exp(-t_kick * 12)
    snare = rng.standard_normal(int(0.15 * SR)) * np.exp(-np.arange(int(0.15 * SR)) / (0.03 * SR))
    hat = rng.standard_normal(int(0.05 * SR)) * np.exp(-np.arange(int(0.05 * SR)) / (0.008 * SR))
    hat = np.diff(hat, prepend=0.0)  # first difference: a crude high-pass for a brighter hat
    beat = 60.0 / bpm
    for i, start in enumerate(np.arange(0.0, seconds, beat)):
        for sound, offset, gain in ((kick, 0.0, 1.0), (hat, beat / 2, 0.4)) + (
            ((snare, 0.0, 0.6),) if i % 2 == 1 else ()
        ):
            j = int((start + offset) * SR)
            if j < n:
                out[j : j + len(sound)] += gain * sound[: n - j]
    return write_wav(path, _normalise(out))


def speech(
    path: str | Path, text: str = "Play me some Miles Davis.", voice: str = "en+m1", wpm: int = 150
) -> Path:
    """espeak-ng speech as WAV (22050 Hz mono). The default voice and rate are ones Whisper
    tiny.en transcribes word for word; slower rates make it hear 'mild' for 'Miles'."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return Path(path)


def encode(source: str | Path, path: str | Path, *ffmpeg_args: str) -> Path:
    """Re-encode ``source`` with ffmpeg, format chosen by ``path``'s suffix (mp3, ogg, ...)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *ffmpeg_args, str(path)], check=True
    )
    return Path(path)


def mix(path: str | Path, *sources: str | Path, gains: tuple[float, ...] = ()) -> Path:
    """Sum mono WAVs at :data:`SR` (shorter ones padded with silence), e.g. speech over music."""
    signals = [sf.read(str(s), dtype="float32")[0] for s in sources]
    out = np.zeros(max(len(s) for s in signals), dtype=np.float32)
    for i, s in enumerate(signals):
        out[: len(s)] += (gains[i] if i < len(gains) else 1.0) * s
    return write_wav(path, _normalise(out))


def concatenate(path: str | Path, *sources: str | Path, repeat: int = 1) -> Path:
    """Join mono WAVs at :data:`SR` end to end, ``repeat`` times (a long file from short parts)."""
    signals = [sf.read(str(s), dtype="float32")[0] for s in sources]
    return write_wav(path, np.concatenate(signals * repeat))
