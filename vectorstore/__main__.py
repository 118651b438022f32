"""Command line: ``python -m vectorstore build|search|recommend|bench``.

Conventions: every failure the user can fix prints one ``error:`` sentence on stderr and
exits with status 2; results go to stdout (``--json`` for machines). ``build --audio-dir``
and ``search --audio`` are the sound index's commands: the audio models live in ``tools``,
which this layer may not import, so the whole command line is handed to
``python -m tools.sound`` (same options, same output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from vectorstore.errors import CatalogError

# The command the catalog's messages suggest (vectorstore.store words them so).
BUILD_COMMAND = "python -m vectorstore build"
SOUND_MODULE = "tools.sound"
#: The options that make ``build`` / ``search`` a sound-index command.
SOUND_OPTIONS = {"build": "--audio-dir", "search": "--audio"}


def sound_index_command(argv: list[str]) -> bool:
    """True when ``argv`` asks for the sound index (``build --audio-dir``, ``search --audio``)."""
    option = SOUND_OPTIONS.get(argv[0]) if argv else None
    return option is not None and any(a == option or a.startswith(f"{option}=") for a in argv)


def _cards(data: str | None, folder: Path, progress: bool) -> tuple[Any, list | None]:
    """Cards from a user's track file (.csv, or .jsonl without MusiCRS fields: streamed, see
    vectorstore.track_stream, staged in ``folder``, with progress bars if ``progress``) or
    MusiCRS (a list), and the MusiCRS threads (None for a track file)."""
    from vectorstore.cards import cards_from_threads
    from vectorstore.track_stream import TrackFileCards

    if data and Path(data).suffix.lower() == ".csv":
        return TrackFileCards(data, folder, progress), None
    if data and Path(data).is_file():
        with Path(data).open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        try:
            is_musicrs = "final_candidates" in json.loads(first)
        except (json.JSONDecodeError, TypeError):
            is_musicrs = False  # the track reader names the bad line
        if not is_musicrs:
            return TrackFileCards(data, folder, progress), None
    from vectorstore.musicrs import DatasetError, load_conversations

    try:
        threads = load_conversations(data)
        return cards_from_threads(threads), threads
    except DatasetError as error:
        raise CatalogError(str(error)) from None


def build(args: argparse.Namespace) -> None:
    from vectorstore.engine import thread_records
    from vectorstore.store import build_catalog, build_threads, store_location

    location = store_location(args.path, args.collection)
    cards, threads = _cards(args.data, location.path, progress=not args.quiet)
    with contextlib.closing(cards) if threads is None else contextlib.nullcontext():
        report = build_catalog(
            cards, args.path, collection=args.collection, progress=not args.quiet
        )
    print(
        f"catalog ready: {report.embedded} embedded, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.deleted} deleted in {report.seconds:.1f} s"
    )
    if threads is not None:
        made = build_threads(thread_records(threads), args.path, collection=args.collection)
        print(
            f"thread records ready: {made.embedded} embedded, {made.updated} updated, "
            f"{made.unchanged} unchanged, {made.deleted} deleted in {made.seconds:.1f} s"
        )


def search(args: argparse.Namespace) -> None:
    from vectorstore.search import query_note
    from vectorstore.store import open_catalog

    catalog = open_catalog(args.path, collection=args.collection)
    hits = (
        catalog.lookup(args.query, args.k)
        if args.lookup
        else catalog.search(
            args.query, args.k, kind=args.kind, community=args.community, artist=args.artist
        )
    )
    note = query_note(args.query)
    if args.json:
        rows = [
            {
                "score": h.score,
                "dense_rank": h.dense_rank,
                "lexical_rank": h.lexical_rank,
                "card": h.card.model_dump(),
            }
            for h in hits
        ]
        print(json.dumps({"note": note, "hits": rows}, ensure_ascii=False, indent=1))
        return
    if note:
        print(note)
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:>3}. {hit.score:.4f}  {hit.card.text}")
    if not hits:
        print("No matches.")


def recommend(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from vectorstore.engine import RecommendRequest, open_engine

    engine = open_engine(args.path, collection=args.collection)
    answer = engine.recommend(
        RecommendRequest(
            text=args.text,
            seeds=tuple(args.seed),
            community=args.community,
            exclude_artists=tuple(args.exclude_artist),
            exclude_entities=tuple(args.exclude),
            kind=args.kind,
            more_by_seed_artists=args.more_by_seed_artists,
            k=args.k,
        )
    )
    if args.json:
        rows = [
            {
                "score": item.score,
                "card": item.card.model_dump(exclude={"provenance", "related"}),
                "evidence": [asdict(e) for e in item.evidence],
            }
            for item in answer.items
        ]
        seeds = [card.name for card in answer.seeds]
        print(
            json.dumps(
                {"seeds": seeds, "unresolved": list(answer.unresolved), "items": rows},
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    if answer.seeds:
        print("seeds: " + ", ".join(card.name for card in answer.seeds))
    if answer.unresolved:
        print("not in the catalog: " + ", ".join(answer.unresolved))
    for rank, item in enumerate(answer.items, start=1):
        by = f" by {item.card.artists[0]}" if item.card.artists else ""
        print(f"{rank:>3}. {item.card.name} ({item.card.kind}{by})")
        best = item.evidence[0]
        votes = f", {best.votes} votes" if best.votes is not None else ""
        print(
            f"     {best.source}: {best.detail}{votes}"
            + (f" <{best.thread_url}>" if best.thread_url else "")
        )
    if not answer.items:
        print("No recommendations.")


def bench(args: argparse.Namespace) -> None:
    from vectorstore.bench import run_bench

    if args.scale:
        scale_bench(args)
        return
    if not run_bench(
        args.data,
        repeats=args.repeats,
        queries=args.queries,
        server=not args.no_server,
        engine_only=args.engine_only,
    ):
        sys.exit(1)


def scale_bench(args: argparse.Namespace) -> None:
    """``bench --scale``: synthetic libraries of the given sizes (vectorstore.scale_bench)."""
    from vectorstore.scale_bench import load_points, report_scale, run_index_bench, run_scale_bench
    from vectorstore.synthetic import sizes

    try:
        measured, extra = sizes(args.scale), sizes(args.extrapolate) if args.extrapolate else ()
    except ValueError as error:
        raise CatalogError(f"{error}; write sizes like 10000,100000.") from None
    if args.index_only:
        run_index_bench(measured, args.queries, Path(args.out))
        return
    if args.replot:
        if not report_scale(load_points(Path(args.out) / "scale.json"), extra, Path(args.out)):
            sys.exit(1)
        return
    if not run_scale_bench(
        measured,
        args.data,
        queries=args.queries,
        server_up_to=0 if args.no_server else args.server_up_to,
        serve_build=args.serve_build,
        extrapolate=extra,
        out=Path(args.out),
        work=Path(args.work) if args.work else None,
    ):
        sys.exit(1)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m vectorstore", description=__doc__.splitlines()[0]
    )
    commands = main.add_subparsers(dest="command", required=True)

    def store_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--path", help="store directory (default $CATALOG_PATH or .cache/catalog)"
        )
        command.add_argument("--collection", help="collection name (default musicrs_entities)")

    sound_help = "with {} the sound index's command: see python -m tools.sound {} --help"
    make = commands.add_parser(
        "build",
        help="build or update the catalog (resumable)",
        epilog=sound_help.format("--audio-dir DIR", "build"),
    )
    make.add_argument(
        "--data", help="MusiCRS JSONL (default $MUSICRS_DATA) or your tracks .csv/.jsonl"
    )
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    store_options(make)
    make.set_defaults(run=build)

    find = commands.add_parser(
        "search",
        help="hybrid search (or --lookup a name)",
        epilog=sound_help.format("--audio FILE", "search"),
    )
    find.add_argument("query")
    find.add_argument("--k", type=int, default=10)
    find.add_argument("--kind", choices=["song", "album", "artist"])
    find.add_argument("--community")
    find.add_argument("--artist")
    find.add_argument("--lookup", action="store_true", help="fuzzy name lookup instead of search")
    find.add_argument("--json", action="store_true")
    store_options(find)
    find.set_defaults(run=search)

    advise = commands.add_parser("recommend", help="recommendations with evidence (engine)")
    advise.add_argument("text", nargs="?", default="", help="what you want, in words")
    advise.add_argument("--seed", action="append", default=[], help="a song/album/artist you like")
    advise.add_argument("--exclude-artist", action="append", default=[], metavar="NAME")
    advise.add_argument("--exclude", action="append", default=[], metavar="NAME")
    advise.add_argument("--kind", choices=["song", "album", "artist"])
    advise.add_argument("--community", help="only what was recommended in this community")
    advise.add_argument(
        "--more-by-seed-artists", action="store_true", help="keep the seeds' artists' works"
    )
    advise.add_argument("--k", type=int, default=10)
    advise.add_argument("--json", action="store_true")
    store_options(advise)
    advise.set_defaults(run=recommend)

    measure = commands.add_parser("bench", help="build, rebuild, search latency and memory")
    measure.add_argument("--data", help="MusiCRS JSONL (default $MUSICRS_DATA)")
    measure.add_argument("--repeats", type=int, default=1, help="runs of each build (median)")
    measure.add_argument("--queries", type=int, default=60, help="timed searches (median)")
    measure.add_argument("--no-server", action="store_true", help="skip the Chroma server figures")
    measure.add_argument(
        "--engine-only", metavar="PATH", help="only the engine's latency over the catalog at PATH"
    )
    measure.add_argument(
        "--scale", metavar="SIZES", help="synthetic libraries of these track counts (10000,100000)"
    )
    measure.add_argument(
        "--extrapolate", metavar="SIZES", help="with --scale: sizes fitted from the measured ones"
    )
    measure.add_argument(
        "--replot",
        action="store_true",
        help="with --scale: table, extrapolation and plot again from OUT/scale.json",
    )
    measure.add_argument(
        "--index-only",
        action="store_true",
        help="with --scale: only the on-disk card index (no embedding, no Chroma)",
    )
    measure.add_argument(
        "--server-up-to",
        type=int,
        metavar="TRACKS",
        help="with --scale: the Chroma server only for sizes up to this (default: all)",
    )
    measure.add_argument(
        "--serve-build",
        action="store_true",
        help="with --scale: the server path serves the embedded build's folder (no second build)",
    )
    measure.add_argument(
        "--work",
        metavar="DIR",
        help="with --scale: keep each size's library and store in DIR and reuse a finished "
        "build found there (default: a temporary folder)",
    )
    measure.add_argument(
        "--out", default="runs/scale", help="with --scale: folder for scale.json and scale.png"
    )
    measure.set_defaults(run=bench)
    return main


def with_store_options(message: str, args: argparse.Namespace) -> str:
    """``message`` with the build command it suggests completed by the user's own
    ``--path``/``--collection``, so that running it fixes the store the user asked about."""
    options = "".join(
        f" {flag} {shlex.quote(str(value))}"
        for flag, value in (
            ("--path", getattr(args, "path", None)),
            ("--collection", getattr(args, "collection", None)),
        )
        if value
    )
    return message.replace(f"`{BUILD_COMMAND}`", f"`{BUILD_COMMAND}{options}`")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if sound_index_command(argv):
        os.execv(sys.executable, [sys.executable, "-m", SOUND_MODULE, *argv])
    args = parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        print("error: --k must be at least 1.", file=sys.stderr)
        sys.exit(2)
    try:
        args.run(args)
    except CatalogError as error:
        print(f"error: {with_store_options(str(error), args)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
