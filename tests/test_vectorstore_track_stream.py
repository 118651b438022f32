"""A track file streamed into cards chunk by chunk gives exactly the cards read whole."""

from __future__ import annotations

import json

import pytest

from vectorstore import track_stream
from vectorstore.cards import cards_from_tracks, read_user_tracks
from vectorstore.errors import CatalogError
from vectorstore.synthetic import write_tracks
from vectorstore.track_stream import TrackFileCards

# Names that meet across rows and chunks: spellings that differ only in case (the display
# name is counted over the whole file), a song named like its artist, a self-titled
# album, a title with no key (its artist still gets a card), YouTube links and tags.
TRICKY = [
    {"title": "Creep", "artist": "Radiohead", "album": "Pablo Honey", "tags": "rock"},
    {"title": "creep", "artist": "radiohead", "album": "Pablo Honey"},
    {"title": "Creep", "artist": "TLC", "album": "CrazySexyCool", "tags": ["r&b", "pop"]},
    {"title": "Weezer", "artist": "Weezer", "album": "Weezer"},
    {"title": "Buddy Holly", "artist": "WEEZER", "album": "Weezer"},
    {"title": '"  "', "artist": "Nobody Else", "album": "Nowhere"},
    {
        "title": "Karma Police",
        "artist": "Radiohead; Thom Yorke",
        "album": "OK Computer",
        "youtube_url": "https://www.youtube.com/watch?v=1uYWYWPc9HU",
    },
    {"title": "Airbag", "artist": "Radiohead", "album": "OK Computer", "genre": "art rock"},
    {"title": "“Björk”", "artist": "Björk", "album": "Debut"},
]


def _streamed(path, folder):
    with TrackFileCards(path, folder) as source:
        chunks = list(source.chunks())
        again = [card for chunk in source.chunks() for card in chunk]
    assert again == [card for chunk in chunks for card in chunk]  # it can be read twice
    return chunks


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_streamed_cards_equal_the_cards_of_the_whole_file(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(track_stream, "CHUNK_CARDS", chunk)
    path = tmp_path / "tracks.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in TRICKY))
    chunks = _streamed(path, tmp_path / "stage")
    whole = cards_from_tracks(read_user_tracks(path))
    assert [card for part in chunks for card in part] == whole
    assert all(0 < len(part) <= chunk for part in chunks)
    assert not list((tmp_path / "stage").iterdir())  # the staging file is gone


@pytest.mark.parametrize("parallel_from", [1, 10**9], ids=["render-processes", "in-process"])
def test_a_synthetic_library_streams_into_the_same_cards(tmp_path, monkeypatch, parallel_from):
    monkeypatch.setattr(track_stream, "CHUNK_CARDS", 97)
    monkeypatch.setattr(track_stream, "PARALLEL_FROM", parallel_from)
    path = write_tracks(tmp_path / "tracks.jsonl", 400)
    streamed = [card for part in _streamed(path, tmp_path) for card in part]
    assert streamed == cards_from_tracks(read_user_tracks(path))
    assert [card.id for card in streamed] == sorted(card.id for card in streamed)


def test_a_bad_row_stops_the_stream_with_its_sentence_and_leaves_no_file(tmp_path):
    path = tmp_path / "tracks.jsonl"
    path.write_text('{"title": "Creep"}\n{"artist": "no title"}\n')
    with pytest.raises(CatalogError, match=r"tracks.jsonl:2: 'title' is missing"):
        _streamed(path, tmp_path / "stage")
    assert not list((tmp_path / "stage").iterdir())


def test_a_streamed_build_equals_the_build_of_the_cards_in_memory(tmp_path, monkeypatch):
    from vectorstore.store import build_catalog, open_catalog
    from vectorstore.testing import HashEmbeddingFunction

    monkeypatch.setattr(track_stream, "CHUNK_CARDS", 50)
    path = write_tracks(tmp_path / "tracks.jsonl", 120)
    store = tmp_path / "store"
    with TrackFileCards(path, store) as source:
        streamed = build_catalog(source, store, embedder=HashEmbeddingFunction(), progress=False)
    cards = cards_from_tracks(read_user_tracks(path))
    assert streamed.embedded == len(cards) and streamed.deleted == 0
    # The same catalog hash: nothing to embed or write for the same cards held in memory.
    again = build_catalog(cards, store, embedder=HashEmbeddingFunction(), progress=False)
    assert (again.embedded, again.updated, again.unchanged) == (0, 0, len(cards))
    catalog = open_catalog(store, embedder=HashEmbeddingFunction())
    assert len(catalog) == len(cards) and catalog.get(cards[7].id) == cards[7]
    # Fewer tracks: the cards no longer in the file are deleted, the rest untouched.
    shorter = write_tracks(tmp_path / "fewer.jsonl", 100)
    with TrackFileCards(shorter, store) as source:
        report = build_catalog(source, store, embedder=HashEmbeddingFunction(), progress=False)
    remaining = cards_from_tracks(read_user_tracks(shorter))
    assert report.deleted == len({c.id for c in cards} - {c.id for c in remaining})
    assert len(open_catalog(store, embedder=HashEmbeddingFunction())) == len(remaining)


def test_the_catalog_hash_is_the_one_earlier_builds_stored(tmp_path):
    # Catalogs built before the streamed build stored _hash(identity, sorted card hashes):
    # the same value means their no-change rebuild still embeds, reads and writes nothing.
    from vectorstore.store import _catalog_hash, _hash, _ListedCards

    path = write_tracks(tmp_path / "tracks.jsonl", 60)
    cards = cards_from_tracks(read_user_tracks(path))
    identity = ("musicrs-hash", '{"dimensions": 64}')
    card_hashes = sorted(_hash(card.model_dump_json(exclude={"text"})) for card in cards)
    assert _catalog_hash(_ListedCards(cards), identity) == (
        _hash(*identity, *card_hashes),
        len(cards),
    )
