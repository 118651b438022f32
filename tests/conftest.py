"""Shared fixtures: the real MusiCRS file from ../shared (skipped visibly where absent) and
small synthetic datasets written on the fly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared/musicrs/musicrs.jsonl"


@pytest.fixture(scope="session")
def musicrs_path() -> Path:
    path = Path(os.environ.get("MUSICRS_DATA", SHARED_DATA))
    if not path.is_file():
        pytest.skip(f"MusiCRS data not found at {path} (set MUSICRS_DATA)")
    return path


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
