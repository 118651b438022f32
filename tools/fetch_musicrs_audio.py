"""Bulk download of MusiCRS ``valid_urls`` into the paper's layout ``OUT/<name>/*.wav``.

Usage: ``python -m tools.fetch_musicrs_audio --data PATH --out DIR [--seconds S] [--limit N]``

Conventions
-----------
- One file per URL: ``OUT/<conversation name>/<video id>_<start ms>.wav`` (mono 22050 Hz),
  starting at the link's ``?t=``; ``--seconds`` caps each clip (default: whole video within
  the duration limit).
- Resumable: a file that exists is done (files appear only by an atomic rename, so an
  interrupted run never leaves a half-written file that looks complete). Failures are
  listed in ``OUT/failures.jsonl`` (rewritten each run) and summarised at the end.
- Fails fast and clearly without network: one pre-flight connection, and the run stops
  after a few consecutive "no network" failures instead of grinding through every URL.
- Links are parsed leniently (scraped Reddit links often carry junk after the video id);
  the download itself uses the canonical link of the salvaged id.
- Exit codes: 0 all done, 1 some URLs failed, 2 nothing could start (bad data, no network),
  130 interrupted.

Reads the JSONL itself (only ``name`` and ``valid_urls``) so that it does not import
``evals``; must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tools import youtube
from tools.audio import AudioInputError

# After this many "no network" failures in a row the network is gone: stop, don't grind on.
MAX_CONSECUTIVE_NETWORK_FAILURES = 3
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class DataError(ValueError):
    """The dataset file is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class Job:
    """One URL of one conversation and the file it should become."""

    name: str
    url: str  # as written in the dataset, for the failure report
    ref: youtube.YouTubeRef
    target: Path


def read_jobs(data: Path, out: Path) -> tuple[list[Job], list[dict]]:
    """(download jobs, invalid links as failure records) from a MusiCRS JSONL file."""
    if not data.is_file():
        raise DataError(f"The dataset file {data} does not exist; pass --data with musicrs.jsonl.")
    jobs: list[Job] = []
    invalid: list[dict] = []
    with data.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                name, urls = record["name"], record.get("valid_urls") or []
                if not isinstance(name, str) or not isinstance(urls, list):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(
                    f"Line {number} of {data} is not a MusiCRS record with 'name' and "
                    "'valid_urls'; fix or remove that line."
                ) from exc
            folder = out / (_SAFE_NAME.sub("_", name) or f"line{number}")
            for url in dict.fromkeys(u for u in urls if isinstance(u, str)):
                try:
                    ref = youtube.parse_youtube_url(url, lenient=True)
                except AudioInputError as exc:
                    invalid.append({"name": name, "url": url, "error": str(exc)})
                    continue
                start_ms = round((ref.start_s or 0.0) * 1000)
                jobs.append(Job(name, url, ref, folder / f"{ref.video_id}_{start_ms}.wav"))
    return jobs, invalid


def _place(cached: Path, target: Path) -> None:
    """Copy the cached file into the layout atomically (hard link when on one filesystem)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        try:
            os.link(cached, partial)
        except OSError:
            shutil.copyfile(cached, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def is_network_failure(message: str) -> bool:
    return message.startswith("Could not reach YouTube")


def run(
    jobs: list[Job],
    *,
    seconds: float | None,
    cache_root: Path,
    fetch: Callable[..., Path] | None = None,
    progress: bool = True,
) -> tuple[int, list[dict], str | None]:
    """Download every missing job; returns (files done, failures, reason the run stopped).

    ``fetch`` defaults to :func:`tools.youtube.fetch_youtube_audio` (looked up at call time).
    """
    fetch = fetch or youtube.fetch_youtube_audio
    done, failures, consecutive = 0, [], 0
    todo = [job for job in jobs if not job.target.is_file()]
    done += len(jobs) - len(todo)
    bar = tqdm(todo, desc="downloading", unit="clip", disable=not progress)
    for job in bar:
        try:
            cached = fetch(job.ref.url, job.ref.start_s, seconds, cache_root=cache_root)
            _place(cached, job.target)
        except AudioInputError as exc:
            failures.append({"name": job.name, "url": job.url, "error": str(exc)})
            consecutive = consecutive + 1 if is_network_failure(str(exc)) else 0
            if consecutive >= MAX_CONSECUTIVE_NETWORK_FAILURES:
                bar.close()
                return done, failures, str(exc)
            continue
        consecutive = 0
        done += 1
    return done, failures, None


def write_failures(out: Path, failures: list[dict]) -> Path:
    path = out / "failures.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".jsonl.partial")
    partial.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures))
    os.replace(partial, path)
    return path


def summarise(done: int, total: int, failures: list[dict]) -> list[str]:
    """Human lines: counts, then the distinct failure reasons with how often each occurred."""
    lines = [f"{done} of {total} clips present, {len(failures)} failed."]
    for reason, count in Counter(f["error"] for f in failures).most_common(8):
        lines.append(f"  {count:4d} × {reason}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fetch_musicrs_audio",
        description="Download the audio of MusiCRS valid_urls into OUT/<name>/*.wav.",
    )
    parser.add_argument("--data", type=Path, required=True, help="musicrs.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seconds", type=float, default=None, help="cap each clip (seconds)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N URLs")
    parser.add_argument("--cache", type=Path, default=None, help="download cache folder")
    args = parser.parse_args(argv)
    try:
        jobs, invalid = read_jobs(args.data, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jobs = jobs[: args.limit] if args.limit is not None else jobs
    missing = [job for job in jobs if not job.target.is_file()]
    print(f"{len(jobs)} clips from {args.data.name}: {len(jobs) - len(missing)} already present.")
    if missing:
        try:
            youtube.check_network()
        except AudioInputError:
            print(
                "error: YouTube cannot be reached (no network connection), so nothing was "
                "downloaded; rerun this command when online.",
                file=sys.stderr,
            )
            return 2
    try:
        done, failures, stopped = run(
            jobs, seconds=args.seconds, cache_root=args.cache or args.out / ".cache"
        )
    except KeyboardInterrupt:
        print("Interrupted; finished files are kept, rerun to resume.", file=sys.stderr)
        return 130
    failures = invalid + failures
    log = write_failures(args.out, failures)
    for line in summarise(done, len(jobs), failures):
        print(line)
    if stopped:
        print(f"error: stopped early: {stopped}", file=sys.stderr)
        return 2
    if failures:
        print(f"Failures are listed in {log}.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
