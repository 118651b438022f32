"""``python -m vectorstore bench --scale 10000,100000``: the catalog at a music library's size.

Conventions
-----------
- For each size, a seeded synthetic library (:mod:`vectorstore.synthetic`) is written as a
  JSONL track file and built as a user builds one: the whole ``python -m vectorstore build
  --data tracks.jsonl`` command in a fresh process, into a fresh store; build throughput is
  cards / wall seconds of that command. The MusiCRS thread records are then written beside
  the cards (untimed), so the engine runs over the big catalog.
- The search process is a fresh ``python -m vectorstore.scale_bench probe`` process: it
  opens the catalog (open time, wall), then times warm searches and warm name lookups of
  :func:`vectorstore.synthetic.bench_queries` (after :data:`vectorstore.bench.WARMUP` calls).
  Its ``ru_maxrss`` is the peak RSS. The engine is timed in a second fresh process, with
  the MusiCRS requests and names of :func:`vectorstore.bench._engine_p50`.
- Latencies are p50 and p95 over the timed calls, in milliseconds; disk size is the store
  folder (the server's data folder for the server path) in bytes.
- Each size (up to ``server_up_to``) is built again into a ``chroma run`` started by the
  bench on loopback, and probed the same way (the client's card index goes in the size's
  folder, beside the server's data folder). With ``--serve-build`` the server instead
  serves the embedded build's folder as it is (its card index copied beside the client):
  both paths are measured from one build, and the server path has no build figures
  (shown as "-", neither judged nor fitted).
- ``--work DIR`` keeps each size's track file and stores in ``DIR/scale-<tracks>`` with
  the build's figures (``build.json``, written when the build command finished); a later
  run with the same ``--work`` probes that store again and reports those figures instead
  of building again. This is how the 1M point is taken from a prebuilt store.
- Sizes not run (``extrapolate``) get each figure from a straight line (fixed cost plus a
  cost per track) through the measured sizes (see :func:`extrapolated`), marked as
  extrapolated everywhere it is shown. ``--replot`` redoes the table, the extrapolation
  and the plot from a finished run's ``scale.json``.
- ``python -m vectorstore.scale_bench split --tracks N --path DIR`` builds the synthetic
  library of N tracks into DIR in this process with a wall-clock timer around each step of
  the build (:func:`build_split`) and prints where the time went, and the CPU seconds of the
  build process and of its worker processes (render and embedding).
- ``python -m vectorstore.scale_bench hnsw --tracks N --path DIR`` compares Chroma's HNSW
  settings on the card vectors of N synthetic tracks (:func:`hnsw_tradeoff`): upsert CPU
  per record, recall@20 against exact search and time per query.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vectorstore.bench import (
    WARMUP,
    _bench_queries,
    _free_port,
    start_chroma_server,
    timed_process,
)


@dataclass(frozen=True)
class Target:
    """A figure's target: ``value`` must be below it (or at least it, when ``at_least``)."""

    figure: str
    label: str
    unit: str
    limit: float
    at_least: bool = False

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value < self.limit


TARGETS = (
    Target("build_cards_per_s", "build throughput", "cards/s", 2 * 264, at_least=True),
    Target("build_rss_gb", "peak RSS, build process", "GB", math.inf),
    Target("open_s", "open time", "s", 5.0),
    Target("peak_rss_gb", "peak RSS, search process", "GB", 1.5),
    Target("search_p50_ms", "search p50", "ms", 100.0),
    Target("search_p95_ms", "search p95", "ms", math.inf),
    Target("lookup_p50_ms", "lookup p50", "ms", 50.0),
    Target("lookup_p95_ms", "lookup p95", "ms", math.inf),
    Target("engine_p50_ms", "engine p50", "ms", 100.0),
    Target("engine_p95_ms", "engine p95", "ms", math.inf),
    Target("disk_gb", "disk size", "GB", math.inf),
)


@dataclass(frozen=True)
class ScalePoint:
    """Every figure of one library size on one path (embedded or server)."""

    tracks: int
    path: str  # "embedded" or "server"
    cards: int
    build_s: float
    build_cards_per_s: float
    build_rss_gb: float
    open_s: float
    peak_rss_gb: float
    search_p50_ms: float
    search_p95_ms: float
    lookup_p50_ms: float
    lookup_p95_ms: float
    engine_p50_ms: float
    engine_p95_ms: float
    disk_gb: float
    extrapolated: bool = False


def _percentiles(timings: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 of ``timings`` (seconds) in milliseconds."""
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def _latencies(
    name: str, call: Callable[[str, int], object], texts: Sequence[str]
) -> dict[str, float]:
    """``<name>_p50_ms`` and ``<name>_p95_ms`` of ``call(text, 10)`` over ``texts``, the
    first :data:`WARMUP` calls untimed."""
    timings = []
    for number, text in enumerate(texts):
        began = time.perf_counter()
        call(text, 10)
        if number >= WARMUP:
            timings.append(time.perf_counter() - began)
    p50, p95 = _percentiles(timings)
    return {f"{name}_p50_ms": p50, f"{name}_p95_ms": p95}


def _disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _probe_search(path: str, tracks: int, queries: int) -> dict[str, float]:
    """Open time, and search and lookup latencies, in this process (the search process)."""
    from vectorstore.store import open_catalog
    from vectorstore.synthetic import bench_queries

    asked = bench_queries(queries + WARMUP, tracks)
    started = time.perf_counter()
    catalog = open_catalog(path)
    opened = time.perf_counter() - started
    figures: dict[str, float] = {"open_s": opened, "cards": float(len(catalog))}
    figures |= _latencies("search", catalog.search, asked.searches)
    return figures | _latencies("lookup", catalog.lookup, asked.lookups)


def _probe_engine(path: str, data: str | None, queries: int) -> dict[str, float]:
    """Engine recommendation latencies over the catalog at ``path``, in this process."""
    from vectorstore.engine import RecommendRequest, open_engine

    engine = open_engine(path)
    timings = []
    for number, query in enumerate(_bench_queries(data, queries)):
        request = (
            RecommendRequest(text=query) if number % 2 == 0 else RecommendRequest(seeds=(query,))
        )
        began = time.perf_counter()
        engine.recommend(request)
        if number >= WARMUP:
            timings.append(time.perf_counter() - began)
    p50, p95 = _percentiles(timings)
    return {"engine_p50_ms": p50, "engine_p95_ms": p95}


def _write_threads(path: str, data: str | None) -> None:
    from vectorstore.engine import thread_records
    from vectorstore.musicrs import load_conversations
    from vectorstore.store import build_threads

    build_threads(thread_records(load_conversations(data)), path)


@dataclass(frozen=True)
class BuildFigures:
    """Wall seconds and peak RSS (GB) of one timed build command; NaN when the store was
    not built by this path (a server serving the embedded build's folder)."""

    seconds: float
    rss_gb: float


NOT_BUILT = BuildFigures(math.nan, math.nan)


def _build_once(
    tracks: int, folder: Path, store: Path, env: dict[str, str], record: Path | None
) -> BuildFigures:
    """Build the synthetic library of ``tracks`` into ``store`` with the timed build
    command, unless ``record`` says an earlier run finished that very build (then its
    figures are read back: a 1M-track store is built once and probed again). A store left
    without a record was interrupted, and is built afresh: a resumed build would time only
    its remainder. ``record`` None: always build, record nothing."""
    from vectorstore.synthetic import write_tracks

    if record is not None and record.is_file():
        return BuildFigures(**json.loads(record.read_text()))
    shutil.rmtree(store, ignore_errors=True)
    track_file = write_tracks(folder / "tracks.jsonl", tracks)
    seconds, rss, _ = timed_process(
        ["build", "--data", str(track_file), "--path", str(store), "--quiet"], env, "vectorstore"
    )
    built = BuildFigures(seconds, rss / 2**30)
    if record is not None:
        record.write_text(json.dumps(asdict(built)) + "\n")
    return built


def _probe_point(
    tracks: int,
    store: Path,
    data: str | None,
    queries: int,
    env: dict[str, str],
    label: str,
    disk: Path,
    built: BuildFigures,
) -> ScalePoint:
    """Write the thread records beside the cards (untimed), then time the search process
    and the engine process over the catalog at ``store`` (a local folder, or the folder of
    the client of the server ``env`` names)."""
    data_args = ["--data", data] if data else []
    timed_process(["threads", "--path", str(store), *data_args], env, __name__)
    _, rss, out = timed_process(
        ["probe", "--path", str(store), "--tracks", str(tracks), "--queries", str(queries)],
        env,
        __name__,
    )
    searched = json.loads(out)
    _, _, out = timed_process(
        ["engine", "--path", str(store), "--queries", str(queries), *data_args], env, __name__
    )
    cards = int(searched.pop("cards"))
    return ScalePoint(
        tracks=tracks,
        path=label,
        cards=cards,
        build_s=built.seconds,
        build_cards_per_s=cards / built.seconds,
        build_rss_gb=built.rss_gb,
        peak_rss_gb=rss / 2**30,
        disk_gb=_disk_bytes(disk) / 2**30,
        **searched,
        **json.loads(out),
    )


def _server_point(
    tracks: int,
    folder: Path,
    data: str | None,
    queries: int,
    env: dict[str, str],
    serve_build: bool,
    console: Console,
) -> ScalePoint:
    """The server path: a ``chroma run`` on loopback, built through (into its own data
    folder), or, with ``serve_build``, serving the embedded build's folder as it is, its
    card index copied beside the client (the index that build wrote for those records)."""
    from vectorstore.store import card_index_path, store_location

    port = _free_port()
    data_folder = folder / "store" if serve_build else folder / "server"
    client = folder / "client"
    # Only the embedded build is kept for another run (the client's index is named after
    # the port, a new one each run): the server path starts afresh.
    shutil.rmtree(client, ignore_errors=True)
    if not serve_build:
        shutil.rmtree(data_folder, ignore_errors=True)
    client.mkdir()
    what = "serving the embedded build" if serve_build else "building through it"
    console.print(f"{tracks:,} tracks, Chroma server on 127.0.0.1:{port}, {what} …")
    process = start_chroma_server(data_folder, port)
    try:
        server_env = {**env, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port)}
        if serve_build:
            shutil.copyfile(
                card_index_path(store_location(data_folder, environ={})),
                card_index_path(store_location(client, environ=server_env)),
            )
            built = NOT_BUILT
        else:
            built = _build_once(tracks, folder, client, server_env, None)
        return _probe_point(tracks, client, data, queries, server_env, "server", data_folder, built)
    finally:
        process.terminate()
        process.wait(timeout=60)


def extrapolated(points: Sequence[ScalePoint], tracks: int) -> ScalePoint:
    """Every figure at ``tracks`` from a straight line (a fixed cost plus a cost per track)
    through ``points`` (one path, ≥ 2 sizes), least squares. A figure whose line falls with
    size (noise: the machine's load differs between runs) keeps its largest-size value.
    Build time, not throughput, is fitted (it is the quantity linear in the cards)."""
    largest = max(points, key=lambda p: p.tracks)
    cards = round(tracks * largest.cards / largest.tracks)

    def at(name: str, xs: Sequence[float], x: float) -> float:
        known = [(size, getattr(p, name)) for size, p in zip(xs, points, strict=True)]
        known = [(size, value) for size, value in known if not math.isnan(value)]
        if len({size for size, _ in known}) < 2:
            return math.nan  # not measured on this path (a served build)
        slope, intercept = _line(*zip(*known, strict=True))
        return getattr(largest, name) if slope < 0 else intercept + slope * x

    figures = {
        t.figure: at(t.figure, [p.tracks for p in points], tracks)
        for t in TARGETS
        if t.figure != "build_cards_per_s"
    }
    build_s = at("build_s", [p.cards for p in points], cards)
    return ScalePoint(
        tracks=tracks,
        path=points[0].path,
        cards=cards,
        build_s=build_s,
        build_cards_per_s=cards / build_s,
        extrapolated=True,
        **figures,
    )


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return slope, mean_y - slope * mean_x


def report_scale(points: Sequence[ScalePoint], extrapolate: Sequence[int], out: Path) -> bool:
    """Add the extrapolated sizes, write ``scale.json`` and ``scale.png`` into ``out``, print
    the table; True when every target is met at the largest size."""
    measured = [p for p in points if not p.extrapolated]
    points = list(measured)
    for label in ("embedded", "server"):
        on_path = [p for p in measured if p.path == label]
        if len({p.tracks for p in on_path}) >= 2:
            points += [extrapolated(on_path, tracks) for tracks in extrapolate]
    (out / "scale.json").write_text(json.dumps([asdict(p) for p in points], indent=1) + "\n")
    plot_scale(points, out / "scale.png")
    return _print_points(Console(), points)


def load_points(path: Path) -> list[ScalePoint]:
    """The measured points of a ``scale.json`` (to extrapolate or plot them again)."""
    rows = [row for row in json.loads(path.read_text()) if not row["extrapolated"]]
    # Runs from before the build's RSS was measured have none.
    return [ScalePoint(**{"build_rss_gb": math.nan, **row}) for row in rows]


def run_scale_bench(
    sizes: Sequence[int],
    data: str | None,
    *,
    queries: int = 40,
    server_up_to: int | None = None,
    serve_build: bool = False,
    extrapolate: Sequence[int] = (),
    out: Path = Path("runs/scale"),
    work: Path | None = None,
) -> bool:
    """Measure every size (embedded, then server for sizes up to ``server_up_to``; None:
    every size, 0: none), print the table, write ``scale.json`` and
    the log-log plot ``scale.png`` into ``out``; True when every target is met at the
    largest size (measured or extrapolated). ``work``: keep each size's library and stores
    in ``work/scale-<tracks>`` and reuse a finished build found there (default: a temporary
    folder, deleted). ``serve_build``: the server path serves the embedded build's folder
    instead of building again (no build figures on that path)."""
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH"}
    }
    points: list[ScalePoint] = []
    for tracks in sorted(sizes):
        folder = work / f"scale-{tracks}" if work else Path(tempfile.mkdtemp(prefix="scale-"))
        folder.mkdir(parents=True, exist_ok=True)
        try:
            console.print(f"{tracks:,} tracks, embedded store …")
            store = folder / "store"
            built = _build_once(tracks, folder, store, env, folder / "build.json")
            points.append(_probe_point(tracks, store, data, queries, env, "embedded", store, built))
            console.print(f"  {points[-1]}")
            if server_up_to is None or tracks <= server_up_to:
                points.append(
                    _server_point(tracks, folder, data, queries, env, serve_build, console)
                )
                console.print(f"  {points[-1]}")
        finally:
            if work is None:
                shutil.rmtree(folder, ignore_errors=True)
    return report_scale(points, extrapolate, out)


def plot_scale(points: Sequence[ScalePoint], path: Path) -> None:
    """One log-log panel per figure against library size; hollow markers are extrapolated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 6, figsize=(24, 7.5))
    axes.flat[-1].axis("off")
    for axis, target in zip(axes.flat, TARGETS, strict=False):
        for label, colour in (("embedded", "tab:blue"), ("server", "tab:orange")):
            for extra, fill in ((False, colour), (True, "none")):
                shown = [p for p in points if p.path == label and p.extrapolated == extra]
                if shown:
                    axis.loglog(
                        [p.tracks for p in shown],
                        [getattr(p, target.figure) for p in shown],
                        "o-" if not extra else "o",
                        color=colour,
                        markerfacecolor=fill,
                        label=label + (" (extrapolated)" if extra else ""),
                    )
        if math.isfinite(target.limit):
            axis.axhline(target.limit, color="grey", linestyle="--", linewidth=1)
        axis.set_title(f"{target.label} ({target.unit})")
        axis.set_xlabel("tracks")
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _print_points(console: Console, points: Sequence[ScalePoint]) -> bool:
    table = Table(title=f"vectorstore scale bench ({os.cpu_count()} cores; * = extrapolated)")
    table.add_column("figure")
    for p in points:
        table.add_column(f"{p.tracks:,} {p.path}{' *' if p.extrapolated else ''}")
    table.add_column("target")
    table.add_row("cards", *[f"{p.cards:,}" for p in points], "")
    for target in TARGETS:
        limit = "" if not math.isfinite(target.limit) else f"{target.limit:g}"
        table.add_row(
            f"{target.label} ({target.unit})",
            *[_shown(target, getattr(p, target.figure)) for p in points],
            (">= " if target.at_least else "< ") + limit if limit else "",
        )
    console.print(table)
    largest = max(p.tracks for p in points)
    return all(
        target.met(getattr(p, target.figure))
        for p in points
        if p.tracks == largest
        for target in TARGETS
        if not math.isnan(getattr(p, target.figure))
    )


def _shown(target: Target, value: float) -> str:
    """A figure as the table shows it: "NO" after a missed target, "-" when not measured
    on that path (a served build has no build figures)."""
    if math.isnan(value):
        return "-"
    return f"{value:.3g}" + ("" if target.met(value) else " NO")


def embedding_sweep(
    texts: int, batches: Sequence[int], threads: Sequence[int], repeats: int = 2
) -> Iterator[tuple[str, int, int, float]]:
    """(runtime, batch size, threads, texts per second: best of ``repeats``) for MiniLM on
    torch (sentence-transformers, the reference) and on ONNX Runtime (the build's), on the
    embedding texts of a synthetic library's first ``texts`` cards; yielded as measured."""
    from vectorstore.cards import cards_from_tracks
    from vectorstore.embeddings import load_minilm, load_minilm_onnx, prepare_model_environment

    prepare_model_environment()  # before torch loads, as when the catalog loads the model
    import torch

    from vectorstore.synthetic import synthetic_tracks

    cards = cards_from_tracks(list(synthetic_tracks(texts)))[:texts]
    sample = [card.embedding_text for card in cards]
    reference = load_minilm()
    for count in threads:
        torch.set_num_threads(count)
        onnx = load_minilm_onnx(threads=count)
        runtimes: dict[str, Callable[[int], object]] = {
            "torch": lambda batch: reference.encode(
                sample, batch_size=batch, normalize_embeddings=True
            ),
            "onnx": lambda batch, onnx=onnx: onnx.encode(sample, batch),  # type: ignore[misc]
        }
        for runtime, encode in runtimes.items():
            encode(64)  # the first call pays one-off costs
            for batch in batches:
                best = math.inf
                for _ in range(repeats):
                    began = time.perf_counter()
                    encode(batch)
                    best = min(best, time.perf_counter() - began)
                yield runtime, batch, count, len(sample) / best


#: (ef_construction, ef_search) pairs :func:`hnsw_tradeoff` compares: Chroma's defaults
#: first, then the cards' own (:data:`vectorstore.store.CARD_INDEX`) and what is between.
HNSW_SETTINGS = ((100, 100), (50, 100), (50, 200))
HNSW_HELD_OUT = 300  # card vectors kept out of the index as queries
HNSW_TOP = 20


def hnsw_tradeoff(path: Path, tracks: int) -> Iterator[dict[str, float]]:
    """For each of :data:`HNSW_SETTINGS`: the CPU and wall time of upserting the card
    vectors of a synthetic library of ``tracks`` tracks into a fresh embedded collection
    (in batches of Chroma's maximum, as the build writes them), then, in a fresh process
    (Chroma reads ``ef_search`` when it loads the index), recall@20 of
    :data:`HNSW_HELD_OUT` held-out card vectors against exact search, and the time per
    query. Yielded as measured."""
    import chromadb
    import numpy as np

    from vectorstore.cards import cards_from_tracks
    from vectorstore.embeddings import MiniLMEmbeddingFunction
    from vectorstore.synthetic import synthetic_tracks

    path.mkdir(parents=True, exist_ok=True)
    texts = [card.embedding_text for card in cards_from_tracks(synthetic_tracks(tracks))]
    batches = [texts[i : i + 1024] for i in range(0, len(texts), 1024)]
    vectors = np.concatenate(list(MiniLMEmbeddingFunction().encode_ahead(batches)))
    base, queries = vectors[:-HNSW_HELD_OUT], vectors[-HNSW_HELD_OUT:]
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :HNSW_TOP]
    np.save(path / "queries.npy", queries)
    np.save(path / "exact.npy", exact)
    built: set[int] = set()
    for construction, search in HNSW_SETTINGS:
        store = path / f"hnsw-{construction}"
        client = chromadb.PersistentClient(str(store))
        figures: dict[str, float] = {"ef_construction": construction, "ef_search": search}
        if construction not in built:
            if "cards" in [c.name for c in client.list_collections()]:
                client.delete_collection("cards")  # a run before in the same folder
            collection = client.create_collection(
                "cards",
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_construction": construction}},
            )
            step, cpu, wall = client.get_max_batch_size(), time.process_time(), time.perf_counter()
            for start in range(0, len(base), step):
                chunk = base[start : start + step]
                ids = [f"{i:08d}" for i in range(start, start + len(chunk))]
                collection.upsert(ids=ids, embeddings=chunk, metadatas=[{"k": 1}] * len(chunk))
            figures["upsert_cpu_ms"] = 1000 * (time.process_time() - cpu) / len(base)
            figures["upserts_per_s"] = len(base) / (time.perf_counter() - wall)
            built.add(construction)
        client.get_collection("cards").modify(configuration={"hnsw": {"ef_search": search}})
        _, _, out = timed_process(
            ["hnsw-probe", "--path", str(store)], dict(os.environ), "vectorstore.scale_bench"
        )
        yield figures | json.loads(out)


def _probe_hnsw(store: Path) -> dict[str, float]:
    """Recall@20 and ms per query of the held-out vectors in a fresh process (see
    :func:`hnsw_tradeoff`)."""
    import chromadb
    import numpy as np

    queries, exact = np.load(store.parent / "queries.npy"), np.load(store.parent / "exact.npy")
    collection = chromadb.PersistentClient(str(store)).get_collection("cards")
    collection.query(query_embeddings=queries[:WARMUP], n_results=HNSW_TOP)  # loads the index
    began = time.perf_counter()
    found = [
        collection.query(query_embeddings=query[None], n_results=HNSW_TOP)["ids"][0]
        for query in queries
    ]
    per_query = 1000 * (time.perf_counter() - began) / len(queries)
    shared = [
        len({int(i) for i in ids} & set(best.tolist()))
        for ids, best in zip(found, exact, strict=True)
    ]
    return {"recall_at_20": sum(shared) / (HNSW_TOP * len(queries)), "query_ms": per_query}


@dataclass(frozen=True)
class IndexPoint:
    """The card index alone (no embedding, no Chroma) at one library size."""

    tracks: int
    cards: int
    write_s: float
    write_rss_gb: float
    open_s: float
    peak_rss_gb: float
    lexical_p50_ms: float
    lexical_p95_ms: float
    lookup_p50_ms: float
    lookup_p95_ms: float
    disk_gb: float


def _write_index_of(path: Path, tracks: int) -> None:
    """The card index of the synthetic library of ``tracks`` tracks, as the build writes it:
    the track file streamed (:mod:`vectorstore.track_stream`) into the index writer."""
    from vectorstore.card_index import CardIndexWriter
    from vectorstore.synthetic import write_tracks
    from vectorstore.track_stream import TrackFileCards

    track_file = write_tracks(path.with_suffix(".jsonl"), tracks)
    with TrackFileCards(track_file, path.parent) as source, CardIndexWriter(path) as writer:
        for chunk in source.chunks():
            writer.add(chunk)
        writer.finish("bench")
    track_file.unlink()


def _probe_index(path: Path, tracks: int, queries: int) -> dict[str, float]:
    """Open time, BM25 ranking (plus the ten best cards read) and lookup latencies."""
    from vectorstore.card_index import CardIndex
    from vectorstore.search import checked_query
    from vectorstore.store import index_lookup, lexical_ranks
    from vectorstore.synthetic import bench_queries

    asked = bench_queries(queries + WARMUP, tracks)
    started = time.perf_counter()
    index = CardIndex(path)
    figures: dict[str, float] = {"open_s": time.perf_counter() - started, "cards": len(index)}

    def lexical(text: str, k: int) -> None:
        ranks = lexical_ranks(
            index, checked_query(text), max(4 * k, 50), index.mask(None, None, None)
        )
        index.cards(sorted(ranks, key=ranks.__getitem__)[:k])

    figures |= _latencies("lexical", lexical, asked.searches)
    return figures | _latencies(
        "lookup", lambda text, k: index_lookup(index, text, k), asked.lookups
    )


def build_split(path: Path, tracks: int) -> list[tuple[str, float, int]]:
    """(step, wall seconds, calls) of one build of the synthetic library of ``tracks`` tracks
    into ``path`` (a fresh store), then ("whole build", ...), ("build process CPU", ...) and
    ("worker processes CPU", ...) (the render and embedding workers). Steps nest: the first
    read of the cards stages the track file, inside the catalog hash's pass, and the wait
    for the render workers is inside the staging."""
    import resource

    import chromadb.api.models.Collection as chroma_collection

    from vectorstore import card_index, store, track_stream, workers
    from vectorstore.synthetic import write_tracks

    steps: dict[str, list[float]] = {}

    def timed(owner: object, name: str, step: str) -> None:
        function = getattr(owner, name)
        steps[step] = [0.0, 0]

        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                steps[step][0] += time.perf_counter() - started
                steps[step][1] += 1

        stack.enter_context(_patched(owner, name, wrapper))

    track_file = write_tracks(path.with_suffix(".jsonl"), tracks)
    with contextlib.ExitStack() as stack:
        stream = track_stream.TrackFileCards
        timed(stream, "_staged", "staging: track file read, cards rendered")
        timed(store, "_catalog_hash", "pass 1: catalog hash (with the staging)")
        timed(store, "_stored_metadata", "pass 2: stored metadata read")
        timed(store, "_metadata", "pass 2: record metadata")
        timed(chroma_collection.Collection, "upsert", "pass 2: Chroma upsert")
        timed(workers.WorkerProcesses, "receive", "waiting for the worker processes")
        timed(card_index.CardIndexWriter, "add", "pass 2: card index writes")
        timed(card_index.CardIndexWriter, "finish", "card index finish")
        started = time.perf_counter()
        with stream(track_file, path) as cards:
            store.build_catalog(cards, path, progress=False)
        whole = time.perf_counter() - started
    track_file.unlink()
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return [
        *((step, seconds, calls) for step, (seconds, calls) in steps.items()),
        ("whole build", whole, 1),
        ("build process CPU", own.ru_utime + own.ru_stime, 1),
        ("worker processes CPU", children.ru_utime + children.ru_stime, 1),
    ]


@contextlib.contextmanager
def _patched(owner: object, name: str, value: object) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def run_index_bench(sizes: Sequence[int], queries: int, out: Path) -> None:
    """The card index alone at each size: write it (fresh process), then probe it (another);
    print a table and write ``index.json`` into ``out``."""
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    points = []
    for tracks in sorted(sizes):
        work = Path(tempfile.mkdtemp(prefix=f"index-{tracks}-"))
        try:
            path = work / "cards.sqlite3"
            console.print(f"{tracks:,} tracks, card index only …")
            write_s, write_rss, _ = timed_process(
                ["index", "--path", str(path), "--tracks", str(tracks)], os.environ.copy(), __name__
            )
            _, rss, found = timed_process(
                [
                    "index-probe",
                    "--path",
                    str(path),
                    "--tracks",
                    str(tracks),
                    "--queries",
                    str(queries),
                ],
                os.environ.copy(),
                __name__,
            )
            figures = json.loads(found)
            points.append(
                IndexPoint(
                    tracks=tracks,
                    cards=int(figures.pop("cards")),
                    write_s=write_s,
                    write_rss_gb=write_rss / 2**30,
                    peak_rss_gb=rss / 2**30,
                    disk_gb=path.stat().st_size / 2**30,
                    **figures,
                )
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    (out / "index.json").write_text(json.dumps([asdict(p) for p in points], indent=1) + "\n")
    table = Table(title="card index alone (cards, BM25, filters, lookup; no embedding, no Chroma)")
    table.add_column("figure")
    for point in points:
        table.add_column(f"{point.tracks:,} tracks")
    for field in dataclasses.fields(IndexPoint)[1:]:
        table.add_row(field.name, *[f"{getattr(point, field.name):.4g}" for point in points])
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    """The bench's child processes (``probe``: the search process, ``engine``, ``threads``),
    ``sweep``: MiniLM throughput by batch size and thread count, and ``split``: where a
    build's time goes."""
    parser = argparse.ArgumentParser(prog="python -m vectorstore.scale_bench")
    parser.add_argument(
        "what",
        choices=[
            "probe", "engine", "threads", "sweep", "index", "index-probe", "split", "hnsw",
            "hnsw-probe",
        ],
    )  # fmt: skip
    parser.add_argument("--path")
    parser.add_argument("--data")
    parser.add_argument("--tracks", type=int, default=0)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args(argv)
    if args.what == "sweep":
        for runtime, batch, count, rate in embedding_sweep(
            args.tracks or 2000, (32, 64, 256), (2, 1)
        ):
            print(
                f"{runtime:<5}  batch {batch:>4}  threads {count}  {rate:8.0f} texts/s", flush=True
            )
        return
    if args.what == "split":
        split = build_split(Path(args.path), args.tracks or 30_000)
        whole = next(seconds for step, seconds, _ in split if step == "whole build")
        for step, seconds, calls in split:
            print(f"{seconds:8.1f} s  {100 * seconds / whole:5.1f} %  {calls:6d}  {step}")
        return
    if args.what == "hnsw":
        for row in hnsw_tradeoff(Path(args.path), args.tracks or 70_000):
            upsert = (
                f"upsert {row['upsert_cpu_ms']:.2f} ms CPU/record, {row['upserts_per_s']:6.0f}/s"
                if "upsert_cpu_ms" in row
                else "(the same index)"
            )
            print(
                f"ef_construction {row['ef_construction']:4.0f}  ef_search {row['ef_search']:4.0f}"
                f"  {upsert}  recall@20 {row['recall_at_20']:.3f}  {row['query_ms']:.2f} ms/query",
                flush=True,
            )
        return
    if args.what == "hnsw-probe":
        print(json.dumps(_probe_hnsw(Path(args.path))))
        return
    if args.what == "threads":
        _write_threads(args.path, args.data)
        return
    if args.what == "index":
        _write_index_of(Path(args.path), args.tracks)
        return
    if args.what == "index-probe":
        print(json.dumps(_probe_index(Path(args.path), args.tracks, args.queries)))
        return
    figures = (
        _probe_search(args.path, args.tracks, args.queries)
        if args.what == "probe"
        else _probe_engine(args.path, args.data, args.queries)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
