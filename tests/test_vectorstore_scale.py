"""The on-disk card index answers exactly as the in-memory indexes did, the embedded store
and the Chroma server give the same answers, and the scale bench's pieces behave.

A seeded synthetic library (vectorstore.synthetic) plus the hand-made cards of
test_vectorstore_store keep this fast and independent of the MusiCRS file.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sqlite3
import subprocess
import sys
import uuid

import numpy as np
import pytest

from tests.test_vectorstore_store import REPO, catalog_cards
from vectorstore.bench import WARMUP
from vectorstore.card_index import (
    CardIndex,
    index_file,
    lexical_tokens,
    lookup_keys,
    write_card_index,
)
from vectorstore.cards import cards_from_tracks
from vectorstore.errors import CatalogError
from vectorstore.scale_bench import (
    HNSW_SETTINGS,
    ScalePoint,
    build_split,
    extrapolated,
    hnsw_tradeoff,
    report_scale,
    run_scale_bench,
)
from vectorstore.search import CardFilters
from vectorstore.store import build_catalog, fuzzy_lookup, index_lookup, open_catalog
from vectorstore.synthetic import bench_queries, sizes, synthetic_tracks
from vectorstore.testing import HashEmbeddingFunction
from vectorstore.text import BM25Index, tokenize

TRACKS = 1500


@pytest.fixture(autouse=True)
def embedded_store(monkeypatch):
    for name in ("CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH", "CATALOG_EMBEDDINGS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def library():
    cards = cards_from_tracks(list(synthetic_tracks(TRACKS, seed=7))) + catalog_cards()
    return sorted(cards, key=lambda card: card.id)


@pytest.fixture(scope="module")
def index(library, tmp_path_factory):
    path = tmp_path_factory.mktemp("index") / "cards.sqlite3"
    assert write_card_index(path, reversed(library), "hash") == len(library)
    return CardIndex(path)


def test_synthetic_libraries_are_seeded_and_shaped_like_a_track_file():
    first, again = list(synthetic_tracks(300, seed=3)), list(synthetic_tracks(300, seed=3))
    assert first == again and first != list(synthetic_tracks(300, seed=4))
    assert len({row.title for row in first}) == 300
    assert all(len(row.tags) == 2 and row.artists and row.album for row in first)
    asked = bench_queries(20, 300, seed=3)
    assert asked == bench_queries(20, 300, seed=3) and len(asked.lookups) == 20
    assert sizes("10000, 1_000_000") == (10000, 1000000)
    with pytest.raises(ValueError, match="positive track counts"):
        sizes("0")


def test_lexical_scores_equal_the_in_memory_bm25_under_every_filter(library, index):
    memory = BM25Index(lexical_tokens(card) for card in library)
    filters = CardFilters(library)
    rng = random.Random(1)
    words = sorted({t for card in library[:400] for t in tokenize(card.text)})
    masks = [
        (None, None, None),
        ("artist", None, None),
        ("song", "indieheads", None),
        (None, None, "Radiohead"),
        (None, None, library[5].artists[0] if library[5].artists else library[5].name),
    ]
    for kind, community, artist in masks:
        expected_mask = filters.mask(kind, community, artist)
        mask = index.mask(kind, community, artist)
        assert np.array_equal(mask, expected_mask)
        for _ in range(15):
            terms = [*rng.sample(words, 3), "nowhere"]
            assert np.array_equal(index.lexical.scores(terms, mask), memory.scores(terms, mask))


def test_lookup_equals_the_full_scan_on_typed_names(library, index):
    names, credits = zip(*map(lookup_keys, library), strict=True)
    typed = [
        *bench_queries(60, TRACKS, seed=7).lookups,
        "weird fishes radiohead",
        "beatles, the",
        "reckonr",
        "zzzz qqqq",
    ]
    for name in typed:
        expected = fuzzy_lookup(name, library, names, credits, 5)
        found = index_lookup(index, name, 5)
        assert [(h.card.id, h.score) for h in found] == [(h.card.id, h.score) for h in expected], (
            name
        )


def test_a_card_is_looked_up_by_any_spelling_it_merged(tmp_path):
    """Typing a spelling a card merged ("Chopin" for "Frédéric Chopin", a nickname) finds
    it as surely as its name: an exact alias scores 1.0, in the index as in the full scan."""
    from vectorstore.cards import EntityCard

    library = [
        EntityCard(id="frederic chopin", name="Frédéric Chopin", kind="artist", mentions=3,
                   aliases=["Chopin", "F.F. Chopin"]),
        EntityCard(id="hopsin", name="Hopsin", kind="artist", mentions=9),
        EntityCard(id="the chopin", name="The Chopin", kind="song", mentions=1),
    ]  # fmt: skip
    write_card_index(tmp_path / "cards.sqlite3", library, "hash")
    index = CardIndex(tmp_path / "cards.sqlite3")
    names, credits = zip(*map(lookup_keys, library), strict=True)
    for typed in ("Chopin", "chopin", "f.f. chopin"):
        found = [(h.card.id, h.score) for h in index_lookup(index, typed, 2)]
        assert found[0] == ("frederic chopin", 1.0), typed
        assert found == [
            (h.card.id, h.score) for h in fuzzy_lookup(typed, library, names, credits, 2)
        ]


def test_cards_come_back_whole_by_id_and_position(library, index):
    assert len(index) == len(library)
    assert index.cards([0, len(library) - 1]) == [library[0], library[-1]]
    assert index.position(library[10].id) == 10 and index.position("no such card") is None
    assert index.ids([3, 1]) == [library[3].id, library[1].id]


def test_a_missing_or_stale_index_is_rebuilt_from_the_store(tmp_path):
    path, embedder = tmp_path / "store", HashEmbeddingFunction()
    build_catalog(catalog_cards(extra=20), path, embedder=embedder, progress=False)
    file = index_file(path, "musicrs_entities", None, 8000)
    before = [h.card.id for h in open_catalog(path, embedder=embedder).search("Radiohead", 5)]
    file.unlink()
    assert [h.card.id for h in open_catalog(path, embedder=embedder).search("Radiohead", 5)] == (
        before
    )
    with sqlite3.connect(file) as database:  # as if it mirrored an older build
        database.execute("UPDATE meta SET value = 'older' WHERE key = 'catalog_hash'")
    assert len(open_catalog(path, embedder=embedder)) == len(catalog_cards(extra=20))
    # A no-change rebuild also restores a lost index without touching the store.
    file.unlink()
    embedder.calls = 0
    assert (
        build_catalog(catalog_cards(extra=20), path, embedder=embedder, progress=False).embedded
        == 0
    )
    assert file.is_file() and embedder.calls == 0


def test_an_unwritable_index_folder_gets_one_sentence(tmp_path, monkeypatch):
    path, embedder = tmp_path / "store", HashEmbeddingFunction()
    build_catalog(catalog_cards(), path, embedder=embedder, progress=False)
    index_file(path, "musicrs_entities", None, 8000).unlink()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("vectorstore.card_index.sqlite3.connect", refuse)
    with pytest.raises(CatalogError, match=r"^Cannot write the catalog's card index .*writable"):
        open_catalog(path, embedder=embedder)


FIGURES = (
    "build_cards_per_s build_rss_gb open_s peak_rss_gb search_p50_ms search_p95_ms "
    "lookup_p50_ms lookup_p95_ms engine_p50_ms engine_p95_ms disk_gb"
).split()


def point(tracks: int, value: float, path: str = "embedded", **figures: float) -> ScalePoint:
    """A scale point whose every figure is ``value`` unless given."""
    build_s = figures.pop("build_s", 1.0)
    return ScalePoint(tracks, path, tracks * 2, build_s, **dict.fromkeys(FIGURES, value) | figures)


def test_extrapolation_is_a_fixed_cost_plus_a_cost_per_track():
    far = extrapolated([point(10, 1.0), point(100, 10.0)], 1000)
    assert far.extrapolated and far.cards == 2000
    assert far.open_s == pytest.approx(100.0) and far.disk_gb == pytest.approx(100.0)
    # A figure falling with size is load noise: it keeps the largest size's value.
    assert extrapolated([point(10, 5.0), point(100, 2.0)], 1000).open_s == 2.0


def test_a_path_without_build_figures_is_not_extrapolated_nor_judged_on_them(tmp_path):
    unbuilt = {"build_s": math.nan, "build_cards_per_s": math.nan, "build_rss_gb": math.nan}
    served = [point(10, 1.0, "server", **unbuilt), point(100, 1.0, "server", **unbuilt)]
    far = extrapolated(served, 1000)
    assert math.isnan(far.build_s) and math.isnan(far.build_cards_per_s)
    assert far.open_s == pytest.approx(1.0)
    assert report_scale(served, [1000], tmp_path)  # every measured target is met
    slow = [point(10, 1.0, "server"), point(100, 1.0, "server")]  # 1 card/s: judged, missed
    assert not report_scale(slow, [], tmp_path)


@pytest.mark.slow
def test_a_kept_build_is_probed_again_and_a_server_can_serve_it(musicrs_path, tmp_path):
    """``--work`` keeps the store and its build figures; ``--serve-build`` points a Chroma
    server at that very folder, so a size too big to build twice is still measured on both
    paths."""
    work, out = tmp_path / "work", tmp_path / "out"
    leftover = work / "scale-60" / "store" / "from-an-interrupted-build"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("")

    def bench() -> list[dict]:
        run_scale_bench(
            [60], str(musicrs_path), queries=WARMUP + 2, serve_build=True, work=work, out=out
        )
        return json.loads((out / "scale.json").read_text())

    embedded, served = bench()
    assert not leftover.exists()  # no record of a finished build: built afresh
    assert (embedded["path"], served["path"]) == ("embedded", "server")
    assert embedded["cards"] == served["cards"] > 60
    assert embedded["build_s"] > 0 and math.isnan(served["build_s"])
    assert served["disk_gb"] == embedded["disk_gb"]  # the one folder, served as it is
    again, _ = bench()
    assert again["build_s"] == embedded["build_s"]  # read back, not timed again
    assert again["cards"] == embedded["cards"]


class DistinctHashEmbedding(HashEmbeddingFunction):
    """Hashed tokens plus a small hash of the whole text: no two texts tie, so both stores
    must order the same nearest neighbours the same way (ties have no defined order)."""

    def encode(self, texts):
        words = super().encode(texts)
        whole = np.array(
            [[b / 2550.0 for b in hashlib.md5(text.encode()).digest()[:8]] for text in texts],
            dtype=np.float32,
        )
        matrix = np.concatenate([words, whole], axis=1)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.slow
def test_the_embedded_store_and_the_server_give_the_same_answers(
    chroma_server, tmp_path, monkeypatch
):
    """Result by result on a catalog under 100 cards. With 2,235 cards the tail of Chroma's
    approximate dense ranking differed between the server and the embedded store in some
    runs (two embedded builds always agreed), so the catalog is kept small enough that the
    comparison tests our code, not HNSW's approximation (see docs/scale.md)."""
    tracks = 40
    library = sorted(
        cards_from_tracks(list(synthetic_tracks(tracks, seed=7))) + catalog_cards(),
        key=lambda card: card.id,
    )
    assert len(library) < 100
    embedder = DistinctHashEmbedding()
    build_catalog(library, tmp_path / "embedded", embedder=embedder, progress=False)
    embedded = open_catalog(tmp_path / "embedded", embedder=embedder)
    monkeypatch.setenv("CHROMA_HOST", chroma_server.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server.port))
    collection = f"test_{uuid.uuid4().hex[:12]}"
    build_catalog(library, tmp_path / "client", collection=collection, embedder=embedder)
    # A client that did not build: it derives its own index from the server's records.
    served = open_catalog(tmp_path / "other-client", collection=collection, embedder=embedder)
    asked = bench_queries(30, tracks, seed=7)
    try:
        for query in [*asked.searches, "Radiohead", "Кино"]:
            for filters in ({}, {"kind": "album"}, {"community": "indieheads"}):
                assert served.search(query, 10, **filters) == embedded.search(
                    query, 10, **filters
                ), (query, filters)
        for artist in ("Radiohead", library[0].artists[0] if library[0].artists else "x"):
            assert served.search("music", 10, artist=artist) == embedded.search(
                "music", 10, artist=artist
            )
        for name in [*asked.lookups, "weird fishes radiohead"]:
            assert served.lookup(name, 5) == embedded.lookup(name, 5)
        assert served.get(library[7].name) == embedded.get(library[7].name) == library[7]
    finally:
        served.client.delete_collection(collection)


@pytest.mark.slow
def test_lookup_equals_the_full_scan_over_the_musicrs_catalog(musicrs_path, tmp_path):
    """At MusiCRS's size (21k cards) the candidates hold every card the full scan ranks:
    typed names from the requests, as written and with a typo, find the same cards."""
    from vectorstore.cards import cards_from_threads
    from vectorstore.musicrs import load_conversations
    from vectorstore.synthetic import _typo

    threads = load_conversations(musicrs_path)
    library = sorted(cards_from_threads(threads), key=lambda card: card.id)
    write_card_index(tmp_path / "cards.sqlite3", library, "hash")
    index = CardIndex(tmp_path / "cards.sqlite3")
    names, credits = zip(*map(lookup_keys, library), strict=True)
    rng = random.Random(5)
    typed = [name for thread in threads[::3] for name in thread.submission_entities[:2]]
    for name in typed + [_typo(rng, name) for name in typed]:
        expected = fuzzy_lookup(name, library, names, credits, 5)
        assert [(h.card.id, h.score) for h in index_lookup(index, name, 5)] == [
            (h.card.id, h.score) for h in expected
        ], name


def test_the_build_split_times_each_step_and_leaves_the_code_as_it_was(tmp_path, monkeypatch):
    import chromadb.api.models.Collection as chroma_collection

    from vectorstore import store

    upsert = chroma_collection.Collection.upsert
    monkeypatch.setattr(store, "embedding_function_from_env", HashEmbeddingFunction)
    split = {step: (seconds, calls) for step, seconds, calls in build_split(tmp_path / "s", 200)}
    whole, _ = split["whole build"]
    staging, staged = split["staging: track file read, cards rendered"]
    assert staged >= 1 and 0 < staging < split["pass 1: catalog hash (with the staging)"][0] < whole
    assert split["pass 2: Chroma upsert"][1] >= 1 and split["build process CPU"][0] > 0
    assert chroma_collection.Collection.upsert is upsert
    catalog = open_catalog(tmp_path / "s", embedder=HashEmbeddingFunction())
    assert len(catalog) == len(cards_from_tracks(list(synthetic_tracks(200))))


def test_the_hnsw_comparison_builds_each_graph_once_and_measures_every_setting(tmp_path):
    rows = list(hnsw_tradeoff(tmp_path, 400))
    assert [(r["ef_construction"], r["ef_search"]) for r in rows] == list(HNSW_SETTINGS)
    built = [r for r in rows if "upsert_cpu_ms" in r]
    assert len(built) == len({c for c, _ in HNSW_SETTINGS})  # one graph per ef_construction
    assert all(r["upsert_cpu_ms"] > 0 and r["upserts_per_s"] > 0 for r in built)
    # A few hundred vectors: every setting finds nearly all of the exact top 20.
    assert all(0.9 <= r["recall_at_20"] <= 1 and r["query_ms"] > 0 for r in rows)


def test_bench_refuses_bad_sizes_in_one_sentence():
    done = subprocess.run(
        [sys.executable, "-m", "vectorstore", "bench", "--scale", "10k"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert done.stderr == (
        "error: '10k' is not a comma-separated list of positive track counts; "
        "write sizes like 10000,100000.\n"
    )
    assert len(done.stderr.strip().splitlines()) == 1
