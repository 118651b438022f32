"""The ``agent`` evals system is leak-free (docs/evaluation.md): editing thread T's comments, or
removing T's candidates from every other thread, cannot change T's ranking."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from evals.systems import RankedList, RankingRequest, RunContext, create_system

DIM = 384  # as MiniLM's, which ``hybrid`` uses for names and compares with catalog vectors


class HashEmbedder:
    """A small real embedder (hashed word counts, L2-normalised) with the catalog's API."""

    @staticmethod
    def name() -> str:
        return "test-hash"

    def get_config(self) -> dict[str, int]:
        return {"dim": DIM}

    def encode(self, texts):
        rows = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in str(text).lower().split():
                row[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def thread(name: str, sub: str, query: str, recs: list[str], pool: list[str]) -> dict:
    return {
        "name": name,
        "source_subreddit": sub,
        "query": query,
        "final_candidates": pool,
        "limited_gt": recs[:2],
        "comments": [
            {
                "name": f"c{i}",
                "score": 1,
                "entities": {"artists": [r.split(" - ")[-1]], "albums": [], "songs": [r]},
            }
            for i, r in enumerate(recs)
        ],
    }


def dataset(target_comments: list[str], strip_pool: bool) -> list[dict]:
    pool = [
        "Dopesmoker - Sleep",
        "Funeralopolis - Electric Wizard",
        "Shake It Off - Taylor Swift",
        "Roygbiv - Boards of Canada",
        "Holocene - Bon Iver",
    ]
    others = [
        thread(
            f"t3_other{i}",
            "metal",
            f"heavy doom riffs {i}",
            ["Dopesmoker - Sleep", "Dragonaut - Sleep", "Paranoid - Black Sabbath"],
            ["Dragonaut - Sleep", "Holocene - Bon Iver"],
        )
        for i in range(6)
    ]
    if strip_pool:
        for other in others:
            for comment in other["comments"]:
                songs = comment["entities"]["songs"]
                comment["entities"]["songs"] = [s for s in songs if s not in pool]
    target = thread("t3_target", "metal", "slow heavy doom like Sleep", target_comments, pool)
    return [target, *others]


def rank_with(tmp_path: Path, name: str, threads: list[dict], monkeypatch) -> RankedList:
    import vectorstore.views as views

    monkeypatch.setattr(views, "embedding_function_from_env", HashEmbedder)
    data = tmp_path / f"{name}.jsonl"
    data.write_text("\n".join(json.dumps(t) for t in threads) + "\n")
    context = RunContext(data_path=str(data), cache_dir=tmp_path / f"cache-{name}")
    system = create_system("agent", "query_only", context)
    target = threads[0]
    request = RankingRequest(
        "t3_target", "metal", "query_only", tuple(target["final_candidates"]), query=target["query"]
    )
    return system.rank(request)


@pytest.mark.slow
def test_ranking_ignores_the_threads_own_comments_and_pool_membership(tmp_path, monkeypatch):
    pytest.importorskip("vectorstore.views")
    original = rank_with(tmp_path, "original", dataset(["Dopesmoker - Sleep"], False), monkeypatch)
    edited = rank_with(tmp_path, "edited", dataset(["Holocene - Bon Iver"], True), monkeypatch)
    for answer in (original, edited):
        assert answer.notes["tools"]["rank_candidates"] == 1
        assert "tool_errors" not in answer.notes and "error" not in answer.notes
    assert sorted(original.ranking) == sorted(dataset([], False)[0]["final_candidates"])
    assert original.ranking == edited.ranking
