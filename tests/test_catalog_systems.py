"""The catalog-based ranking systems: ``minilm``, ``nbcrs`` and the leak-free ``hybrid``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.systems import RankingRequest, RunContext, create_system, system_class
from tests.test_catalog_leakfree import TARGET, dataset
from vectorstore.musicrs import load_conversations
from vectorstore.text import entity_key

pytestmark = pytest.mark.slow  # loads MiniLM


def write(records: list[dict], path: Path) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    return path


def rank_all(system_name: str, data: Path, cache: Path) -> dict[str, list[str]]:
    conversations = load_conversations(data)
    system = create_system(
        system_name, "query_only", RunContext(data_path=str(data), cache_dir=cache)
    )
    system.fit(conversations)
    return {
        c.name: system.rank(
            RankingRequest(c.name, c.source_subreddit, "query_only", c.final_candidates, c.query)
        ).ranking
        for c in conversations
    }


@pytest.mark.parametrize("name", ["minilm", "nbcrs", "hybrid"])
def test_every_candidate_is_ranked_exactly_once_and_runs_repeat(tmp_path, name):
    data = write(dataset(), tmp_path / "data.jsonl")
    first = rank_all(name, data, tmp_path / "cache")
    for conversation in load_conversations(data):
        assert sorted(first[conversation.name]) == sorted(conversation.final_candidates)
    assert rank_all(name, data, tmp_path / "cache") == first


def test_nbcrs_is_flagged_and_puts_the_neighbours_gold_first_never_its_own(tmp_path):
    assert system_class("nbcrs").uses_dataset and not system_class("hybrid").uses_dataset
    records = dataset()
    rankings = rank_all("nbcrs", write(records, tmp_path / "data.jsonl"), tmp_path / "cache")
    for record in records:
        others_gold = {
            g
            for r in records
            if r["name"] != record["name"] and r["source_subreddit"] == record["source_subreddit"]
            for g in r["limited_gt"]
        }
        # A name the pool repeats is ranked once where it first lands (the paper drops the
        # later copies; they go last here).
        ranking = list(dict.fromkeys(rankings[record["name"]]))
        leading = [c for c in ranking if c in others_gold]
        assert ranking[: len(leading)] == leading  # the neighbours' gold is a prefix
        own = f"Unique Gold {record['name'].removeprefix('t3_')}"
        assert ranking.index(own) >= len(leading)


def test_hybrid_ranking_of_a_thread_ignores_its_comments_gold_and_pool_membership(tmp_path):
    records = dataset()
    before = rank_all("hybrid", write(records, tmp_path / "a.jsonl"), tmp_path / "cache")[TARGET]
    edited = json.loads(json.dumps(records))
    target = next(r for r in edited if r["name"] == TARGET)
    pool = {entity_key(c) for c in target["final_candidates"]}
    target["comments"] = [
        {
            "name": "x",
            "score": 1.0,
            "entities": {"artists": ["Leak"], "albums": [], "songs": ["Leak Song"]},
        }
    ]
    target["limited_gt"] = ["Leak Song"]
    for record in edited:
        if record["name"] != TARGET:
            for comment in record["comments"]:
                for kind, names in comment["entities"].items():
                    comment["entities"][kind] = [n for n in names if entity_key(n) not in pool]
    after = rank_all("hybrid", write(edited, tmp_path / "b.jsonl"), tmp_path / "cache")[TARGET]
    assert after == before
