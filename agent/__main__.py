"""``python -m agent``: talk to the agent from a terminal, or time it.

    python -m agent ask "dreamy shoegaze like Slowdive" [--audio FILE_OR_URL] [--json]
    python -m agent chat
    python -m agent bench [--repeats 7]

Every failure a user can cause, and every turn that ends on a sentence instead of an answer
(refused input, an unusable clip, a failing model server), ends in one sentence on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.settings import SettingsError

if TYPE_CHECKING:
    from agent.turns import Recommendation


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="one turn, printed")
    ask.add_argument("text")
    ask.add_argument("--audio", help="a local audio file or a YouTube URL")
    ask.add_argument("--json", action="store_true", help="print the TurnResult as JSON")
    commands.add_parser("chat", help="an interactive session (/reset, /quit)")
    bench = commands.add_parser("bench", help="warm turn latency and peak memory")
    bench.add_argument("--repeats", type=int, default=7)
    return parser.parse_args(argv)


def command_ask(args: argparse.Namespace) -> int:
    """One turn: tool steps on stderr as they run, then the reply (or the result as JSON).

    A turn that ends on a sentence instead of an answer (``TurnResult.ok`` is False: refused
    input, a clip that cannot be used, a failing model server) exits with status 2, its
    sentence on stderr.
    """
    from agent import ToolFinished, ToolStarted, TurnResult, build_agent

    agent = build_agent()
    result = None
    for event in agent.stream_turn(f"cli-{uuid.uuid4().hex}", args.text, args.audio):
        if isinstance(event, ToolStarted) and not args.json:
            print(
                f"· {event.name}({json.dumps(event.args, ensure_ascii=False)[:120]})",
                file=sys.stderr,
            )
        elif isinstance(event, ToolFinished) and not args.json:
            status = "ok" if event.ok else "failed"
            print(f"  {status} in {event.duration_s:.2f} s: {event.summary}", file=sys.stderr)
        elif isinstance(event, TurnResult):
            result = event
    assert result is not None  # stream_turn always ends with a TurnResult
    if args.json:
        print(
            json.dumps(dataclasses.asdict(result), default=_jsonable, indent=2, ensure_ascii=False)
        )
    elif result.ok:
        print(result.reply)
        print(*card_lines(result.recommendations), sep="\n")
        print(f"[{result.brain}]")
    if not result.ok:
        print(f"error: {result.reply}", file=sys.stderr)
        return 2
    return 0


def card_lines(recommendations: Sequence[Recommendation]) -> list[str]:
    """The cards as the terminal shows them: numbered (as "the second one" counts them),
    with the reason and the thread to read."""
    lines = []
    for number, card in enumerate(recommendations, 1):
        by = f" by {card.artist}" if card.artist else ""
        kind = f" [{card.kind}]" if card.kind else ""
        lines.append(f"{number:>2}. {card.name}{by}{kind}: {card.why}")
        if card.thread_url:
            lines.append(f"    {card.thread_url}")
    return lines


def _jsonable(value: object) -> object:
    """JSON for what ``dataclasses.asdict`` leaves as objects (the pydantic audio description)."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)


def command_chat() -> None:
    from agent import TextDelta, ToolStarted, TurnResult, build_agent

    agent = build_agent()
    session = f"cli-{uuid.uuid4().hex}"
    print(
        f"Chatting with the {agent.brain}. Attach audio with '/audio PATH_OR_URL your text'; "
        "/reset forgets, /quit leaves."
    )
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line.strip() in ("/quit", "/exit"):
            return
        if line.strip() == "/reset":
            agent.reset(session)
            print("(forgotten)")
            continue
        audio = None
        if line.startswith("/audio "):
            _, audio, line = [*line.split(" ", 2), ""][:3]
        for event in agent.stream_turn(session, line, audio):
            if isinstance(event, ToolStarted):
                print(f"  · {event.name}", file=sys.stderr)
            elif isinstance(event, TextDelta):
                print(event.text, end="", flush=True)
            elif isinstance(event, TurnResult):
                print()
                print(*card_lines(event.recommendations), sep="\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "ask":
            return command_ask(args)
        elif args.command == "chat":
            command_chat()
        else:
            from agent.bench import bench, print_bench

            print_bench(bench(args.repeats))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
