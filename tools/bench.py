"""Latency and memory benchmark of :func:`tools.describe.describe_audio` (issue 4 targets).

Usage: ``python -m tools.bench [--repeats N]`` (the signals come from
:mod:`tools.synthetic_audio`, whose generators the tests use too, so benchmarks and tests hear
the same audio).

Conventions
-----------
- Everything is warm: each part runs once before timing (model loads, numba compilation,
  TensorFlow graph optimisation are start-up costs, reported separately).
- A figure is the median wall-clock time of ``describe_audio`` with only that part on, so it
  includes decoding and resampling: what a user waits for. The 30 s clip is a dance beat
  with piano and speech on top, so Whisper has words to transcribe; the 10-minute file is
  that clip repeated, encoded as mp3, described with every part on (windowed).
- Peak RSS is the high-water mark (VmHWM) of this process plus the tagger worker process.
- Exit code 0 when every target is met, 1 otherwise.

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tools import synthetic_audio as fx
from tools.describe import describe_audio, warm_up
from tools.tagger import get_tagger

TARGETS_S = {"dsp_30s": 1.0, "tags_30s": 3.0, "lyrics_30s": 5.0, "all_10min": 6.0}
TARGET_RSS_GB = 2.5


def make_signals(folder: Path) -> tuple[Path, Path]:
    """(30 s clip with music and speech, 10-minute mp3 of it repeated)."""
    beat = fx.four_on_the_floor(folder / "beat.wav", seconds=30)
    piano = fx.piano_melody(folder / "piano.wav", seconds=30)
    words = fx.speech(
        folder / "speech.wav",
        "Play me some Miles Davis. I want something slow and blue, like Kind of Blue, "
        "with a trumpet and a soft piano. Then maybe some Bill Evans, late at night.",
    )
    clip = fx.mix(folder / "clip.wav", beat, piano, words, gains=(0.25, 0.6, 1.0))
    long_wav = fx.concatenate(folder / "long.wav", clip, repeat=20)
    return clip, fx.encode(long_wav, folder / "long.mp3", "-b:a", "128k")


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_gb(pid: int | str = "self") -> float:
    """VmHWM of a process in GB (0 if it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return kb / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="musicrs-bench-") as tmp:
        clip, long_file = make_signals(Path(tmp))
        start = time.perf_counter()
        warm_up()
        print(f"start-up (load models, compile kernels): {time.perf_counter() - start:.1f} s")
        first = describe_audio(clip)
        if first.skipped:
            print(f"warning: parts skipped during warm-up: {first.skipped}")
        describe_audio(long_file)
        cases = {
            "dsp_30s": (clip, {"tags": False, "lyrics": False}),
            "tags_30s": (clip, {"dsp": False, "lyrics": False}),
            "lyrics_30s": (clip, {"dsp": False, "tags": False}),
            "all_10min": (long_file, {}),
        }
        figures = {
            name: median_s(lambda p=path, kw=parts: describe_audio(p, **kw), args.repeats)
            for name, (path, parts) in cases.items()
        }
        example = describe_audio(clip)
    worker = get_tagger().pid
    rss = {"main": peak_rss_gb(), "tagger worker": peak_rss_gb(worker) if worker else 0.0}
    ok = True
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmedian of {args.repeats} warm runs (wall clock, decode included; load {load}):")
    for name, seconds in figures.items():
        target = TARGETS_S[name]
        ok &= seconds < target
        verdict = "ok" if seconds < target else "OVER"
        print(f"  {name:<11} {seconds:6.2f} s   target < {target:.1f} s   "
              f"ratio {seconds / target:4.2f}  {verdict}")  # fmt: skip
    total_rss = sum(rss.values())
    ok &= total_rss < TARGET_RSS_GB
    print(
        f"  peak RSS    {total_rss:6.2f} GB  target < {TARGET_RSS_GB:.1f} GB  ratio "
        f"{total_rss / TARGET_RSS_GB:4.2f}  {'ok' if total_rss < TARGET_RSS_GB else 'OVER'}  "
        f"({', '.join(f'{k} {v:.2f} GB' for k, v in rss.items())})"
    )
    print(f"\nexample summary: {example.summary}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
