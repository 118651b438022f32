"""Benchmark of the sound index on the rendered synthetic corpus (issue 12's figures).

Usage: ``python -m tools.sound_bench [--clips 200] [--seconds 30] [--queries 5] [--repeats 5]``

Conventions
-----------
- The corpus is :mod:`tools.synthetic_music`'s six styles, rendered once into its cache
  (``$TMPDIR/musicrs-synthetic-music-v<N>``); the index is built in a fresh temporary store with
  :func:`vectorstore.sound.build_sound_index`, as ``python -m tools.sound build`` does.
- Queries are held out: other seeds (other melodies, tempos and keys), never in the index.
  Precision@3 is the share of a query's three nearest indexed clips that have its style
  (chance is 1/6), for the index's vector and, from the same worker output, for both
  musicnn representations (penultimate layer, taggram statistics); "separation" is the mean
  cosine to same-style clips minus the mean to other styles (higher separates better).
- Speed figures are medians over ``--repeats`` warm runs: embedding one clip (decode, the
  worker's musicnn and DSP, the vector; wall clock, and the CPU seconds of this process,
  its ffmpeg children and the worker, which other jobs on a shared machine do not inflate),
  search by sound given the clip's vector (what the index adds to embedding), and build
  throughput (clips per second, embedding included). Peak RSS is the high-water mark of
  this process plus the tagger worker.
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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tools.bench import median_s, peak_rss_gb
from tools.sound import REPRESENTATIONS, HeardClip, MusicnnSoundEmbedder, sound_vector
from tools.synthetic_music import STYLES, RenderedPiece, corpus, render_corpus
from vectorstore.sound import (
    SoundBuildReport,
    SoundEmbedding,
    SoundIndex,
    build_sound_index,
    open_sound_index,
)

TARGETS = {"precision@3": 0.8, "embed_30s_s": 1.5, "search_p50_s": 0.1}
QUERY_SEEDS = 1000  # first seed of the held-out queries (the index uses 0, 1, ...)


class RecordingEmbedder:
    """The index's embedder, keeping each file's raw worker output for the comparison."""

    def __init__(self, inner: MusicnnSoundEmbedder) -> None:
        self.inner, self.name = inner, inner.name
        self.raw: dict[str, HeardClip] = {}

    def __call__(self, path: Path) -> SoundEmbedding:
        heard = self.inner.hear(path)
        self.raw[str(path)] = heard
        return self.inner.embedding(heard)


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process and its reaped children (ffmpeg), 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def embed_cpu_s(embedder: MusicnnSoundEmbedder, path: Path, repeats: int) -> float:
    """Median CPU seconds of one embedding, this process and the worker together: a figure
    that other jobs on the machine do not inflate, unlike the wall clock."""
    worker = embedder.tagger.pid or "self"
    spent = []
    for _ in range(repeats):
        before = cpu_seconds() + cpu_seconds(worker)
        embedder(path)
        spent.append(cpu_seconds() + cpu_seconds(worker) - before)
    return statistics.median(spent)


def precision_at_3(
    similarity: np.ndarray, query_styles: Sequence[str], styles: Sequence[str]
) -> float:
    hits = [
        np.mean([styles[j] == query_styles[i] for j in np.argsort(-row, kind="stable")[:3]])
        for i, row in enumerate(similarity)
    ]
    return float(np.mean(hits))


def separation(similarity: np.ndarray, query_styles: Sequence[str], styles: Sequence[str]) -> float:
    same = np.array([[q == s for s in styles] for q in query_styles])
    return float(similarity[same].mean() - similarity[~same].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sound_bench", description=__doc__)
    parser.add_argument("--clips", type=int, default=200, help="indexed clips (spread over styles)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of every clip")
    parser.add_argument("--queries", type=int, default=5, help="held-out queries per style")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per speed figure")
    args = parser.parse_args(argv)
    per_style = max(1, round(args.clips / len(STYLES)))
    started = time.perf_counter()
    indexed = render_corpus(corpus(per_style, seconds=args.seconds))
    queries = render_corpus(corpus(args.queries, seconds=args.seconds, first_seed=QUERY_SEEDS))
    took = time.perf_counter() - started
    print(
        f"corpus: {len(indexed)} indexed + {len(queries)} held-out {args.seconds:g} s clips of "
        f"{len(STYLES)} styles, rendered or reused in {took:.0f} s"
    )
    embedder = MusicnnSoundEmbedder()
    start = time.perf_counter()
    embedder(queries[0].path)  # starts the worker, compiles librosa's kernels
    print(f"start-up (worker, models, kernels): {time.perf_counter() - start:.1f} s")
    recording = RecordingEmbedder(embedder)
    with tempfile.TemporaryDirectory(prefix="musicrs-sound-bench-") as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        for rendered in indexed:
            (folder / rendered.path.name).symlink_to(rendered.path)
        report = build_sound_index(folder, recording, Path(tmp) / "store", progress=False)
        index = open_sound_index(Path(tmp) / "store")
        raw_queries = [embedder.hear(q.path) for q in queries]
        heard = [embedder.embedding(raw) for raw in raw_queries]
        raw = (raw_queries, [recording.raw[card.path] for card in index.cards])
        met = measure(args, index, heard, embedder, queries, indexed, raw, report)
    return 0 if met else 1


def measure(
    args: argparse.Namespace,
    index: SoundIndex,
    heard: list[SoundEmbedding],
    embedder: MusicnnSoundEmbedder,
    queries: list[RenderedPiece],
    indexed: list[RenderedPiece],
    raw: tuple[list[HeardClip], list[HeardClip]],
    report: SoundBuildReport,
) -> bool:
    """Print every figure; True when all targets are met."""
    style_of = {r.path.name: r.piece.style for r in indexed}
    index_styles = [style_of[Path(card.path).name] for card in index.cards]
    query_styles = [q.piece.style for q in queries]
    found = [index.search(h, 3) for h in heard]
    p3 = float(
        np.mean(
            [
                [style_of[Path(hit.card.path).name] == q for hit in hits]
                for hits, q in zip(found, query_styles, strict=True)
            ]
        )
    )
    print(
        f"\nsound-only precision@3 of same-style neighbours ({embedder.name}): {p3:.3f} "
        f"(target >= {TARGETS['precision@3']}, chance {1 / len(STYLES):.3f})"
    )
    raw_queries, raw_index = raw
    for representation in REPRESENTATIONS:
        a = np.stack([sound_vector(r, representation) for r in raw_queries])
        b = np.stack([sound_vector(r, representation) for r in raw_index])
        similarity = a @ b.T
        p = precision_at_3(similarity, query_styles, index_styles)
        gap = separation(similarity, query_styles, index_styles)
        print(f"  {representation:<11} precision@3 {p:.3f}   separation {gap:.3f}")
    embed_s = median_s(lambda: embedder(queries[0].path), args.repeats)
    embed_cpu = embed_cpu_s(embedder, queries[0].path, args.repeats)
    index.search(heard[0], 10)
    search_times = []
    for _ in range(args.repeats):
        for h in heard:
            t0 = time.perf_counter()
            index.search(h, 10)
            search_times.append(time.perf_counter() - t0)
    search_p50 = statistics.median(search_times)
    worker = embedder.tagger.pid
    rss = {"main": peak_rss_gb(), "tagger worker": peak_rss_gb(worker) if worker else 0.0}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    embed_target, search_target = TARGETS["embed_30s_s"], TARGETS["search_p50_s"]
    rows = [
        f"embed one {args.seconds:g} s clip  {embed_s:7.3f} s   target < {embed_target} s "
        f"(CPU time, both processes: {embed_cpu:.3f} s)",
        f"search by sound p50    {1000 * search_p50:7.2f} ms  target < {search_target * 1e3:.0f} ms"
        f" (given the clip's vector, k=10, {len(index)} clips; from a file add the embedding)",
        f"index {report.embedded} clips       {report.seconds:7.1f} s   "
        f"{report.embedded / report.seconds:.2f} clips/s (embedding included)",
        f"peak RSS               {sum(rss.values()):7.2f} GB  ("
        + ", ".join(f"{k} {v:.2f} GB" for k, v in rss.items())
        + ")",
    ]
    print(f"\nspeed (medians of {args.repeats} warm runs; load {load}):")
    print("\n".join(f"  {row}" for row in rows))
    return (
        p3 >= TARGETS["precision@3"]
        and embed_s < TARGETS["embed_30s_s"]
        and search_p50 < TARGETS["search_p50_s"]
    )


if __name__ == "__main__":
    sys.exit(main())
