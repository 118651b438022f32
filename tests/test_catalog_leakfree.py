"""The leak-free rule (docs/evaluation.md): while ranking thread T, nothing served by its catalog
view may depend on T's comments or gold, or on whether T's candidates are in the catalog.

Synthetic threads and a hashing embedder keep this fast; ``fold_of`` decides which
threads share T's fold, exactly as in evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorstore.musicrs import fold_of, parse_line
from vectorstore.testing import HashEmbeddingFunction, thread_record
from vectorstore.text import entity_key
from vectorstore.views import FoldCatalogs, leak_free_catalog

SUBS = ("indieheads", "popheads", "metal")
ARTISTS = [
    "Radiohead",
    "Portishead",
    "Björk",
    "Massive Attack",
    "The Cure",
    "Slowdive",
    "Low",
    "Beach House",
]
SONGS = [
    "Reckoner",
    "Roads",
    "Hyperballad",
    "Teardrop",
    "Pictures of You",
    "Alison",
    "Lullaby",
    "Space Song",
    "Glory Box",
    "Unravel",
    "When the Sun Hits",
    "Myth",
    "Nude",
    "Angel",
    "Joga",
    "Sour Times",
]
QUERIES = [
    "songs like Radiohead",
    "trip hop like Portishead and Massive Attack",
    "Reckoner",
    "dream pop",
    "Björk Hyperballad",
    "something like The Cure",
    "Teardrop",
]


def dataset() -> list[dict]:
    """24 threads that mention overlapping artists and songs; thread t3_0 is T."""
    records = []
    for i in range(24):
        artists = [ARTISTS[(i + j) % len(ARTISTS)] for j in range(3)]
        songs = [SONGS[(2 * i + j) % len(SONGS)] for j in range(4)]
        comments = [
            {"artists": [artists[0]], "songs": songs[:2]},
            {"artists": artists[1:], "songs": songs[2:]},
        ]
        candidates = [*songs, *artists, f"Unique Gold {i}", SONGS[(i + 7) % len(SONGS)]]
        records.append(
            thread_record(
                f"t3_{i}",
                SUBS[i % 3],
                f"music like {artists[0]} and {songs[0]}",
                comments,
                candidates,
                [f"Unique Gold {i}", songs[0]],
                submission=[artists[2]],
                text=f"[{songs[1]}](https://youtu.be/abc{i})",
            )
        )
    return records


def threads(records: list[dict]):
    return [parse_line(json.dumps(r), n) for n, r in enumerate(records, 1)]


def served(records: list[dict], tmp_path: Path, target: str) -> list:
    """Everything T's view serves for a battery of calls, as plain data."""
    target_record = next(r for r in records if r["name"] == target)
    catalogs = FoldCatalogs(threads(records), tmp_path, HashEmbeddingFunction())
    view = catalogs.view(target, target_record["final_candidates"])
    out = []
    for query in QUERIES:
        out.append(
            [
                (h.card.model_dump(), round(h.score, 12), h.dense_rank, h.lexical_rank)
                for h in view.search(query, 8)
            ]
        )
        out.append([(h.card.model_dump(), h.score) for h in view.lookup(query, 5)])
        out.append([h.card.model_dump() for h in view.mentioned(query)])
        out.append(
            [(h.card.id) for h in view.search(query, 8, kind="artist", community="popheads")]
        )
    for name in [*ARTISTS, *SONGS]:
        card = view.get(name)
        out.append(card and card.model_dump())
    return out


TARGET = "t3_0"


def same_fold(records: list[dict]) -> list[str]:
    return [
        r["name"] for r in records if fold_of(r["name"]) == fold_of(TARGET) and r["name"] != TARGET
    ]


def test_editing_the_threads_comments_or_gold_changes_nothing_served(tmp_path):
    records = dataset()
    before = served(records, tmp_path / "a", TARGET)
    edited = json.loads(json.dumps(records))
    target = next(r for r in edited if r["name"] == TARGET)
    target["comments"] = [
        {
            "name": "x",
            "score": 9.0,
            "entities": {
                "artists": ["Radiohead", "Leak Artist"],
                "albums": ["Leak Album"],
                "songs": ["Leak Song"],
            },
        }
    ]
    target["limited_gt"] = ["Leak Song"]
    target["ground_truth"] = ["Leak Song", "Reckoner"]
    target["combined_text"] = "[Leak Song](https://youtu.be/leak)"
    assert served(edited, tmp_path / "b", TARGET) == before


def without_pool(records: list[dict], target: str = TARGET) -> list[dict]:
    """A copy of ``records`` in which no thread but ``target`` names an entity of its pool."""
    (own,) = [r for r in records if r["name"] == target]
    pool = {entity_key(c) for c in own["final_candidates"]}
    scrubbed = json.loads(json.dumps(records))
    for record in scrubbed:
        if record["name"] == target:
            continue
        record["submission_entities"] = [
            e for e in record["submission_entities"] if entity_key(e) not in pool
        ]
        for comment in record["comments"]:
            for kind, names in comment["entities"].items():
                comment["entities"][kind] = [n for n in names if entity_key(n) not in pool]
    return scrubbed


def test_removing_the_pool_from_the_sources_changes_nothing_served(tmp_path):
    records = dataset()
    before = served(records, tmp_path / "a", TARGET)
    scrubbed = without_pool(records)
    assert served(scrubbed, tmp_path / "b", TARGET) == before


def test_no_pool_entity_and_nothing_from_the_threads_fold_is_ever_served(tmp_path):
    records = dataset()
    pool = {entity_key(c) for c in records[0]["final_candidates"]}
    text = json.dumps(served(records, tmp_path, TARGET))
    for key in pool:
        assert f'"{key}"' not in text.lower(), key
    for name in [TARGET, *same_fold(records)]:
        assert name not in text  # provenance never cites a thread of T's fold


def test_fold_catalogs_are_cached_on_disk_and_reused(tmp_path, monkeypatch):
    records = dataset()
    embedder = HashEmbeddingFunction()
    FoldCatalogs(threads(records), tmp_path, embedder).view(TARGET, []).search("Radiohead")
    assert list(tmp_path.glob("catalog-views/*/fold-*.pkl"))
    calls = embedder.calls

    def no_rebuild(*_args, **_kwargs):
        raise AssertionError("the fold catalog was rebuilt instead of read from the cache")

    monkeypatch.setattr("vectorstore.views.facts_from_threads", no_rebuild)
    FoldCatalogs(threads(records), tmp_path, embedder).view(TARGET, []).search("Radiohead")
    assert embedder.calls == calls + 1  # only the query was embedded


def test_a_change_to_the_rules_that_make_cards_is_a_new_cache(tmp_path, monkeypatch):
    """A cached fold catalog was made by the entity rules of its day: edited rules (a new
    nickname, another attribution rule) must not read it back."""
    import vectorstore.views as views

    assert {p.name for p in views.RULE_SOURCES} >= {"entities.py", "cards.py", "nicknames.py"}
    rules = tmp_path / "rules.py"
    monkeypatch.setattr(views, "RULE_SOURCES", (rules,))
    records, embedder = dataset(), HashEmbeddingFunction()
    rules.write_text("NICKNAMES = {}")
    before = FoldCatalogs(threads(records), tmp_path, embedder).directory
    rules.write_text("NICKNAMES = {'Biggie': 'The Notorious B.I.G.'}")
    assert FoldCatalogs(threads(records), tmp_path, embedder).directory != before


def test_leak_free_catalog_reads_the_dataset_and_answers_like_a_catalog(tmp_path):
    records = dataset()
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    view = leak_free_catalog(
        TARGET,
        records[0]["final_candidates"],
        data=data,
        cache_dir=tmp_path,
        embedder=HashEmbeddingFunction(),
    )
    assert view.search("Slowdive", 3)
    assert view.get("Radiohead") is None  # in T's pool
    with pytest.raises(ValueError, match="empty"):
        view.search("  ")
