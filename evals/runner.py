"""Replay a ranking system over MusiCRS and write predictions, metrics and a report.

Output directory layout (``--out DIR``):

- ``run.json``: what was run (system, mode, seed, split, data). A directory belongs to one
  run; a different run there is refused instead of mixed in.
- ``predictions.jsonl``: one line per conversation, appended and flushed as each finishes,
  so an interrupted run resumes where it stopped (a torn last line is dropped and redone).
- ``metrics.json`` and ``report.md`` (+ ``by_subreddit.png``): written atomically at the end,
  only when every selected conversation has a prediction.

Candidates reach the system in a seeded shuffled order. Its ranking is checked: unknown or
repeated names are dropped (``out_of_list``), candidates it left out are appended in a
seeded random order (``parse_misses``), so every candidate appears exactly once.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from evals.metrics import evaluate
from evals.systems import (
    AUDIO_MODES,
    TEXT_MODES,
    Mode,
    RankingRequest,
    RankingSystem,
    RunContext,
    create_system,
)
from evals.systems.baselines import seeded_rng
from vectorstore.musicrs import (
    Conversation,
    Split,
    load_conversations,
    resolve_data_path,
    select_split,
)

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".webm", ".opus")


class RunError(ValueError):
    """The run cannot start or continue as asked; the message says what to do."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that identifies a run; stored as ``run.json``."""

    system: str
    mode: Mode
    seed: int = 42
    split: Split = "all"
    data: str = ""
    task: str = "rank"  # "rank" (the paper's candidate ranking) or "recommend" (evals.recommend)

    def clashes_with(self, other: RunSpec) -> list[str]:
        """Fields that differ from ``other`` (the data path may move between machines)."""
        return [
            key
            for key in ("task", "system", "mode", "seed", "split")
            if getattr(self, key) != getattr(other, key)
        ]


@dataclass
class Prediction:
    """One line of ``predictions.jsonl``."""

    name: str
    source_subreddit: str
    ranking: list[str]
    gold: list[str]
    parse_misses: int = 0
    out_of_list: int = 0
    seconds: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


@dataclass
class RunResult:
    out: Path
    metrics: dict[str, dict]
    predictions: list[Prediction]
    elapsed_s: float


def shuffled_candidates(conversation: Conversation, seed: int) -> tuple[str, ...]:
    """The pool in the seeded order every system is shown."""
    pool = list(conversation.final_candidates)
    seeded_rng(seed, "shuffle:" + conversation.name).shuffle(pool)
    return tuple(pool)


def audio_files(audio_dir: Path | None, name: str) -> tuple[Path, ...]:
    """The clips of thread ``name`` in the paper's layout ``<audio_dir>/<name>/*.wav``."""
    if audio_dir is None or not (audio_dir / name).is_dir():
        return ()
    return tuple(
        sorted(p for p in (audio_dir / name).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    )


def build_request(conversation: Conversation, mode: Mode, context: RunContext) -> RankingRequest:
    """Only what ``mode`` allows: the query in text modes, the audio in audio modes."""
    return RankingRequest(
        name=conversation.name,
        subreddit=conversation.source_subreddit,
        mode=mode,
        candidates=shuffled_candidates(conversation, context.seed),
        query=conversation.query if mode in TEXT_MODES else None,
        audio_urls=conversation.valid_urls if mode in AUDIO_MODES else (),
        audio_paths=audio_files(context.audio_dir, conversation.name)
        if mode in AUDIO_MODES
        else (),
    )


def complete_ranking(
    ranking: Sequence[str], candidates: Sequence[str], seed: int, name: str
) -> tuple[list[str], int, int]:
    """Make ``ranking`` a permutation of ``candidates``.

    Returns ``(full_ranking, parse_misses, out_of_list)``: names not in the pool (or beyond
    their multiplicity in it) are dropped and counted as out-of-list; candidates missing
    from the ranking are appended in a seeded random order and counted as parse misses.
    """
    remaining = Counter(candidates)
    kept: list[str] = []
    out_of_list = 0
    for item in ranking:
        if remaining[item] > 0:
            remaining[item] -= 1
            kept.append(item)
        else:
            out_of_list += 1
    missing = []
    for candidate in candidates:
        if remaining[candidate] > 0:
            remaining[candidate] -= 1
            missing.append(candidate)
    seeded_rng(seed, "fill:" + name).shuffle(missing)
    return kept + missing, len(missing), out_of_list


def read_predictions(path: Path) -> list[Prediction]:
    """Read finished predictions; a torn last line (interrupted write) is dropped."""
    if not path.exists():
        return []
    predictions = []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        try:
            predictions.append(Prediction(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            if number == len(lines) and not line.endswith("\n"):
                break
            raise RunError(
                f"{path} line {number} is damaged; delete that line (or the file) and resume."
            ) from None
    return predictions


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so no reader ever sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def prepare_out_dir(out: Path, spec: RunSpec) -> list[Prediction]:
    """Create or reopen ``out`` for ``spec``; return the predictions already finished.

    An ``out`` that cannot be a folder (a file, a path through a file, no permission, a
    read-only or missing parent) is refused in one sentence before anything is written.
    """
    try:
        if out.exists() and not out.is_dir():
            raise RunError(f"--out {out} is a file, not a folder; choose a folder for the run.")
        return _reopen_out_dir(out, spec)
    except OSError as error:
        reason = (
            "part of that path is a file, not a folder"
            if error.errno == errno.ENOTDIR
            else (error.strerror or type(error).__name__).lower()
        )
        raise RunError(
            f"Cannot use --out {out} ({reason}); choose a folder you can write to."
        ) from None


def _reopen_out_dir(out: Path, spec: RunSpec) -> list[Prediction]:
    manifest = out / "run.json"
    if manifest.exists():
        try:
            previous = RunSpec(**json.loads(manifest.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError):
            raise RunError(f"{manifest} is damaged; choose another --out or delete it.") from None
        clashes = spec.clashes_with(previous)
        if clashes:
            theirs = ", ".join(f"{k}={getattr(previous, k)}" for k in clashes)
            raise RunError(
                f"{out} holds a run with {theirs}; choose another --out or delete that folder."
            )
    elif out.exists() and any(out.iterdir()):
        raise RunError(f"{out} is not empty and holds no run.json; choose an empty --out folder.")
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(manifest, json.dumps(asdict(spec), indent=2) + "\n")
    done = read_predictions(out / "predictions.jsonl")
    # Rewrite without a torn tail so appends start on a fresh line.
    write_atomically(out / "predictions.jsonl", "".join(json.dumps(asdict(p)) + "\n" for p in done))
    return done


def record_predictions(
    out: Path, predictions: Iterable[Prediction], done: dict[str, Prediction]
) -> None:
    """Append each prediction to ``out/predictions.jsonl`` as it arrives (flushed, so an
    interrupted run resumes after the last whole line) and to ``done``."""
    with (
        interrupt_says_resume(out),
        (out / "predictions.jsonl").open("a", encoding="utf-8") as sink,
    ):
        for prediction in predictions:
            sink.write(json.dumps(asdict(prediction)) + "\n")
            sink.flush()
            done[prediction.name] = prediction


def resume_state(
    data: str, spec: RunSpec, out: Path, limit: int | None
) -> tuple[list[Conversation], list[Conversation], dict[str, Prediction]]:
    """Every conversation of ``data``, the split's first ``limit`` ones, and the predictions
    already in ``out`` by name (the run resumes after them)."""
    conversations = load_conversations(data)
    selected = select_split(conversations, spec.split)[:limit]
    return conversations, selected, {p.name: p for p in prepare_out_dir(out, spec)}


@contextmanager
def interrupt_says_resume(out: Path) -> Iterator[None]:
    """Turn Ctrl-C / SIGTERM into a sentence that says how to resume."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt:
        raise RunError(
            f"Interrupted; finished conversations are saved in {out}/predictions.jsonl — "
            "run the same command again to resume."
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def rank_one(
    system: RankingSystem, conversation: Conversation, spec: RunSpec, context: RunContext
) -> Prediction:
    request = build_request(conversation, spec.mode, context)
    started = time.perf_counter()
    answer = system.rank(request)
    seconds = time.perf_counter() - started
    if spec.mode in AUDIO_MODES:
        answer.notes.setdefault("audio_missing", not request.audio_paths)
    ranking, misses, out_of_list = complete_ranking(
        answer.ranking, request.candidates, spec.seed, conversation.name
    )
    return Prediction(
        name=conversation.name,
        source_subreddit=conversation.source_subreddit,
        ranking=ranking,
        gold=list(conversation.limited_gt),
        parse_misses=misses,
        out_of_list=out_of_list,
        seconds=round(seconds, 4),
        usage=answer.usage,
        notes=answer.notes,
    )


def rank_all(
    system: RankingSystem,
    conversations: Sequence[Conversation],
    spec: RunSpec,
    context: RunContext,
    concurrency: int,
) -> Iterable[Prediction]:
    """Predictions as they finish; at most ``concurrency`` in flight, so an interrupt
    loses at most that many and never leaves a long queue running."""
    if concurrency == 1:
        for conversation in conversations:
            yield rank_one(system, conversation, spec, context)
        return
    pending = iter(conversations)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        running: set[Future[Prediction]] = set()
        try:
            while True:
                for conversation in pending:
                    running.add(pool.submit(rank_one, system, conversation, spec, context))
                    if len(running) >= concurrency:
                        break
                if not running:
                    return
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            for future in running:
                future.cancel()


def run(
    spec: RunSpec,
    out: Path,
    *,
    limit: int | None = None,
    audio_dir: Path | None = None,
    progress: bool = True,
    options: dict[str, str] | None = None,
    concurrency: int = 1,
) -> RunResult:
    """Rank every selected conversation (resuming), then score and report.

    With ``concurrency > 1`` (thread-safe systems only, e.g. remote LLMs) up to that many
    conversations are ranked at once; each is written as soon as it finishes.
    """
    started = time.perf_counter()
    data = resolve_data_path(spec.data or None)
    spec = RunSpec(spec.system, spec.mode, spec.seed, spec.split, data)
    if limit is not None and limit < 1:
        raise RunError(f"--limit must be a positive number, got {limit}.")
    if audio_dir is not None and not audio_dir.is_dir():
        raise RunError(f"--audio-dir {audio_dir} is not a folder.")
    context = RunContext(seed=spec.seed, data_path=data, audio_dir=audio_dir, options=options or {})
    system = create_system(spec.system, spec.mode, context)
    if concurrency < 1:
        raise RunError(f"--concurrency must be a positive number, got {concurrency}.")
    if concurrency > 1 and not system.thread_safe:
        raise RunError(
            f"System {spec.system!r} ranks one conversation at a time; drop --concurrency."
        )
    conversations, selected, done = resume_state(data, spec, out, limit)
    todo = [c for c in selected if c.name not in done]
    if todo:
        system.fit(conversations)
    ranked = rank_all(system, todo, spec, context, concurrency)
    record_predictions(
        out,
        tqdm(
            ranked,
            total=len(todo),
            desc=f"{spec.system} {spec.mode}",
            unit="conv",
            disable=not progress,
        ),
        done,
    )
    predictions = [done[c.name] for c in selected]
    # A system may skip a thread the paper's protocol does not score (e.g. CLAP's audio_only
    # without a clip); metrics then cover the scored threads, and num_samples says how many.
    scored = [p for p in predictions if not p.notes.get("skipped")]
    if not scored:
        raise RunError(f"{spec.system} skipped every conversation; nothing can be scored.")
    metrics = evaluate(
        [p.ranking for p in scored],
        [p.gold for p in scored],
        [p.source_subreddit for p in scored],
    )
    metrics["run"] = run_summary(spec, predictions, system)
    from evals.report import write_report  # matplotlib only when a report is written

    write_report(out, spec, metrics)
    write_atomically(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return RunResult(out, metrics, predictions, time.perf_counter() - started)


def run_summary(spec: RunSpec, predictions: Sequence[Prediction], system: RankingSystem) -> dict:
    """Run facts beside the metrics: parse misses, token usage, audio coverage, provenance."""
    usage: Counter[str] = Counter()
    for prediction in predictions:
        usage.update(prediction.usage)
    n = len(predictions)
    return {
        "system": spec.system,
        "mode": spec.mode,
        "seed": spec.seed,
        "split": spec.split,
        "uses_dataset": system.uses_dataset,
        "parse_miss_rate": sum(p.parse_misses > 0 for p in predictions) / n,
        "out_of_list_rate": sum(p.out_of_list > 0 for p in predictions) / n,
        "parse_failure_rate": sum(bool(p.notes.get("parse_failure")) for p in predictions) / n,
        "usage": dict(usage),
        "cost_usd": usage["cost_microusd"] / 1e6 if "cost_microusd" in usage else None,
        "without_audio": sorted(p.name for p in predictions if p.notes.get("audio_missing")),
        "skipped": sorted(p.name for p in predictions if p.notes.get("skipped")),
    }
