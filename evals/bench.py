"""Time the harness itself: a whole ``python -m evals run`` (process start to report) for
the model-free systems, as medians over repeats, against the 5 s target of issue 2.

Each repeat runs in a fresh process and a fresh output folder so nothing is resumed; the
first (cold) repeat is reported separately from the median of the rest when repeats > 1.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_SYSTEMS = ("random", "popularity", "lexical")
TARGET_S = 5.0


def time_run(system: str, data: str, out: Path) -> float:
    """Wall-clock seconds of one ``python -m evals run`` in a new process."""
    command = [
        sys.executable,
        "-m",
        "evals",
        "run",
        "--system",
        system,
        "--mode",
        "query_only",
        "--data",
        data,
        "--out",
        str(out),
        "--quiet",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench(
    data: str, repeats: int = 5, systems: tuple[str, ...] = BENCH_SYSTEMS
) -> list[tuple[str, float, float]]:
    """``[(system, median_s, max_s)]`` over ``repeats`` fresh-process runs each."""
    results = []
    with tempfile.TemporaryDirectory(prefix="evals-bench-") as scratch:
        for system in systems:
            times = [
                time_run(system, data, Path(scratch) / f"{system}-{i}") for i in range(repeats)
            ]
            results.append((system, statistics.median(times), max(times)))
    return results


def print_bench(results: list[tuple[str, float, float]], repeats: int) -> None:
    print(f"evals run, all 477 conversations, process start to report ({repeats} repeats)")
    print(f"{'system':<12} {'median s':>9} {'max s':>7} {'target s':>9} {'median/target':>14}")
    for system, median, worst in results:
        verdict = "ok" if median < TARGET_S else "OVER"
        ratio = median / TARGET_S
        print(f"{system:<12} {median:9.2f} {worst:7.2f} {TARGET_S:9.1f} {ratio:13.2f}  {verdict}")
