"""Generated audio for tests: the musical signals of :mod:`tools.synthetic_audio` (re-exported,
so tests write ``fx.piano_melody(...)``) plus the odd and broken files only tests need.

Conventions
-----------
- Every generator takes the output ``path`` first, writes exactly that file, and returns it
  as a :class:`~pathlib.Path`, as in :mod:`tools.synthetic_audio`.
- Odd layouts and long files go through ffmpeg (installed by ``make test``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from tools.synthetic_audio import (
    SR,
    a_minor_progression,
    click_track,
    concatenate,
    encode,
    four_on_the_floor,
    mix,
    piano_melody,
    speech,
    write_wav,
)

__all__ = [
    "SR",
    "a_minor_progression",
    "click_track",
    "concatenate",
    "encode",
    "four_on_the_floor",
    "long_silent_flac",
    "mix",
    "multichannel",
    "piano_melody",
    "silence",
    "speech",
    "text_renamed_mp3",
    "truncated",
    "write_wav",
]


def silence(path: str | Path, seconds: float = 60.0) -> Path:
    """Digital silence (all-zero samples)."""
    return write_wav(path, np.zeros(int(seconds * SR), dtype=np.float32))


def multichannel(
    path: str | Path, channels: int = 8, sample_rate: int = 192000, seconds: float = 3.0
) -> Path:
    """A different sine per channel at a high sample rate (default 8 ch at 192 kHz)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    data = np.stack([0.2 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)], 1)
    return write_wav(path, data, sample_rate)


def long_silent_flac(path: str | Path, seconds: float = 3 * 3600.0) -> Path:
    """A FLAC that declares ``seconds`` of audio in ~2 MB (silence compresses to nothing):
    long-file limits can be tested without generating hours of PCM."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
         "-t", str(seconds), "-c:a", "flac", str(path)],
        check=True,
    )  # fmt: skip
    return Path(path)


def text_renamed_mp3(path: str | Path) -> Path:
    """A plain-text file with an .mp3 name."""
    Path(path).write_text("These are my favourite songs:\n1. So What\n2. Blue in Green\n" * 20)
    return Path(path)


def truncated(source: str | Path, path: str | Path, keep_bytes: int) -> Path:
    """The first ``keep_bytes`` bytes of ``source`` (a download cut short)."""
    Path(path).write_bytes(Path(source).read_bytes()[:keep_bytes])
    return Path(path)
