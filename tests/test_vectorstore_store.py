"""The Chroma store: incremental and resumable builds, hybrid search, filters, lookup,
bad input, and the real ``chroma run`` server path.

Small synthetic catalogs and a hashing embedder keep this fast. The server test uses the
session's server (the ``chroma_server`` fixture in ``conftest.py``); the mid-build death test
starts and kills its own server.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from vectorstore.bench import _free_port, start_chroma_server
from vectorstore.cards import EntityCard
from vectorstore.errors import CatalogError
from vectorstore.search import MAX_QUERY_CHARS, query_note
from vectorstore.store import BUILD_GC_THRESHOLDS, build_catalog, open_catalog
from vectorstore.testing import HashEmbeddingFunction

REPO = Path(__file__).resolve().parent.parent
BEYOND_ONE_BATCH = 6000  # Chroma writes 5,461 records per batch: a build of this many takes two


def card(name: str, kind: str = "song", **facts) -> EntityCard:
    from vectorstore.text import entity_key

    return EntityCard(id=entity_key(name), name=name, kind=kind, **facts)


def catalog_cards(extra: int = 0) -> list[EntityCard]:
    cards = [
        card(
            "Radiohead",
            "artist",
            communities=["indieheads"],
            mentions=9,
            related=["Reckoner", "Portishead"],
        ),
        card(
            "Weird Fishes/Arpeggi",
            artists=["Radiohead"],
            albums=["In Rainbows"],
            communities=["indieheads"],
        ),
        card("Reckoner", artists=["Radiohead"], communities=["indieheads"], mentions=3),
        card("Portishead", "artist", communities=["electronicmusic"], related=["Roads"]),
        card("Roads", artists=["Portishead"], communities=["electronicmusic"]),
        card("The Beatles", "artist", communities=["popheads"], mentions=7),
        card("Don’t Stop Me Now", artists=["Queen"], communities=["popheads"]),
        card("Кино", "artist", communities=["metal"]),
        card("残酷な天使のテーゼ", communities=["popheads"]),
        card("In Rainbows", "album", artists=["Radiohead"], communities=["indieheads"]),
    ]
    return cards + [card(f"Filler Song {i}", communities=["jazz"]) for i in range(extra)]


@pytest.fixture
def built(tmp_path):
    embedder = HashEmbeddingFunction()
    build_catalog(catalog_cards(), tmp_path / "store", embedder=embedder, progress=False)
    return tmp_path / "store", embedder


@pytest.fixture(autouse=True)
def embedded_store(monkeypatch):
    """Every test here picks its store explicitly: ignore a server configured outside."""
    for name in ("CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH", "CATALOG_EMBEDDINGS"):
        monkeypatch.delenv(name, raising=False)


def test_search_fuses_dense_and_lexical_and_filters(built):
    path, embedder = built
    catalog = open_catalog(path, embedder=embedder)
    hits = catalog.search("Radiohead songs", 5)
    assert hits[0].card.name in {"Radiohead", "Reckoner", "Weird Fishes/Arpeggi", "In Rainbows"}
    assert all(h.score > 0 for h in hits) and hits == sorted(hits, key=lambda h: -h.score)
    assert {h.card.kind for h in catalog.search("Radiohead", 5, kind="artist")} == {"artist"}
    assert {h.card.name for h in catalog.search("songs", 10, artist="radiohead")} <= {
        "Radiohead",
        "Weird Fishes/Arpeggi",
        "Reckoner",
        "In Rainbows",
    }
    assert {h.card.name for h in catalog.search("music", 10, community="r/electronicmusic")} == {
        "Portishead",
        "Roads",
    }
    assert catalog.get("RADIOHEAD").name == "Radiohead" and catalog.get("nope") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("weird fishes radiohead", "Weird Fishes/Arpeggi"),
        ("Beatles", "The Beatles"),
        ("beatles, the", "The Beatles"),
        ('"Don\'t Stop Me Now"', "Don’t Stop Me Now"),
        ("reckonr", "Reckoner"),
    ],
)
def test_lookup_forgives_how_people_type_names(built, typed, expected):
    path, embedder = built
    assert open_catalog(path, embedder=embedder).lookup(typed, 3)[0].card.name == expected


def test_bad_queries_get_one_sentence(built):
    path, embedder = built
    catalog = open_catalog(path, embedder=embedder)
    for query in ("", "   \n"):
        with pytest.raises(CatalogError, match="empty"):
            catalog.search(query)
    with pytest.raises(CatalogError, match=f"under {MAX_QUERY_CHARS:,}"):
        catalog.search("la " * 3334)
    assert catalog.search("Кино", 3)[0].card.name == "Кино"
    assert catalog.search("残酷な天使のテーゼ", 3)[0].card.name == "残酷な天使のテーゼ"
    assert (
        query_note("Кино") and query_note("残酷な天使のテーゼ") and query_note("Radiohead") is None
    )


def test_rebuild_skips_unchanged_cards_and_updates_only_what_changed(built):
    path, embedder = built
    embedder.calls = 0
    report = build_catalog(catalog_cards(), path, embedder=embedder, progress=False)
    assert (report.embedded, report.updated, report.deleted, embedder.calls) == (0, 0, 0, 0)
    cards = catalog_cards()
    cards[0] = cards[0].model_copy(update={"mentions": 10})  # metadata only
    cards[2] = cards[2].model_copy(update={"name": "Reckoner (live)"})  # new embedding text
    report = build_catalog(cards[:-1], path, embedder=embedder, progress=False)
    assert (report.embedded, report.updated, report.deleted, embedder.calls) == (1, 1, 1, 1)
    catalog = open_catalog(path, embedder=embedder)
    assert catalog.get("radiohead").mentions == 10 and catalog.get("in rainbows") is None


def test_an_interrupted_build_is_refused_then_resumed(tmp_path):
    path = tmp_path / "store"
    build_catalog(catalog_cards(), path, embedder=HashEmbeddingFunction(), progress=False)

    class DiesAfterFirstBatch(HashEmbeddingFunction):
        def encode(self, texts):
            if self.calls:
                raise KeyboardInterrupt
            return super().encode(texts)

    with pytest.raises(KeyboardInterrupt):
        build_catalog(
            catalog_cards(extra=BEYOND_ONE_BATCH),
            path,
            embedder=DiesAfterFirstBatch(),
            progress=False,
        )
    with pytest.raises(CatalogError, match=r"incomplete.*python -m vectorstore build"):
        open_catalog(path, embedder=HashEmbeddingFunction())
    resumed = HashEmbeddingFunction()
    report = build_catalog(
        catalog_cards(extra=BEYOND_ONE_BATCH), path, embedder=resumed, progress=False
    )
    assert 0 < report.embedded < BEYOND_ONE_BATCH and resumed.calls == report.embedded
    assert len(open_catalog(path, embedder=resumed)) == len(catalog_cards(extra=BEYOND_ONE_BATCH))


def test_a_build_collects_garbage_less_often_and_restores_the_collector_even_when_stopped(
    tmp_path,
):
    seen = []

    class NotesTheCollector(HashEmbeddingFunction):
        def encode(self, texts):
            seen.append((gc.get_threshold(), gc.get_freeze_count() > 0))
            if len(seen) > 1:
                raise KeyboardInterrupt
            return super().encode(texts)

    before = gc.get_threshold()
    build_catalog(catalog_cards(), tmp_path / "store", embedder=NotesTheCollector(), progress=False)
    assert seen == [(BUILD_GC_THRESHOLDS, True)]
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)
    with pytest.raises(KeyboardInterrupt):
        build_catalog(
            catalog_cards(extra=3), tmp_path / "other", embedder=NotesTheCollector(), progress=False
        )
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)


def test_a_missing_store_or_server_gets_one_sentence(tmp_path, monkeypatch):
    with pytest.raises(CatalogError, match=r"No catalog at .*python -m vectorstore build"):
        open_catalog(tmp_path / "nothing", embedder=HashEmbeddingFunction())
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(_free_port()))
    with pytest.raises(CatalogError, match=r"Chroma failed while connecting .*chroma run"):
        open_catalog(embedder=HashEmbeddingFunction())


def test_cli_builds_from_a_user_file_and_searches(tmp_path):
    tracks = tmp_path / "tracks.csv"
    tracks.write_text(
        "title,artist,album,genre,youtube_url\n"
        "Teardrop,Massive Attack,Mezzanine,trip hop,https://youtu.be/u7K72X4eo_s\n"
        "Roads,Portishead,Dummy,trip hop;downtempo,\n",
        encoding="utf-8",
    )
    env = {**os.environ, "CATALOG_PATH": str(tmp_path / "store")}
    env.pop("CHROMA_HOST", None)
    run = [sys.executable, "-m", "vectorstore"]
    done = subprocess.run(
        [*run, "build", "--data", str(tracks), "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = subprocess.run(
        [*run, "search", "trip hop Portishead", "--k", "3", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0, found.stderr
    assert "Roads" in found.stdout and "trip hop" in found.stdout
    empty = subprocess.run(
        [*run, "search", " "], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert empty.returncode == 2 and empty.stderr.startswith("error: The query is empty")
    assert len(empty.stderr.strip().splitlines()) == 1


# --- the real Chroma server ---------------------------------------------------------------


@pytest.mark.slow
def test_build_and_search_against_the_chroma_server(chroma_server, monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", chroma_server.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server.port))
    collection = f"test_{uuid.uuid4().hex[:12]}"
    embedder = HashEmbeddingFunction()
    report = build_catalog(
        catalog_cards(extra=30), collection=collection, embedder=embedder, progress=False
    )
    assert report.embedded == len(catalog_cards(extra=30))
    assert (
        build_catalog(
            catalog_cards(extra=30), collection=collection, embedder=embedder, progress=False
        ).embedded
        == 0
    )
    catalog = open_catalog(collection=collection, embedder=embedder)
    assert "Portishead" in [h.card.name for h in catalog.search("Portishead", 3)]
    assert catalog.lookup("weird fishes radiohead")[0].card.name == "Weird Fishes/Arpeggi"
    catalog.client.delete_collection(collection)


@pytest.mark.slow
def test_a_server_dying_mid_build_gives_one_sentence_and_the_build_resumes(tmp_path, monkeypatch):
    port = _free_port()
    server = start_chroma_server(tmp_path / "server", port)
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(port))

    class KillsServerAfterFirstBatch(HashEmbeddingFunction):
        def encode(self, texts):
            if self.calls:
                server.kill()
                server.wait(timeout=30)
            return super().encode(texts)

    try:
        with pytest.raises(CatalogError, match=r"Chroma failed while building .*chroma run"):
            build_catalog(
                catalog_cards(extra=BEYOND_ONE_BATCH),
                embedder=KillsServerAfterFirstBatch(),
                progress=False,
            )
        server = start_chroma_server(tmp_path / "server", port)
        with pytest.raises(CatalogError, match="incomplete"):
            open_catalog(embedder=HashEmbeddingFunction())
        resumed = HashEmbeddingFunction()
        report = build_catalog(
            catalog_cards(extra=BEYOND_ONE_BATCH), embedder=resumed, progress=False
        )
        assert 0 < report.embedded < len(catalog_cards(extra=BEYOND_ONE_BATCH))
        assert len(open_catalog(embedder=resumed)) == len(catalog_cards(extra=BEYOND_ONE_BATCH))
    finally:
        server.kill()
        server.wait(timeout=30)
