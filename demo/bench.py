"""``python -m demo.bench``: time the demo as users meet it, against its targets.

Conventions:

- Everything runs on this machine against a real ``python -m demo`` child process on a free
  localhost port, with the real agent (offline brain unless the environment says
  otherwise) and the configured catalog, which must exist (build it with ``make run``).
- Figures are medians over ``--repeats`` runs, in seconds; each is printed with its target
  and the ratio figure/target (below 1 meets the target).
- Cold start: process launch until the page and its API answer. Text turn: ``/chat`` via
  ``gradio_client`` from submit to the first streamed tool step, and to the final answer,
  each turn in a fresh session (the first turn after start is reported on its own).
  Load: ``--sessions`` clients at once, two turns each, every turn must end in an answer.
- ``--abuse`` measures instead whether one client can slow the others: ``--sessions``
  clients (20 by default here) hold three-turn conversations, once alone and once while
  one more client keeps sending 1 MB messages; every conversation turn must end in an
  answer, every abusive turn in its refusal sentence, and the p95 turn time with the
  abuser is printed as a ratio to the p95 without (target: at most 2).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

PROMPTS = (
    "Recommend modal jazz like Kind of Blue by Miles Davis.",
    "Dreamy warm electronic music like Boards of Canada?",
    "Heavy but melodic metal with clean vocals.",
)
_START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Turn:
    first_step_s: float | None
    answer_s: float
    ok: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Launch ``python -m demo``; return it and the seconds until its API answered."""
    env = os.environ | {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    # The bench's conversations are kept in a throwaway folder, not among real users' ones.
    env.setdefault("DEMO_DATA_DIR", tempfile.mkdtemp(prefix="demo-bench-"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    while time.perf_counter() - started < _START_TIMEOUT_S:
        if process.poll() is not None:
            raise SystemExit(f"the demo exited during start-up:\n{process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2):
                return process, time.perf_counter() - started
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the demo was not ready within {_START_TIMEOUT_S:.0f} s")


def stop_app(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def timed_turn(url: str, text: str) -> Turn:
    """One ``/chat`` turn in a fresh session, timed from submit."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    started = time.perf_counter()
    job = client.submit({"text": text, "files": []}, api_name="/chat")
    first_step = None
    last: Any = None
    for output in job:
        last = output
        if first_step is None and any(m.get("metadata") for m in output[0] or []):
            first_step = time.perf_counter() - started
    answer = time.perf_counter() - started
    last = job.outputs()[-1] if job.outputs() else last
    turn = last[-1] if last and isinstance(last[-1], dict) else {}
    return Turn(first_step, answer, bool(turn.get("ok") and turn.get("recommendations")))


def conversation(url: str, index: int) -> list[Turn]:
    return [timed_turn(url, PROMPTS[(index + k) % len(PROMPTS)]) for k in range(2)]


def session_turns(url: str, index: int, turns: int) -> list[Turn]:
    """``turns`` consecutive turns of one client (one session), each timed."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    timed = []
    for k in range(turns):
        started = time.perf_counter()
        outputs = client.predict(
            {"text": PROMPTS[(index + k) % len(PROMPTS)], "files": []}, api_name="/chat"
        )
        turn = outputs[-1] if isinstance(outputs[-1], dict) else {}
        ok = bool(turn.get("ok") and turn.get("recommendations"))
        timed.append(Turn(None, time.perf_counter() - started, ok))
    return timed


def abuse(url: str, stop: threading.Event, counts: dict[str, int]) -> None:
    """Send 1 MB messages from one client until ``stop``; count refusals and anything else."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    message = "a" * 1_000_000
    while not stop.is_set():
        try:
            turn = client.predict({"text": message, "files": []}, api_name="/chat")[-1]
            refused = isinstance(turn, dict) and not turn["ok"] and "characters" in turn["reply"]
            counts["refused" if refused else "other"] += 1
        except Exception:  # a dropped or failed request is what the bench looks for
            counts["error"] += 1


def load_with_and_without_abuser(url: str, sessions: int, turns: int) -> None:
    """Print both runs' p95 turn times and their ratio; exit 1 on any failed turn."""

    def run(with_abuser: bool) -> tuple[list[Turn], dict[str, int]]:
        stop, counts = threading.Event(), {"refused": 0, "other": 0, "error": 0}
        abuser = threading.Thread(target=abuse, args=(url, stop, counts), daemon=True)
        if with_abuser:
            abuser.start()
            time.sleep(1.0)  # the abuser is already sending when the sessions start
        with ThreadPoolExecutor(sessions) as pool:
            done = pool.map(lambda i: session_turns(url, i, turns), range(sessions))
            timed = [t for conversation_turns in done for t in conversation_turns]
        stop.set()
        if with_abuser:
            abuser.join(timeout=120)
        return timed, counts

    alone, _ = run(False)
    abused, counts = run(True)
    p95_alone, p95_abused = _p95([t.answer_s for t in alone]), _p95([t.answer_s for t in abused])
    errors = sum(not t.ok for t in [*alone, *abused]) + counts["other"] + counts["error"]
    print(f"{sessions} sessions x {turns} turns, with one client sending 1 MB messages")
    print(row(f"p95 turn without the abuser (n={len(alone)})", p95_alone, None))
    print(row(f"p95 turn with the abuser (n={len(abused)})", p95_abused, None))
    print(f"ratio with/without: {p95_abused / p95_alone:.2f} (target at most 2)")
    print(
        f"abusive 1 MB turns: {counts['refused']} refused in one sentence, "
        f"{counts['other']} answered otherwise, {counts['error']} failed"
    )
    print(f"errors: {errors}")
    if errors:
        raise SystemExit(1)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def row(name: str, value: float, target: float | None) -> str:
    if target is None:
        return f"{name:<34} {value:8.3f} s"
    return f"{name:<34} {value:8.3f} s   target < {target:g} s   ratio {value / target:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="cold starts to time")
    parser.add_argument("--turns", type=int, default=10, help="text turns to time")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent sessions")
    parser.add_argument(
        "--abuse", action="store_true", help="load with and without a client sending 1 MB"
    )
    args = parser.parse_args(argv)
    args.sessions = args.sessions or (20 if args.abuse else 10)

    from demo.readiness import catalog_path, catalog_problem

    problem = catalog_problem(catalog_path())  # checked once, outside every timing
    if problem:
        raise SystemExit(f"{problem} (the bench needs a catalog: run `make run` once)")

    if args.abuse:
        port = free_port()
        process, _ = start_app(port)
        try:
            session_turns(f"http://127.0.0.1:{port}/", 0, 1)  # warm: not part of the figures
            load_with_and_without_abuser(f"http://127.0.0.1:{port}/", args.sessions, 3)
        finally:
            stop_app(process)
        return

    starts, process = [], None
    for _ in range(args.repeats):
        if process is not None:
            stop_app(process)
        port = free_port()
        process, seconds = start_app(port)
        starts.append(seconds)
    assert process is not None
    url = f"http://127.0.0.1:{port}/"
    try:
        first = timed_turn(url, PROMPTS[0])
        turns = [timed_turn(url, PROMPTS[i % len(PROMPTS)]) for i in range(args.turns)]
        load_started = time.perf_counter()
        with ThreadPoolExecutor(args.sessions) as pool:
            loaded = [
                t for c in pool.map(lambda i: conversation(url, i), range(args.sessions)) for t in c
            ]
        load_wall = time.perf_counter() - load_started
    finally:
        stop_app(process)

    steps = [t.first_step_s for t in turns if t.first_step_s is not None]
    failures = [t for t in [first, *turns, *loaded] if not t.ok]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"demo bench (medians; {os.cpu_count()} CPUs, load average {load}; brain from env)")
    print(row(f"cold start to ready (n={len(starts)})", statistics.median(starts), 30.0))
    print(row("first turn after start: full answer", first.answer_s, None))
    if steps:
        print(row(f"text turn: first step (n={len(steps)})", statistics.median(steps), 1.0))
    else:
        print("text turn: first step               no tool step was streamed")
    answers = [t.answer_s for t in turns]
    print(row(f"text turn: full answer (n={len(answers)})", statistics.median(answers), 3.0))
    load_answers = [t.answer_s for t in loaded]
    print(
        row(
            f"{args.sessions} sessions at once: turn (n={len(loaded)})",
            statistics.median(load_answers),
            None,
        )
    )
    print(row(f"{args.sessions} sessions at once: wall", load_wall, None))
    print(f"turns without an answer with recommendations: {len(failures)}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
