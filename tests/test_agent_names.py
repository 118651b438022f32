"""Names typed in lower case or misspelt, read against the catalog (agent.names)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent.grammar import loose_names, parse_message, typed_artists, typed_names
from agent.names import NAME_MATCH, with_catalog_names


@dataclass
class Card:
    name: str
    kind: str


@dataclass
class Hit:
    card: Card
    score: float


class Catalog:
    """A lookup over a few names, scored as the catalog's is: 1.0 for the name itself."""

    def __init__(self, scores: dict[str, tuple[str, str, float]]) -> None:
        self.scores = scores
        self.asked: list[str] = []

    def lookup(self, name: str, k: int = 5) -> list[Hit]:
        self.asked.append(name)
        found = self.scores.get(name.lower())
        return [Hit(Card(found[0], found[1]), found[2])] if found else []


CATALOG = {
    "radiohed": ("Radiohead", "artist", 0.94),
    "portishead": ("Portishead", "artist", 1.0),
    "pink floyd": ("Pink Floyd", "artist", 1.0),
    "love": ("Love", "song", 1.0),
    "hotline bling": ("Hotline Bling", "song", 1.0),
    "kanye": ("Keane", "artist", 0.8),
    "daft punk": ("Daft Punk", "artist", 1.0),
    "the 80s": ("The 80s", "song", 1.0),
    "mf doom": ("MF DOOM", "artist", 1.0),
    "kendrick lamar": ("Kendrick Lamar", "artist", 1.0),
    "film scores": ("Film Scores", "song", 1.0),
    "bohemian rhapsody": ("Bohemian Rhapsody", "song", 1.0),
}


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("i like radiohed", ("radiohed",)),
        ("something like radiohead and portishead but jazzier", ("radiohead", "portishead")),
        ("i love bjork 🎶", ("bjork",)),
        ("pink floyd", ("pink floyd",)),  # a short message that is nothing else
        ("i like sad songs", ()),  # moods and kinds are no names
        ("i love jazz", ()),
        ("I like Slowdive", ()),  # already a seed
        ("thanks!", ()),
        ("i like the first one", ()),  # a pick
        ("rain", ()),  # when to listen, not whom
        ("songs for a rainy night", ()),
    ],
)
def test_phrases_that_may_be_names(text, phrases):
    assert typed_names(parse_message(text)) == phrases


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("recommend me some kendrick lamar", ("kendrick lamar",)),
        ("any film scores, kendrick lamar too?", ("film scores", "kendrick lamar")),
        ("what about sufjan stevens", ("sufjan stevens",)),
        ("play some daft punk", ("daft punk",)),  # a genre word inside a name
        ("upbeat indie rock for running", ()),  # a genre
        ("I need some songs for a rainy sunday morning", ()),  # when, not whom
        ("so what should I play at a party?", ()),
        ("dark ambient music for studying", ()),  # moods and genres
        ("i like radiohed", ()),  # one word, and a taste already
        ("play something by daft punk", ()),  # read as whose works are asked for
        ("not kanye west, something else", ()),  # refused, not liked
    ],
)
def test_runs_of_words_anywhere_that_may_be_names(text, runs):
    message = parse_message(text)
    assert loose_names(message, (*typed_names(message), *typed_artists(message))) == runs


def test_a_run_of_words_anywhere_is_a_name_only_when_the_catalog_knows_an_artist_so():
    catalog = Catalog(CATALOG)
    message = with_catalog_names(parse_message("recommend me some kendrick lamar"), catalog)
    assert message.seeds == ("Kendrick Lamar",) and message.more_by == ()
    # A song's title is too easily a phrase of a chat: "any film scores?" names none.
    assert with_catalog_names(parse_message("any film scores?"), catalog).seeds == ()


def test_a_close_match_becomes_a_seed_spelt_as_the_catalog_spells_it():
    message = with_catalog_names(parse_message("i like radiohed"), Catalog(CATALOG))
    assert message.seeds == ("Radiohead",) and "Radiohead" in message.topic
    assert not message.is_follow_up


def test_a_name_refused_in_lower_case_is_spelt_as_the_catalog_spells_it():
    message = with_catalog_names(parse_message("not radiohed, other bands"), Catalog(CATALOG))
    assert message.rejections == ("Radiohead",)
    known = with_catalog_names(parse_message("I already know daft punk"), Catalog(CATALOG))
    assert known.rejections == known.known == ("Daft Punk",)
    # A loose match stays as typed.
    assert with_catalog_names(parse_message("not kanye"), Catalog(CATALOG)).rejections == ("kanye",)


def test_a_work_typed_with_its_artist_is_looked_up_by_its_title():
    for text in ("something like bohemian rhapsody by queen", "i love queen's bohemian rhapsody"):
        message = with_catalog_names(parse_message(text), Catalog(CATALOG))
        assert message.seeds == ("Bohemian Rhapsody",), text


def test_names_joined_in_one_taste_are_each_looked_up():
    text = "something like radiohed and portishead but jazzier"
    message = with_catalog_names(parse_message(text), Catalog(CATALOG))
    assert message.seeds == ("Radiohead", "Portishead") and "jazzier" in message.topic
    assert message.communities == ("jazz",)


def test_a_genre_word_inside_a_name_read_in_the_catalog_is_the_names():
    message = with_catalog_names(parse_message("i love mf doom"), Catalog(CATALOG))
    assert message.seeds == ("MF DOOM",) and message.communities == message.genres == ()
    # The same word outside the name is still a wish.
    heavier = with_catalog_names(parse_message("i like mf doom but more doom"), Catalog(CATALOG))
    assert heavier.seeds == ("MF DOOM",) and heavier.communities == ("metal",)


def test_a_loose_match_or_a_lone_word_that_is_no_artist_stays_words():
    catalog = Catalog(CATALOG)
    for text in ("i like kanye", "love", "i like hotlin bling"):
        message = parse_message(text)
        assert with_catalog_names(message, catalog) == message
    assert CATALOG["kanye"][2] < NAME_MATCH
    # Two words may name a song: the catalog's own spelling is the seed.
    assert with_catalog_names(parse_message("hotline bling"), catalog).seeds == ("Hotline Bling",)


def test_a_message_with_its_names_capitalised_asks_the_catalog_nothing():
    catalog = Catalog(CATALOG)
    message = parse_message("I like Radiohead and Portishead")
    assert with_catalog_names(message, catalog) is message and catalog.asked == []


def test_something_by_an_artist_typed_in_lower_case_asks_for_its_own_works():
    catalog = Catalog(CATALOG)
    message = with_catalog_names(parse_message("play something by daft punk"), catalog)
    assert message.more_by == ("Daft Punk",)
    # A decade is no artist, and only an artist has works of its own.
    assert with_catalog_names(parse_message("songs from the 80s"), catalog).more_by == ()
    assert with_catalog_names(parse_message("music by hotline bling"), catalog).more_by == ()
