"""Shared fixtures: the real MusiCRS file from ../shared (skipped visibly where absent), a real
Chroma server started for the session, and small synthetic datasets written on the fly."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vectorstore.bench import _free_port, start_chroma_server

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared/musicrs/musicrs.jsonl"


@pytest.fixture(scope="session")
def musicrs_path() -> Path:
    path = Path(os.environ.get("MUSICRS_DATA", SHARED_DATA))
    if not path.is_file():
        pytest.skip(f"MusiCRS data not found at {path} (set MUSICRS_DATA)")
    return path


@dataclass(frozen=True)
class ChromaServer:
    """Where the session's ``chroma run`` listens."""

    host: str
    port: int


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real ``chroma run`` on a free port with its own data folder, stopped after the session
    (tests create uniquely named collections, so sharing one server is safe)."""
    port = _free_port()
    server = start_chroma_server(tmp_path_factory.mktemp("chroma-server"), port)
    try:
        yield ChromaServer("127.0.0.1", port)
    finally:
        server.kill()
        server.wait(timeout=30)


def make_record(name: str, subreddit: str = "jazz", **fields: object) -> dict:
    """A valid MusiCRS line with small defaults; override any field."""
    record = {
        "name": name,
        "source_subreddit": subreddit,
        "query": "Looking for modal jazz like Kind of Blue by Miles Davis",
        "combined_text": "",
        "valid_urls": [],
        "submission_entities": [],
        "comments": [
            {
                "name": "t1_a",
                "score": 3,
                "entities": {"artists": ["Miles Davis"], "albums": [], "songs": ["So What"]},
            }
        ],
        "ground_truth": ["So What"],
        "limited_gt": ["So What"],
        "final_candidates": ["So What", "Giant Steps", "Blue in Green", "Paranoid"],
    }
    record.update(fields)
    return record


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    """Write records (dicts as JSON, strings verbatim) one per line."""
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path
