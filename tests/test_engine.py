"""The recommendation engine: leave-thread-out equals a rebuild without the thread, hard
constraints, diversity, evidence, bad requests, and the engine over a built catalog
(embedded and on the session's Chroma server).

Synthetic threads (tests/test_catalog_leakfree.py's) and a hashing embedder keep it fast.
"""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import pytest

from tests.test_catalog_leakfree import dataset, threads
from vectorstore.cards import cards_from_threads
from vectorstore.engine import (
    DIVERSITY_TOP,
    PER_ARTIST_TOP,
    RecommendationEngine,
    RecommendRequest,
    Weights,
    open_engine,
    thread_records,
)
from vectorstore.errors import CatalogError
from vectorstore.store import build_catalog, build_threads
from vectorstore.testing import HashEmbeddingFunction, thread_record
from vectorstore.text import entity_key

EVERY_SOURCE = Weights(
    similar_request=1.0, co_recommendation=1.0, graph_walk=0.5, popularity=0.5, search=0.5
)


def engine_of(conversations, weights: Weights = EVERY_SOURCE) -> RecommendationEngine:
    embedder = HashEmbeddingFunction()
    records = thread_records(conversations, merge_aliases=False)
    return RecommendationEngine(
        records,
        embedder.encode([r.request for r in records]),
        embedder,
        key_vectors=embedder.encode,
        weights=weights,
    )


def one_list_thread(i: int, community: str, query: str, **named: list[str]) -> dict:
    """Thread ``t3_<i>`` of ``community`` asking ``query``, with one comment naming ``named``
    (``songs=[...]``, ``albums=[...]``)."""
    return thread_record(f"t3_{i}", community, query, [named], ["X"], ["X"])


def answer_as_data(response) -> list:
    return [
        (
            item.card.model_dump(),
            round(item.score, 12),
            [dataclasses.asdict(e) for e in item.evidence],
        )
        for item in response.items
    ] + [[c.model_dump() for c in response.seeds], list(response.unresolved)]


REQUESTS = [
    RecommendRequest(text="music like Radiohead and Reckoner", k=12, prefer_community="popheads"),
    RecommendRequest(seeds=("Portishead",), k=8),
    RecommendRequest(text="dream pop", seeds=("Teardrop", "Low"), k=10, community="metal"),
    RecommendRequest(text="trip hop", k=6, kind="artist", exclude_artists=("Slowdive",)),
]


@pytest.mark.parametrize("target", ["t3_0", "t3_5", "t3_13"])
def test_excluding_a_thread_equals_building_without_it(target):
    conversations = threads(dataset())
    full = engine_of(conversations)
    rebuilt = engine_of([c for c in conversations if c.name != target])
    for request in REQUESTS:
        left_out = dataclasses.replace(request, exclude_threads=(target,))
        expected = answer_as_data(rebuilt.recommend(request))
        assert answer_as_data(full.recommend(left_out)) == expected
        assert target not in str(expected)


def test_a_thread_is_ever_evidence_only_while_not_excluded():
    conversations = threads(dataset())
    engine = engine_of(conversations)
    request = RecommendRequest(text="music like Radiohead and Reckoner", k=20)
    cited = {e.thread for item in engine.recommend(request).items for e in item.evidence}
    assert cited - {None}
    excluded = tuple(sorted(cited - {None}))
    again = engine.recommend(dataclasses.replace(request, exclude_threads=excluded))
    assert not {e.thread for item in again.items for e in item.evidence} & set(excluded)


def test_exclusions_seeds_and_their_artists_never_come_back():
    engine = engine_of(threads(dataset()))
    request = RecommendRequest(
        text="songs like Reckoner", seeds=("Reckoner",), exclude_artists=("Portishead",), k=30
    )
    answer = engine.recommend(request)
    assert answer.items and answer.seeds[0].id == "reckoner"
    seed_artists = engine.artist_keys("reckoner", frozenset(), answer.seeds[0])
    assert seed_artists  # the data names Reckoner's artist alone in a comment
    for item in answer.items:
        credit = engine.artist_keys(item.card.id, frozenset(), item.card)
        assert item.card.id != "reckoner"
        assert "portishead" not in credit | {item.card.id}
        assert not credit & seed_artists
        assert item.evidence
    more = engine.recommend(dataclasses.replace(request, more_by_seed_artists=True))
    assert any(
        engine.artist_keys(i.card.id, frozenset(), i.card) & seed_artists for i in more.items
    )


def test_entities_the_text_names_come_back_only_when_allowed():
    engine = engine_of(threads(dataset()), Weights(co_recommendation=1.0, similar_request=1.0))
    request = RecommendRequest(text="something like Roads and Teardrop", k=40)
    named = {entity_key("Roads"), entity_key("Teardrop")}
    answer = engine.recommend(request)
    assert named <= {c.id for c in answer.seeds}
    assert not named & {i.card.id for i in answer.items}
    again = engine.recommend(dataclasses.replace(request, named_may_return=True))
    assert named & {i.card.id for i in again.items}


def test_a_chat_whose_names_were_read_already_is_not_read_for_names_again():
    engine = engine_of(threads(dataset()), Weights(co_recommendation=1.0, similar_request=1.0))
    # A Reddit request's lower-case names are read ("sunday morning" in a chat is words).
    request = RecommendRequest(text="music for when the sun hits, a glory box", k=40)
    assert {entity_key("When the Sun Hits"), entity_key("Glory Box")} <= {
        c.id for c in engine.recommend(request).seeds
    }
    words = engine.recommend(dataclasses.replace(request, names_in_text=False))
    assert not words.seeds and words.items  # the words still find similar requests
    named = dataclasses.replace(request, seeds=("Glory Box",), names_in_text=False)
    assert [c.id for c in engine.recommend(named).seeds] == [entity_key("Glory Box")]


def test_kind_community_and_excluded_entities_are_hard():
    engine = engine_of(threads(dataset()))
    answer = engine.recommend(
        RecommendRequest(text="music", kind="song", community="metal", exclude_entities=("Roads",))
    )
    assert answer.items
    for item in answer.items:
        assert item.card.kind == "song" and "metal" in item.card.communities
        assert item.card.id != entity_key("Roads")


def test_names_typed_together_are_excluded_one_by_one():
    """A session's taste "Radiohead and Reckoner" (one typed seed) keeps out both, as a
    rejected "Portishead & Slowdive" keeps out both artists' works."""
    engine = engine_of(threads(dataset()))
    asked = RecommendRequest(text="music", k=40)
    shown = {i.card.id for i in engine.recommend(asked).items}
    assert {"radiohead", "reckoner"} <= shown
    kept_out = dataclasses.replace(asked, exclude_entities=("Radiohead and Reckoner",))
    assert not {"radiohead", "reckoner"} & {i.card.id for i in engine.recommend(kept_out).items}
    refused = dataclasses.replace(asked, exclude_artists=("Portishead & Slowdive",))
    for item in engine.recommend(refused).items:
        credit = engine.artist_keys(item.card.id, frozenset(), item.card) | {item.card.id}
        assert not credit & {"portishead", "slowdive"}, item.card.name


def test_seed_evidence_prefers_what_its_own_genre_recommends():
    """Slowdive was recommended in three indie threads (once in the same comment as Low)
    and in two hip-hop threads about samples, where a rapper every hip-hop thread
    recommends was named in other comments: Low comes first, though the rapper shares
    more threads with Slowdive."""

    def thread(i, sub, comments):
        return thread_record(f"t3_{i}", sub, f"question {i}", comments, ["X"], ["X"])

    records = [
        thread(0, "indieheads", [{"artists": ["Slowdive", "Low"]}]),
        *(
            thread(i, "indieheads", [{"artists": ["Slowdive"]}, {"artists": [f"Band {i}"]}])
            for i in (1, 2)
        ),
        *(
            thread(i, "hiphopheads", [{"artists": ["Slowdive"]}, {"artists": ["Big Rapper"]}])
            for i in (3, 4)
        ),
        *(thread(i, "hiphopheads", [{"artists": ["Big Rapper", f"MC {i}"]}]) for i in (5, 6)),
    ]
    request = RecommendRequest(seeds=("Slowdive",), k=5)
    weights = Weights(co_recommendation=1.0, graph_walk=0.5, similar_request=0.0)
    names = [i.card.name for i in engine_of(threads(records), weights).recommend(request).items]
    assert names.index("Low") < names.index("Big Rapper"), names
    blind = dataclasses.replace(weights, genre_coherence=0.0, thread_rest=1.0)
    names = [i.card.name for i in engine_of(threads(records), blind).recommend(request).items]
    assert names.index("Big Rapper") < names.index("Low"), names  # the test can fail


def test_the_canon_listens_to_the_request():
    """r/metal recommended "Aces High" in three threads and "Painkiller" in two, one of
    them to a request worded like the user's: with the request the canon puts Painkiller
    first; without one (the popularity baseline) the count decides. A song another
    community gave to that very request never enters r/metal's canon."""
    asked = "fast screaming twin guitar songs"

    def thread(i, sub, query, songs):
        return thread_record(f"t3_{i}", sub, query, [{"songs": songs}], ["X"], ["X"])

    records = [
        *(thread(i, "metal", f"question {i}", ["Aces High"]) for i in (1, 2, 3)),
        thread(4, "metal", "question 4", ["Painkiller"]),
        thread(5, "metal", asked, ["Painkiller"]),
        thread(6, "popheads", asked, ["Toxic"]),
    ]
    engine = engine_of(threads(records), Weights(similar_request=0.0, search=0.0))

    def canon(text: str) -> list[str]:
        request = RecommendRequest(text=text, k=5, prefer_community="metal")
        return [item.card.name for item in engine.recommend(request).items]

    assert canon(asked) == ["Painkiller", "Aces High"]
    assert canon("") == ["Aces High", "Painkiller"]


def test_what_one_comment_recommends_equally_comes_most_recommended_first():
    """One comment lists three songs (equal votes): the one other threads recommend too
    leads, not the first in alphabetical order."""

    def thread(i, query, songs):
        return thread_record(f"t3_{i}", "metal", query, [{"songs": songs}], ["X"], ["X"])

    records = [
        thread(1, "instrumental music for studying", ["Aphelion", "Beyond the Doom", "Orion"]),
        thread(2, "long epic songs", ["Orion"]),
        thread(3, "bass solos", ["Orion"]),
    ]
    # Only the closest request counts, so its three songs tie on the evidence itself.
    weights = Weights(similar_request=1.0, co_recommendation=0.0, graph_walk=0.0,
                      popularity=0.0, search=0.0, neighbours=1)  # fmt: skip
    engine = engine_of(threads(records), weights)
    request = RecommendRequest(text="instrumental music for studying", k=3)
    names = [item.card.name for item in engine.recommend(request).items]
    assert names[0] == "Orion", names


def test_evidence_says_whether_a_seed_was_asked_about_or_recommended_beside():
    """A thread whose request names the seed was "asking about" it; a thread that only
    recommended the seed beside other songs was not, and one thread is "1 thread"."""
    records = [
        thread_record("t3_1", "indieheads", "songs like Alpha", [{"songs": ["Beta"]}],
                      ["X"], ["X"], submission=["Alpha"]),
        thread_record("t3_2", "indieheads", "summer songs",
                      [{"songs": ["Gamma", "Alpha"]}, {"songs": ["Delta"]}], ["X"], ["X"]),
    ]  # fmt: skip
    engine = engine_of(threads(records))
    answer = engine.recommend(RecommendRequest(seeds=("Alpha",), k=5))
    details = {item.card.name: {e.source: e.detail for e in item.evidence} for item in answer.items}
    assert details["Beta"]["co_recommendation"].endswith("to someone asking about Alpha")
    assert details["Gamma"]["co_recommendation"] == "recommended beside Alpha in r/indieheads"
    in_community = engine.recommend(RecommendRequest(text="songs", community="indieheads"))
    canon = [e.detail for i in in_community.items for e in i.evidence if e.source == "popularity"]
    assert canon and set(canon) == {"recommended in 1 r/indieheads thread"}


def test_a_styles_examples_are_evidence_and_may_be_picks_themselves():
    """ "Some shoegaze" with My Bloody Valentine standing for the style: what was
    recommended beside it comes, and so may the band itself (a seed the user gave never
    does); an example the catalog lacks is no unknown seed of the user's."""
    records = [
        thread_record("t3_1", "indieheads", "loud guitars", [{"artists": ["MBV", "Ride"]}],
                      ["X"], ["X"]),
        thread_record("t3_2", "indieheads", "walls of noise",
                      [{"artists": ["MBV"]}, {"artists": ["Lush"]}], ["X"], ["X"]),
        thread_record("t3_3", "hiphopheads", "bangers", [{"artists": ["Kanye"]}], ["X"], ["X"]),
    ]  # fmt: skip
    engine = engine_of(threads(records))
    asked = RecommendRequest(text="shoegaze", examples=("MBV", "Nowhere Band"), k=3)
    answer = engine.recommend(asked)
    assert {item.card.name for item in answer.items} == {"MBV", "Ride", "Lush"}
    first = answer.items[0]
    assert first.card.name == "MBV" and first.evidence[0].source == "example"
    ride = next(i for i in answer.items if i.card.name == "Ride")
    assert any(e.detail == "recommended beside MBV in r/indieheads" for e in ride.evidence)
    assert answer.unresolved == ()
    as_seed = engine.recommend(dataclasses.replace(asked, seeds=("MBV",)))
    assert "MBV" not in [item.card.name for item in as_seed.items]


def test_a_refused_community_leaves_out_what_only_it_recommended():
    """Refusing r/popheads ("not pop") leaves out what it recommended most, keeps what
    r/metal recommended more."""
    engine = engine_of(
        threads(
            [
                one_list_thread(1, "popheads", "loud songs", songs=["Toxic", "Angel"]),
                *(one_list_thread(i, "metal", "loud songs", songs=["Angel"]) for i in (2, 3)),
            ]
        )
    )
    asked = RecommendRequest(text="loud songs", k=5)
    assert {i.card.name for i in engine.recommend(asked).items} == {"Toxic", "Angel"}
    request = dataclasses.replace(asked, exclude_communities=("popheads",))
    assert [i.card.name for i in engine.recommend(request).items] == ["Angel"]


def test_a_refused_community_also_leaves_out_what_it_recommended_as_often_as_any():
    """Toxic, recommended in one r/metal and one r/popheads thread, is as much pop as metal:
    after "not pop" it goes (a tie is not "mostly elsewhere"), in either thread order."""
    for first, second in (("metal", "popheads"), ("popheads", "metal")):
        engine = engine_of(
            threads(
                [
                    one_list_thread(1, first, "loud songs", songs=["Toxic", "Angel"]),
                    one_list_thread(2, second, "loud songs", songs=["Angel", "Toxic"]),
                    one_list_thread(3, "metal", "loud songs", songs=["Angel"]),
                ]
            )
        )
        request = RecommendRequest(text="loud songs", k=5, exclude_communities=("popheads",))
        assert [i.card.name for i in engine.recommend(request).items] == ["Angel"]


def test_a_communitys_canon_is_what_it_recommends_at_least_as_often_as_any_other():
    """Asked for r/hiphopheads, "Dark Side" (two r/hiphopheads threads, three
    r/classicalmusic) is classical music's canon, not hip hop's; "Aquemini" stays, and so
    does a tie ("Sweater Weather": one each)."""
    engine = engine_of(
        threads(
            [
                one_list_thread(
                    1, "hiphopheads", "albums", albums=["Dark Side", "Aquemini", "Sweater Weather"]
                ),
                one_list_thread(2, "hiphopheads", "albums", albums=["Dark Side", "Aquemini"]),
                *(
                    one_list_thread(i, "classicalmusic", "albums", albums=["Dark Side"])
                    for i in (3, 4, 5)
                ),
                one_list_thread(6, "popheads", "albums", albums=["Sweater Weather"]),
            ]
        ),
        Weights(similar_request=0, co_recommendation=0, graph_walk=0, popularity=1, search=0),
    )
    request = RecommendRequest(text="albums", k=5, community="hiphopheads")
    assert [i.card.name for i in engine.recommend(request).items] == ["Aquemini", "Sweater Weather"]


def test_a_version_of_a_pick_is_not_another_pick():
    """ "Goodbye (live version)" beside "Goodbye" is the same song twice; "Symphony No. 5
    (Mahler)" beside "Symphony No. 5 (Beethoven)" are two works."""
    songs = ["Goodbye", "Goodbye (live version)", "Symphony No. 5 (Beethoven)"]
    songs += ["Symphony No. 5 (Mahler)", "April Rain"]
    engine = engine_of(
        threads([one_list_thread(i, "postrock", "sad songs", songs=songs) for i in (1, 2)])
    )
    names = [i.card.name for i in engine.recommend(RecommendRequest(text="sad songs", k=10)).items]
    assert sorted(names) == sorted(["Goodbye", *songs[2:]])


def test_a_refused_community_is_no_evidence_either():
    """After "not pop", Angel (recommended in r/metal) may come, but never because of what
    an r/popheads thread recommended: no reason cites one."""
    engine = engine_of(
        threads(
            [
                one_list_thread(1, "popheads", "loud songs", songs=["Toxic", "Angel", "Halo"]),
                one_list_thread(2, "popheads", "loud songs", songs=["Toxic", "Angel"]),
                one_list_thread(3, "metal", "loud songs", songs=["Angel", "Halo"]),
                one_list_thread(4, "metal", "loud songs", songs=["Halo"]),
            ]
        )
    )
    asked = RecommendRequest(text="loud songs", seeds=("Toxic",), k=5)
    assert any(e.community == "popheads" for i in engine.recommend(asked).items for e in i.evidence)
    refused = engine.recommend(dataclasses.replace(asked, exclude_communities=("popheads",)))
    assert refused.items and refused.seeds[0].name == "Toxic"
    assert all(e.community != "popheads" for i in refused.items for e in i.evidence)


def test_a_spelling_merged_into_an_entity_resolves_to_it():
    """ "Kendrick" (a nickname merged into Kendrick Lamar, who is recommended more) is
    Kendrick Lamar when typed as a seed."""

    def thread(i, song, artist):
        comments = [{"songs": [song], "artists": [artist]}]
        return thread_record(f"t3_{i}", "hiphopheads", "rap", comments, ["X"], ["X"])

    named = [("Alright", "Kendrick Lamar"), ("HUMBLE.", "Kendrick Lamar"), ("DNA", "Kendrick")]
    conversations = threads([thread(i, song, artist) for i, (song, artist) in enumerate(named)])
    embedder = HashEmbeddingFunction()
    records = thread_records(conversations)  # aliases merged, as the catalog's engine has them
    vectors = embedder.encode([r.request for r in records])
    engine = RecommendationEngine(records, vectors, embedder, key_vectors=embedder.encode)
    admitted = np.ones(len(engine.keys), dtype=bool)
    found, missing = engine.resolve(["Kendrick"], admitted)
    assert [engine.keys[i] for i in found] == ["kendrick lamar"] and missing == []


def test_at_most_two_per_artist_in_the_top_five():
    engine = engine_of(threads(dataset()))
    for request in REQUESTS:
        top = engine.recommend(dataclasses.replace(request, k=20)).items[:DIVERSITY_TOP]
        credits: dict[str, int] = {}
        for item in top:
            for artist in engine.artist_keys(item.card.id, frozenset(), item.card):
                credits[artist] = credits.get(artist, 0) + 1
        assert all(count <= PER_ARTIST_TOP for count in credits.values()), credits


def test_unknown_seeds_are_reported_and_bad_requests_refused_in_one_sentence():
    engine = engine_of(threads(dataset()))
    answer = engine.recommend(RecommendRequest(seeds=("No Such Band",), text="dream pop"))
    assert answer.unresolved == ("No Such Band",)
    for bad in (
        RecommendRequest(text="x", k=0),
        RecommendRequest(text="x" * 5000),
        RecommendRequest(),
        RecommendRequest(text="x", seeds=tuple(f"s{i}" for i in range(50))),
    ):
        with pytest.raises(CatalogError) as caught:
            engine.recommend(bad)
        assert str(caught.value).count(".") <= 2


def test_seeds_typed_plainly_or_joined_resolve_to_each_known_name():
    engine = engine_of(threads(dataset()))
    names = lambda answer: [card.name for card in answer.seeds]  # noqa: E731
    assert names(engine.recommend(RecommendRequest(seeds=("Bjork",)))) == ["Björk"]
    joined = engine.recommend(RecommendRequest(seeds=("Radiohead and Portishead",)))
    assert names(joined) == ["Radiohead", "Portishead"]
    assert joined.unresolved == ()
    partly = engine.recommend(RecommendRequest(seeds=("Radiohead & No Such Band",)))
    assert names(partly) == ["Radiohead"]
    assert partly.unresolved == ("No Such Band",)
    owned = engine.recommend(
        RecommendRequest(seeds=("Radiohead's Reckoner", "Roads by Portishead"))
    )
    assert names(owned) == ["Reckoner", "Roads"]
    only_artist = engine.recommend(RecommendRequest(seeds=("Björk's Unknown Album",)))
    assert names(only_artist) == ["Björk"]
    nobody = engine.recommend(RecommendRequest(seeds=("Reckoner by Nobody Known",)))
    assert nobody.unresolved == ("Reckoner by Nobody Known",)


def test_similar_requests_lists_threads_with_their_recommendations():
    engine = engine_of(threads(dataset()))
    found = engine.similar_requests("music like Radiohead", k=3, community="popheads")
    assert len(found) == 3
    assert all(s.community == "popheads" and s.recommended for s in found)
    assert found[0].similarity >= found[-1].similarity


def built_store(path, collection: str):
    conversations = threads(dataset())
    embedder = HashEmbeddingFunction()
    build_catalog(
        cards_from_threads(conversations),
        path,
        collection=collection,
        embedder=embedder,
        progress=False,
    )
    first = build_threads(
        thread_records(conversations), path, collection=collection, embedder=embedder
    )
    again = build_threads(
        thread_records(conversations), path, collection=collection, embedder=embedder
    )
    return embedder, first, again


def check_engine_over_catalog(path, collection: str) -> None:
    embedder, first, again = built_store(path, collection)
    assert first.embedded == 24 and again.embedded == 0 and again.unchanged == 24
    engine = open_engine(path, collection=collection, embedder=embedder)
    answer = engine.recommend(RecommendRequest(text="music like Radiohead", seeds=("Roads",)))
    assert answer.items and all(item.evidence for item in answer.items)
    assert any(e.thread_url is not None for item in answer.items for e in item.evidence)


def test_engine_over_an_embedded_catalog(tmp_path, monkeypatch):
    for name in ("CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    check_engine_over_catalog(tmp_path / "store", "engine_test")


def test_engine_over_the_chroma_server(chroma_server, monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", chroma_server.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server.port))
    check_engine_over_catalog(None, f"engine_{uuid.uuid4().hex[:8]}")


def test_a_catalog_without_thread_records_says_how_to_build_them(tmp_path, monkeypatch):
    for name in ("CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    embedder = HashEmbeddingFunction()
    build_catalog(
        cards_from_threads(threads(dataset())), tmp_path, embedder=embedder, progress=False
    )
    with pytest.raises(CatalogError, match="vectorstore build"):
        open_engine(tmp_path, embedder=embedder)
