"""Entity cards from MusiCRS threads and from a user's track file; the text helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.metrics import normalize_title
from vectorstore.cards import cards_from_threads, cards_from_tracks, read_user_tracks
from vectorstore.errors import CatalogError
from vectorstore.musicrs import load_conversations, parse_line
from vectorstore.testing import thread_record
from vectorstore.text import bm25_scores, entity_key, loose_key

DATA = Path(__file__).resolve().parent.parent.parent / "shared/musicrs/musicrs.jsonl"


def test_entity_key_never_splits_what_the_papers_normalisation_joins():
    names = [
        "“Flawless”",
        '"flawless"',
        " Flawless\t",
        "FLAWLESS",
        "So Hot You’re Hurting My Feelings",
        "so hot you're hurting my feelings",
    ]
    if DATA.is_file():
        names += [n for c in load_conversations(DATA) for n in c.final_candidates]
    by_paper: dict[str, set[str]] = {}
    for name in names:
        by_paper.setdefault(normalize_title(name), set()).add(entity_key(name))
    assert all(len(keys) == 1 for keys in by_paper.values())


def test_loose_key_and_bm25():
    assert loose_key("The Beatles") == loose_key("Beatles, The") == "beatles"
    assert loose_key("Simon & Garfunkel") == "simon and garfunkel"
    documents = ["Weird Fishes", "Radiohead live", "jazz trio", "Radiohead"]
    scores = bm25_scores("radiohead songs", documents)
    # only documents sharing a non-stopword term score; the shorter one scores higher
    assert scores[0] == scores[2] == 0.0
    assert scores[3] > scores[1] > 0.0


def thread(name, comments, submission=(), text="", subreddit="indieheads"):
    record = thread_record(
        name, subreddit, "q", comments, ["x"], ["x"], submission=submission, text=text
    )
    return parse_line(json.dumps(record), 1)


def test_cards_from_threads_attribute_count_and_cite_their_sources():
    threads = [
        thread(
            "t3_a",
            [
                {
                    "artists": ["Radiohead"],
                    "songs": ["Reckoner", "Nude"],
                    "albums": ["In Rainbows"],
                },
                {"artists": ["Radiohead"], "songs": ["“Reckoner”"]},
            ],
            submission=["Portishead"],
            text="I love [Reckoner](https://youtu.be/abc) and [x](https://example.com)",
        ),
        thread(
            "t3_b",
            [{"artists": ["Portishead"], "songs": ["Roads"]}, {"songs": ["Reckoner"]}],
            subreddit="jazz",
        ),
    ]
    cards = {c.id: c for c in cards_from_threads(threads)}
    reckoner = cards["reckoner"]
    assert reckoner.kind == "song" and reckoner.mentions == 3
    assert reckoner.artists == ["Radiohead"] and reckoner.albums == ["In Rainbows"]
    assert reckoner.communities == ["indieheads", "jazz"]
    assert reckoner.youtube_urls == ["https://youtu.be/abc"]
    assert reckoner.related[0] in {"Portishead", "Roads"} and "Nude" in reckoner.related
    assert reckoner.provenance["mention"] == ["t3_a", "t3_b"]
    assert reckoner.provenance["artist:Radiohead"] == ["t3_a"]
    assert reckoner.provenance["youtube:https://youtu.be/abc"] == ["t3_a"]
    assert reckoner.provenance["related:Portishead"] == ["t3_a", "t3_b"]
    assert cards["portishead"].kind == "artist" and cards["radiohead"].artists == []
    assert "Reckoner (song); by Radiohead; album In Rainbows" in reckoner.text
    redacted = reckoner.redacted({"radiohead", "portishead"})
    assert redacted.artists == [] and "Portishead" not in redacted.related
    assert not any("Radiohead" in fact or "Portishead" in fact for fact in redacted.provenance)


def test_a_cards_communities_count_threads_not_comments():
    """Three fans of one r/jazz thread naming Reckoner do not outweigh two r/indieheads
    threads recommending it: "not jazz" must not lose a song indie fans keep recommending."""
    threads = [
        thread("t3_j", [{"songs": ["Reckoner"]}] * 3, subreddit="jazz"),
        thread("t3_i1", [{"songs": ["Reckoner"]}]),
        thread("t3_i2", [{"songs": ["Reckoner"]}]),
    ]
    reckoner = next(c for c in cards_from_threads(threads) if c.id == "reckoner")
    assert reckoner.communities == ["indieheads", "jazz"] and reckoner.mentions == 5


def test_a_card_cites_the_best_voted_thread_of_its_home_community():
    """Bach is cited from r/classicalmusic, where two threads recommend him, not from the
    one r/hiphopheads thread whose upvoted aside named him."""
    from tools.catalog import best_thread

    def voted(name, subreddit, votes):
        record = thread_record(name, subreddit, "q", [{"artists": ["Bach"]}], ["x"], ["x"])
        record["comments"][0]["score"] = float(votes)
        record["url"] = f"https://www.reddit.com/r/{subreddit}/comments/{name}/"
        return parse_line(json.dumps(record), 1)

    threads = [voted("t3_c1", "classicalmusic", 5), voted("t3_c2", "classicalmusic", 9),
               voted("t3_h", "hiphopheads", 400)]  # fmt: skip
    bach = next(c for c in cards_from_threads(threads) if c.id == "bach")
    cited = best_thread(bach)
    assert (cited.community, cited.votes) == ("classicalmusic", 9)
    elsewhere = [t for t in bach.threads if t.community == "hiphopheads"]
    assert best_thread(bach.model_copy(update={"threads": elsewhere})).votes == 400


def test_a_tie_of_communities_goes_to_the_better_voted_thread():
    """ "Happy", one thread in each of two communities, is first where its comment was
    upvoted most: the engine's seed community and the cited thread follow that order."""

    def voted(name, subreddit, votes):
        record = thread_record(name, subreddit, "q", [{"songs": ["Happy"]}], ["x"], ["x"])
        record["comments"][0]["score"] = float(votes)
        return parse_line(json.dumps(record), 1)

    threads = [voted("t3_c", "classicalmusic", 2), voted("t3_i", "indieheads", 19)]
    happy = next(c for c in cards_from_threads(threads) if c.id == "happy")
    assert happy.communities == ["indieheads", "classicalmusic"]


def test_a_name_is_shown_as_most_people_spelled_it_and_a_tie_not_in_capitals():
    threads = [
        thread("t3_a", [{"songs": ["MY BODY IS A CAGE"]}, {"songs": ["my body is a cage"]}]),
        thread("t3_b", [{"songs": ["My Body Is a Cage"]}, {"songs": ["Reckoner"]}]),
        thread("t3_c", [{"songs": ["reckoner"]}, {"songs": ["reckoner"]}]),
    ]
    names = {c.id: c.name for c in cards_from_threads(threads)}
    assert names["my body is a cage"] == "My Body Is a Cage"
    assert names["reckoner"] == "reckoner"  # two comments against one: still the commonest


def test_user_tracks_in_csv_and_jsonl(tmp_path):
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(
        "Title,Artist,Album,Genre,YouTube_URL\n"
        'Teardrop,Massive Attack,Mezzanine,"trip hop, downtempo",https://youtu.be/u7K72X4eo_s\n'
        'September,"Earth, Wind & Fire",,,\n',
        encoding="utf-8",
    )
    cards = {c.id: c for c in cards_from_tracks(read_user_tracks(csv_file))}
    assert cards["teardrop"].artists == ["Massive Attack"] and cards["teardrop"].tags == [
        "downtempo",
        "trip hop",
    ]
    assert cards["teardrop"].provenance["mention"] == ["mine.csv:2"]
    assert cards["earth, wind & fire"].kind == "artist"
    assert cards["september"].artists == ["Earth, Wind & Fire"]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(
        json.dumps({"title": "Roads", "artist": ["Portishead"], "tags": ["trip hop"]}) + "\n"
    )
    assert {c.name for c in cards_from_tracks(read_user_tracks(jsonl))} == {"Roads", "Portishead"}


@pytest.mark.parametrize(
    ("content", "suffix", "sentence"),
    [
        ("artist\nRadiohead\n", ".csv", "needs a header row with a 'title' column"),
        ("title,artist\n,Radiohead\n", ".csv", "mine.csv:2: 'title' is missing or empty"),
        ("title,artist\nA,B,C\n", ".csv", "more cells than the header"),
        ('{"title": "Roads"}\n{"title": \n', ".jsonl", "mine.jsonl:2: not valid JSON"),
        ('["Roads"]\n', ".jsonl", "must be an object"),
        (
            '{"title": "Roads", "youtube_url": "https://evil.example/x"}\n',
            ".jsonl",
            "is not a YouTube link",
        ),
        ('{"title": "Roads", "tags": 5}\n', ".jsonl", "'tags' should be text or a list of text"),
        ("", ".csv", "header row"),
        ("title\nRoads\n", ".txt", "should end in .csv or .jsonl"),
    ],
)
def test_a_malformed_user_row_gets_one_sentence_naming_it(tmp_path, content, suffix, sentence):
    path = tmp_path / f"mine{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=sentence) as caught:
        read_user_tracks(path)
    assert "\n" not in str(caught.value)


def test_html_entities_in_names_are_read():
    """Reddit's text escapes "&": a name shows "Armor & Sword", not "Armor &amp; Sword"."""
    threads = [thread("t3_a", [{"songs": ["Armor &amp; Sword"]}, {"songs": ["Here &amp; Now"]}])]
    names = {c.name for c in cards_from_threads(threads)}
    assert names == {"Armor & Sword", "Here & Now"}
