"""``python -m evals``: run systems over MusiCRS, compare runs, time the harness.

    python -m evals run --system lexical --mode query_only --out runs/lexical
    python -m evals run --task recommend --system engine --split dev
    python -m evals compare runs/random runs/lexical
    python -m evals tune --system lexical --param k1=0.5,1.2,2 --param b=0,0.75,1
    python -m evals systems
    python -m evals bench
    python -m evals headroom --split dev

Every failure a user can cause ends in one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evals.systems import MODES, SystemChoiceError, system_class, system_names
from vectorstore.musicrs import SPLITS, DatasetError, resolve_data_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="rank every conversation with a system and score it")
    run.add_argument(
        "--task",
        default="rank",
        choices=("rank", "recommend"),
        help="rank: order T's candidate pool (the paper); recommend: 20 entities from the "
        "other threads' evidence (systems: engine, neighbours, popularity, search)",
    )
    run.add_argument("--system", required=True, help=f"one of: {', '.join(system_names())}")
    run.add_argument("--mode", default="query_only", help=f"one of: {', '.join(MODES)}")
    run.add_argument(
        "--data",
        help="musicrs.jsonl or the HF id rohan2810/MusiCRS "
        "(default: $MUSICRS_DATA, then ../shared/musicrs/musicrs.jsonl)",
    )
    run.add_argument("--out", type=Path, help="output folder (default: runs/SYSTEM-MODE-SPLIT)")
    run.add_argument("--seed", type=int, default=42, help="shuffling and tie-breaking seed")
    run.add_argument("--split", default="all", choices=SPLITS, help="test = sha256(name) %% 5 == 0")
    run.add_argument("--limit", type=int, help="only the first N conversations of the split")
    run.add_argument("--audio-dir", type=Path, help="clips in the paper's layout DIR/<name>/*.wav")
    run.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="system-specific option, repeatable (e.g. model=gpt-4o-mini)",
    )
    run.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="conversations ranked at once (thread-safe systems, e.g. llm-direct)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar and no table")

    compare = commands.add_parser("compare", help="paired bootstrap comparison of finished runs")
    compare.add_argument(
        "runs", nargs="+", type=Path, help="run folders; the first is the reference"
    )
    compare.add_argument("--resamples", type=int, default=10_000)

    tune = commands.add_parser("tune", help="grid-search a system's settings on the dev split")
    tune.add_argument("--system", required=True)
    tune.add_argument("--mode", default="query_only")
    tune.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2,...")
    tune.add_argument("--data", help="as for run")
    tune.add_argument("--seed", type=int, default=42)

    commands.add_parser("systems", help="list the registered ranking systems")

    room = commands.add_parser(
        "headroom", help="where the evidence for the recommend task's gold is (an analysis)"
    )
    room.add_argument("--data", help="as for run")
    room.add_argument("--split", choices=SPLITS, default="dev")

    bench = commands.add_parser("bench", help="time whole runs of the model-free systems")
    bench.add_argument("--data", help="as for run")
    bench.add_argument("--repeats", type=int, default=5)
    return parser.parse_args(argv)


def parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemChoiceError(f"--option {pair!r} should look like KEY=VALUE.")
        options[key] = value
    return options


def command_run(args: argparse.Namespace) -> None:
    from evals.report import results_table
    from evals.runner import RunSpec, run

    if args.task == "recommend":
        command_recommend(args)
        return
    spec = RunSpec(args.system, args.mode, args.seed, args.split, args.data or "")
    out = args.out or Path("runs") / f"{args.system}-{args.mode}-{args.split}"
    result = run(
        spec,
        out,
        limit=args.limit,
        audio_dir=args.audio_dir,
        progress=not args.quiet,
        options=parse_options(args.option),
        concurrency=args.concurrency,
    )
    if not args.quiet:
        print(results_table(spec, result.metrics))
        missing = result.metrics["run"]["without_audio"]
        if missing:
            print(
                f"\n{len(missing)} conversations had no audio: {', '.join(missing[:10])}"
                + (" ..." if len(missing) > 10 else "")
            )
        print(
            f"\nWrote {out}/metrics.json, predictions.jsonl and report.md "
            f"in {result.elapsed_s:.1f} s."
        )


def command_recommend(args: argparse.Namespace) -> None:
    from evals.recommend import results_table, run_recommend
    from evals.runner import RunSpec

    spec = RunSpec(args.system, "query_only", args.seed, args.split, args.data or "", "recommend")
    out = args.out or Path("runs") / f"recommend-{args.system}-{args.split}"
    result = run_recommend(spec, out, limit=args.limit, progress=not args.quiet)
    if not args.quiet:
        print(results_table(spec, result.metrics))
        print(f"\nWrote {out}/metrics.json, predictions.jsonl and report.md", end="")
        print(f" in {result.elapsed_s:.1f} s.")


def command_compare(args: argparse.Namespace) -> None:
    from evals.compare import compare_runs, comparison_table, load_run

    runs = [load_run(directory) for directory in args.runs]
    shared, differences = compare_runs(runs, resamples=args.resamples)
    print(comparison_table(runs, shared, differences))


def command_tune(args: argparse.Namespace) -> None:
    from evals.tune import tune

    results = tune(args.system, args.mode, args.param, args.data, args.seed)
    print("dev split | setting | Recall@20 (%) | nDCG@20 (%)")
    for setting, recall, ndcg in results:
        print(f"  {setting} | {100 * recall:.2f} | {100 * ndcg:.2f}")
    best = max(results, key=lambda row: row[2])
    print(f"best on dev by nDCG@20: {best[0]}")


def command_headroom(args: argparse.Namespace) -> None:
    from evals.headroom import headroom, headroom_table
    from vectorstore.embeddings import MiniLMEmbeddingFunction
    from vectorstore.musicrs import load_conversations, select_split
    from vectorstore.views import NameVectors

    conversations = load_conversations(resolve_data_path(args.data))
    embedder = MiniLMEmbeddingFunction()
    vectors = NameVectors(Path(".cache") / "engine-vectors" / embedder.name(), embedder)
    requests = vectors.matrix([c.query for c in conversations])
    found = headroom(conversations, select_split(conversations, args.split), requests)
    print(headroom_table(found, args.split))


def command_systems() -> None:
    from evals.recommend import SYSTEMS

    for name in system_names():
        cls = system_class(name)
        print(f"{name:<12} {', '.join(sorted(cls.modes)):<36} {cls.description}")
    print("\n--task recommend:")
    for name, recommender in sorted(SYSTEMS.items()):
        print(f"{name:<12} {recommender.description}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from evals.runner import RunError

    try:
        if args.command == "run":
            command_run(args)
        elif args.command == "compare":
            command_compare(args)
        elif args.command == "tune":
            command_tune(args)
        elif args.command == "systems":
            command_systems()
        elif args.command == "headroom":
            command_headroom(args)
        else:
            from evals.bench import bench, print_bench

            print_bench(bench(resolve_data_path(args.data), args.repeats), args.repeats)
    except (DatasetError, SystemChoiceError, RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
