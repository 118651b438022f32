"""``python -m vectorstore bench``: the catalog's performance figures against their targets.

Conventions
-----------
- Builds are timed as a user runs them: the whole ``python -m vectorstore build`` command in
  a fresh process (imports, data loading, card building, model loading, embedding, writes),
  into a fresh temporary store; the rebuild is the same command again with nothing changed.
- Search latency is per call with the catalog open and the model loaded and warmed (the
  first few calls of a process pay one-off costs), query embedding included; queries are
  MusiCRS requests cut to their first sentence and catalog names, alternating.
- Peak RSS is the ``ru_maxrss`` of one ``python -m vectorstore search`` process.
- Every figure is a median over its runs; the ratio is figure / target (below 1 passes).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vectorstore.errors import CatalogError

WARMUP = 5


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    target: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.value / self.target

    @property
    def passed(self) -> bool:
        return self.value < self.target


def timed_process(
    arguments: list[str], env: dict[str, str], module: str = "vectorstore"
) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and stdout of one ``python -m module ...`` process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments], env=env, stdout=out, stderr=err, text=True
        )
        # wait4, not wait: it also returns the child's resource usage (its peak RSS).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if status != 0:
            raise CatalogError(f"`{module} {arguments[0]}` failed: {err.read()[-400:]}")
        return seconds, usage.ru_maxrss * 1024, out.read()


def _bench_queries(data: str | None, count: int) -> list[str]:
    from vectorstore.musicrs import load_conversations

    conversations = load_conversations(data)
    sentences = [re.split(r"(?<=[.?!])\s", c.query)[0][:300] for c in conversations]
    names = [name for c in conversations for name in c.submission_entities][: len(sentences)]
    mixed = [q for pair in zip(sentences, names, strict=False) for q in pair]
    return mixed[: count + WARMUP]


def _search_p50(open_catalog: Callable[[], object], queries: list[str]) -> float:
    catalog = open_catalog()
    timings = []
    for number, query in enumerate(queries):
        started = time.perf_counter()
        catalog.search(query, 10)  # type: ignore[attr-defined]
        if number >= WARMUP:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def _engine_p50(open_engine: Callable[[], object], queries: list[str]) -> float:
    """Median milliseconds of one warm recommendation (k=10): request sentences as text and
    catalog names as seeds, alternating, as the queries of :func:`_bench_queries`."""
    from vectorstore.engine import RecommendRequest

    engine = open_engine()
    timings = []
    for number, query in enumerate(queries):
        request = (
            RecommendRequest(text=query) if number % 2 == 0 else RecommendRequest(seeds=(query,))
        )
        started = time.perf_counter()
        engine.recommend(request)  # type: ignore[attr-defined]
        if number >= WARMUP:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_chroma_server(path: Path, port: int, timeout: float = 60.0) -> subprocess.Popen:
    """Start ``chroma run`` and wait until it answers its heartbeat."""
    import urllib.request

    # Beside the interpreter too: `PYTHON=venv/bin/python make test` need not activate the venv.
    chroma = shutil.which("chroma") or shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        raise CatalogError(
            "The `chroma` command is not installed; install chromadb to run a server."
        )
    server = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise CatalogError(f"The Chroma server on port {port} did not answer within {timeout:.0f} s.")


def run_bench(
    data: str | None,
    repeats: int = 1,
    queries: int = 60,
    server: bool = True,
    engine_only: str | None = None,
) -> bool:
    """Measure, print a table, and return whether every target was met. ``engine_only``: only
    the engine's latency, over the catalog already built there."""
    from vectorstore.engine import open_engine
    from vectorstore.store import open_catalog

    console = Console()
    figures: list[Figure] = []
    if engine_only is not None:
        sample = _bench_queries(data, queries)
        p50 = _engine_p50(lambda: open_engine(engine_only), sample)
        figures.append(Figure("engine recommend p50, embedded", p50, 100, "ms"))
        return _print_figures(console, figures, f"engine over {engine_only}, {queries} requests")
    work = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH"}
    }
    data_args = ["--data", data] if data else []
    try:
        builds, rebuilds = [], []
        for run in range(repeats):
            store = work / f"store-{run}"
            console.print(f"full build {run + 1}/{repeats} …")
            builds.append(
                timed_process(["build", *data_args, "--path", str(store), "--quiet"], env)[0]
            )
            console.print(f"no-change rebuild {run + 1}/{repeats} …")
            rebuilds.append(
                timed_process(["build", *data_args, "--path", str(store), "--quiet"], env)[0]
            )
        figures += [
            Figure("full build of MusiCRS", statistics.median(builds), 90, "s"),
            Figure("no-change rebuild", statistics.median(rebuilds), 10, "s"),
        ]
        store = work / "store-0"
        sample = _bench_queries(data, queries)
        figures.append(
            Figure(
                "search p50, embedded", _search_p50(lambda: open_catalog(store), sample), 30, "ms"
            )
        )
        figures.append(
            Figure(
                "engine recommend p50, embedded",
                _engine_p50(lambda: open_engine(store), sample),
                100,
                "ms",
            )
        )
        _, rss, _ = timed_process(["search", sample[0], "--path", str(store), "--json"], env)
        figures.append(Figure("peak RSS of a search process", rss / 2**30, 1.2, "GB"))
        if server:
            port = _free_port()
            process = start_chroma_server(work / "server", port)
            try:
                os.environ.update(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port))
                console.print("build into the Chroma server …")
                server_env = {**env, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port)}
                server_build, _, _ = timed_process(["build", *data_args, "--quiet"], server_env)
                console.print(f"  (server build took {server_build:.1f} s; not a target)")
                figures.append(
                    Figure("search p50, Chroma server", _search_p50(open_catalog, sample), 60, "ms")
                )
            finally:
                os.environ.pop("CHROMA_HOST", None)
                os.environ.pop("CHROMA_PORT", None)
                process.terminate()
                process.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _print_figures(console, figures, f"{repeats} build run(s), {queries} searches")


def _print_figures(console: Console, figures: list[Figure], what: str) -> bool:
    table = Table(title=f"vectorstore bench (medians; {os.cpu_count()} cores; {what})")
    for column in ("figure", "median", "target", "ratio", "ok"):
        table.add_column(column)
    for f in figures:
        table.add_row(
            f.name,
            f"{f.value:.2f} {f.unit}",
            f"< {f.target:g} {f.unit}",
            f"{f.ratio:.2f}",
            "yes" if f.passed else "NO",
        )
    console.print(table)
    return all(f.passed for f in figures)
