"""Entity hygiene: junk names never become entities; real titles, however plain, survive;
aliases of one work merge and different works stay apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorstore.cards import cards_from_threads
from vectorstore.entities import alias_key, junk_reason, thread_mentions
from vectorstore.musicrs import load_conversations, parse_line
from vectorstore.testing import thread_record

DATA = Path(__file__).resolve().parent.parent.parent / "shared/musicrs/musicrs.jsonl"

JUNK = {
    "#1": "no letters",
    "'93": "no letters",
    "2": "no letters",
    "-=-=-=-=-=-": "no letters",
    "3rd": "rank",
    "No. 5": "rank",
    "90s": "rank",
    "top 10": "rank",
    "He has 4 mixtapes out now and just got signed to def jam so he will be releasing a "
    "studio album later his year": "sentence",
    "I recently discovered a great song called Shape of You by Ed Sheeran.": "sentence",
    "if this doesn't make you feel some type of way": "sentence",
    "Metallica (assumed)": "guess",
    "Kanye West (assuming Cudi refers to Kanye West)": "guess",
    "Hip Hop": "descriptor",
    "jazz band": "descriptor",
    "piano tunes": "descriptor",
    "techno": "descriptor",
    "Jazz": "descriptor",
    "boom bap": "descriptor",
    "sad songs": "descriptor",
    "live version": "descriptor",
    "Greatest Hits": "descriptor",
    "1st movement": "descriptor",
    "Electro": "descriptor",
    "s/t album": "descriptor",
    "self-titled": "descriptor",
    "That": "pointing",
    "It": "pointing",
    "this one": "pointing",
    "Any song": "pointing",
    "All Songs": "pointing",
    "Pretty Much Any Song": "pointing",
    "literally any track": "pointing",
    "Their": "pointing",
    "Their first album": "pointing",
    "her debut solo album": "pointing",
    "his best song": "pointing",
}
TITLES = [
    "Some Rap Songs",
    "Blue in Green",
    "Ambient 1: Music for Airports",
    "Love",
    "The Band",
    "Dance of Death",
    "'Round Midnight",
    "Heavy",
    "I Want War But I Need Peace",
    "The People United Will Never Be Defeated",
    "Concerto in D Minor for Violin and Organ RV 541",
    "Spiegel im Spiegel",
    "Walk it like I talk it",
    "Them",
    "All Along the Watchtower",
    "It's a Pity",
    "This Is Happening",
    "Your Song",
    "My Song",
    "His Latest Flame",
    "My Bloody Valentine",
    "Her Name is Calla",
    "Really Love",
    "Pretty Much Amazing",
]


@pytest.mark.parametrize(("name", "reason"), sorted(JUNK.items()))
def test_junk_names_are_not_entities(name, reason):
    assert junk_reason(name) == reason


@pytest.mark.parametrize("name", TITLES)
def test_real_titles_survive(name):
    assert junk_reason(name) is None


def thread(name, comments, submission=()):
    record = thread_record(name, "classicalmusic", "q", comments, ["x"], ["x"], submission)
    return parse_line(json.dumps(record), 1)


def test_junk_makes_no_mention_and_no_card_unless_another_spelling_is_real():
    threads = [
        thread(
            "t3_a",
            [
                {"artists": ["Caroline Polachek"], "songs": ["so hot you're hurting my feelings"]},
                {"songs": ["So Hot You're Hurting My Feelings", "#1", "Hip Hop"]},
            ],
            submission=["jazz band"],
        )
    ]
    keys = {m.key for m in thread_mentions(threads)}
    assert keys == {"caroline polachek", "so hot you're hurting my feelings"}
    names = {c.name for c in cards_from_threads(threads)}
    assert names == {"Caroline Polachek", "So Hot You're Hurting My Feelings"}


def test_aliases_merge_within_one_artist_and_numbered_works_stay_apart():
    comments = [
        {"artists": ["Arvo Pärt"], "songs": ["Spiegel im Spiegel"]},
        {"artists": ["Arvo Pärt"], "songs": ["Spiegel im Spiegel"]},
        {"artists": ["Arvo Part"], "songs": ["Spiegle I’m Spiegle"]},
        {"artists": ["Beethoven"], "songs": ["Symphony No. 5"]},
        {"artists": ["Beethoven"], "songs": ["Symphony No. 6"]},
        {"artists": ["Chopin"], "songs": ["Ballade in F Minor"]},
        {"artists": ["Chopin"], "songs": ["Ballade in G Minor"]},
        {"artists": ["Brian Eno"], "songs": ["Spiegel im Spiegle"]},  # another artist's
    ]
    cards = {c.id: c for c in cards_from_threads([thread("t3_a", comments)])}
    spiegel = cards["spiegel im spiegel"]
    assert spiegel.aliases == ["Spiegle I’m Spiegle"] and spiegel.mentions == 3
    assert spiegel.artists == ["Arvo Pärt"]
    assert "arvo part" not in cards  # accents only: one artist
    assert {"symphony no. 5", "symphony no. 6", "ballade in f minor", "ballade in g minor"} <= set(
        cards
    )
    assert "spiegel im spiegle" in cards


def test_a_nickname_joins_its_full_name_of_the_same_kind_only():
    comments = [
        {"artists": ["Animal Collective"]},
        {"artists": ["Animal Collective", "Panda Bear"]},
        {"artists": ["AnCo"]},
        {"artists": ["Biggie"]},  # its full name is not in these threads: stays as it is
        {"artists": ["Tchaikovsky"]},
        {"songs": ["Tchaik"]},  # a song so called is not the composer
    ]
    cards = {c.id: c for c in cards_from_threads([thread("t3_a", comments)])}
    collective = cards["animal collective"]
    assert collective.aliases == ["AnCo"] and collective.mentions == 3
    assert "anco" not in cards and "biggie" in cards
    assert cards["tchaik"].kind == "song" and cards["tchaikovsky"].kind == "artist"


def test_a_nickname_named_more_often_than_its_full_name_still_shows_the_full_name():
    comments = [{"artists": ["Chance"]}] * 3 + [{"artists": ["Chance the Rapper"]}]
    cards = {c.id: c for c in cards_from_threads([thread("t3_a", comments)])}
    assert list(cards) == ["chance the rapper"]
    assert cards["chance the rapper"].name == "Chance the Rapper"
    assert cards["chance the rapper"].aliases == ["Chance"]
    assert cards["chance the rapper"].mentions == 4


def test_a_guess_is_no_mention_and_an_artists_note_is_not_its_name():
    """MusiCRS's entity lists carry the extractor's own notes. "Metallica (assumed)" says the
    comment did not name Metallica: no mention. After an artist, parentheses hold another
    name or a song ("Jay-Z (Hov)"); after a work they are its version ("(live version)")."""
    comments = [
        {"artists": ["Metallica"], "songs": ["Orion"]},
        {"artists": ["Metallica (assumed)"], "albums": ["Beyond the Realms of Pain (assumed)"]},
        {"artists": ['Migos (assuming Migos is the group behind "What a Time to Be Alive")']},
        {"artists": ["Jay-Z (Hov)", "Rush (implied)"], "songs": ["Goodbye (live version)"]},
    ]
    cards = {c.id: c for c in cards_from_threads([thread("t3_a", comments)])}
    assert set(cards) == {"metallica", "orion", "jay-z", "goodbye (live version)"}
    assert cards["metallica"].mentions == 1


@pytest.mark.skipif(not DATA.is_file(), reason="needs the MusiCRS data file")
def test_fans_short_names_and_full_names_are_one_card_in_the_musicrs_catalog():
    cards = [c for c in cards_from_threads(load_conversations(DATA)) if c.kind == "artist"]
    for short, full in [
        ("Chance", "Chance the Rapper"),
        ("Britney", "Britney Spears"),
        ("Lana", "Lana Del Rey"),
        ("Chopin", "Frédéric Chopin"),
        ("Bach", "Johann Sebastian Bach"),
        ("Mahler", "Gustav Mahler"),
    ]:
        holding = [
            c.name
            for c in cards
            if {alias_key(short), alias_key(full)} & {alias_key(n) for n in (c.name, *c.aliases)}
        ]
        assert holding == [full], (short, full, holding)


def test_cards_cite_threads_recommended_or_only_requested_with_votes():
    record = thread_record(
        "t3_a",
        "jazz",
        "q",
        [{"artists": ["Miles Davis"], "albums": ["Kind of Blue"]}],
        ["x"],
        ["x"],
        submission=["Bill Evans"],
    )
    record["url"] = "https://www.reddit.com/r/jazz/comments/a/x/"
    record["comments"][0]["score"] = 42.0
    second = thread_record(
        "t3_b", "jazz", "q", [{"albums": ["Kind of Blue"]}], ["x"], ["x"], submission=[]
    )
    threads = [parse_line(json.dumps(r), n) for n, r in enumerate([record, second], 1)]
    cards = {c.id: c for c in cards_from_threads(threads)}
    blue = cards["kind of blue"]
    assert [(t.id, t.role, t.votes) for t in blue.threads] == [
        ("t3_a", "recommended", 42),
        ("t3_b", "recommended", 1),
    ]
    assert blue.threads[0].url == "https://www.reddit.com/r/jazz/comments/a/x/"
    evans = cards["bill evans"].threads
    assert [(t.id, t.role, t.votes, t.community) for t in evans] == [
        ("t3_a", "mentioned", 0, "jazz")
    ]
