"""The engine in benchmark replay is as candidate-blind as the view it comes from: editing
thread T, or deleting T's pool entities from the other threads, changes nothing it serves,
and it never serves a pool entity or cites a thread of T's fold."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.test_catalog_leakfree import TARGET, dataset, same_fold, threads, without_pool
from vectorstore.engine import RecommendRequest, Weights, engine_for_view
from vectorstore.testing import HashEmbeddingFunction
from vectorstore.text import entity_key
from vectorstore.views import FoldCatalogs

EVERY_SOURCE = Weights(
    similar_request=1.0, co_recommendation=1.0, graph_walk=0.5, popularity=0.5, search=0.5
)
REQUESTS = [
    RecommendRequest(text="music like Radiohead and Reckoner", k=15, prefer_community="popheads"),
    RecommendRequest(seeds=("Portishead", "Low"), k=10),
    RecommendRequest(text="dream pop like Slowdive", k=10, community="metal"),
    RecommendRequest(text="Björk", seeds=("Roads",), k=8, kind="song"),
]


def served(records: list[dict], tmp_path: Path) -> list:
    target = next(r for r in records if r["name"] == TARGET)
    catalogs = FoldCatalogs(threads(records), tmp_path, HashEmbeddingFunction())
    engine = engine_for_view(catalogs, TARGET, target["final_candidates"], EVERY_SOURCE)
    out = []
    for request in REQUESTS:
        answer = engine.recommend(request)
        out.append(
            [
                (
                    i.card.model_dump(),
                    round(i.score, 12),
                    [dataclasses.asdict(e) for e in i.evidence],
                )
                for i in answer.items
            ]
        )
        out.append([c.model_dump() for c in answer.seeds])
        out.append(list(answer.unresolved))
    out.append([dataclasses.asdict(s) for s in engine.similar_requests("Radiohead", 4)])
    return out


def test_editing_the_thread_changes_nothing_the_engine_serves(tmp_path):
    records = dataset()
    before = served(records, tmp_path / "a")
    assert any(before[: 3 * len(REQUESTS) : 3])
    edited = json.loads(json.dumps(records))
    target = next(r for r in edited if r["name"] == TARGET)
    target["comments"][0]["entities"]["songs"] = ["Leak Song", "Reckoner"]
    target["limited_gt"] = ["Leak Song"]
    target["query"] = "something else entirely"
    assert served(edited, tmp_path / "b") == before


def test_removing_the_pool_from_the_other_threads_changes_nothing_served(tmp_path):
    records = dataset()
    before = served(records, tmp_path / "a")
    scrubbed = without_pool(records)
    assert served(scrubbed, tmp_path / "b") == before


def test_no_pool_entity_and_no_thread_of_the_fold_is_ever_served(tmp_path):
    records = dataset()
    pool = {entity_key(c) for c in records[0]["final_candidates"]}
    answers = served(records, tmp_path)
    # A pool entity given as a seed is unknown, like a name the catalog never saw.
    assert answers[3 * 3 + 2] == ["Roads"]
    unresolved = slice(2, 3 * len(REQUESTS), 3)
    del answers[unresolved]
    text = json.dumps(answers, default=str).lower()
    for key in pool:
        assert f'"{key}"' not in text, key
    for name in [TARGET, *same_fold(records)]:
        assert f'"{name.lower()}"' not in text
