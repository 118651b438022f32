"""Synthetic music libraries for the scale bench: seeded, shaped like a user's track file.

Conventions
-----------
- :func:`synthetic_tracks` is a pure function of ``(count, seed)``: the same arguments give
  the same rows in any process, so a bench at 10k, 100k or 1M tracks is repeatable.
- Shape (the user-file ingest of :mod:`vectorstore.cards` turns rows into cards): every
  track has a title, one artist, one album and two tags, like the 100,000-track file of the
  catalog-size issue (≈1.55 cards per track once artists and albums are added). Albums hold
  :data:`TRACKS_PER_ALBUM` tracks on average, artists :data:`ALBUMS_PER_ARTIST` albums.
- Names mix English words (so descriptive searches hit many cards, as in a real library)
  with made-up words (so names are distinct at a million tracks); titles are unique by
  construction, which keeps one song card per track.
- :func:`bench_queries` draws search texts, typed names (with one typo in every other one)
  for lookup, from the same rows, seeded too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from vectorstore.cards import TrackRow

TRACKS_PER_ALBUM = 3.0  # a library holds many singles and EPs beside full albums
ALBUMS_PER_ARTIST = 1.5
TAGS = (
    "rock indie pop jazz blues soul funk disco house techno ambient drone shoegaze dream-pop "
    "post-rock metal doom sludge punk hardcore emo folk country bluegrass americana hip-hop "
    "trap boom-bap r&b gospel reggae dub ska afrobeat bossa-nova samba cumbia salsa tango "
    "flamenco classical baroque minimalism opera soundtrack chiptune synthwave vaporwave "
    "lo-fi trip-hop downtempo idm breakbeat jungle drum-and-bass garage grime dubstep "
    "krautrock psychedelic progressive new-wave post-punk goth industrial noise experimental"
).split()
WORDS = (
    "love night blue fire summer rain heart dream light dark gold river moon star sun "
    "city road home wild young lost last first slow fast cold warm black white red green "
    "ocean glass paper silver electric sweet bitter broken golden hidden secret quiet loud "
    "morning evening midnight winter spring autumn garden forest desert mountain island "
    "shadow echo mirror window door heaven ghost angel devil king queen child stranger "
    "lover friend memory song dance fever storm thunder wave tide smoke stone iron velvet"
).split()
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["sha", "tro", "chi", "qua"]


@dataclass(frozen=True)
class BenchQueries:
    """What the scale bench asks a catalog: search texts and names typed for lookup."""

    searches: tuple[str, ...]
    lookups: tuple[str, ...]


def _made_up(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _phrase(rng: random.Random, words: int) -> str:
    """``words`` words, each English or made up (one in three), title-cased."""
    return " ".join(
        _made_up(rng) if rng.random() < 1 / 3 else rng.choice(WORDS).capitalize()
        for _ in range(words)
    )


def synthetic_tracks(count: int, seed: int = 0) -> Iterator[TrackRow]:
    """``count`` tracks of a seeded synthetic library (see the module conventions)."""
    rng = random.Random(seed)
    albums = max(1, round(count / TRACKS_PER_ALBUM))
    artists = max(1, round(albums / ALBUMS_PER_ARTIST))
    # A serial in made-up syllables keeps every name distinct without looking numbered.
    artist_names = [f"{_phrase(rng, rng.randint(1, 2))} {_serial(i)}" for i in range(artists)]
    album_artist = [rng.randrange(artists) for _ in range(albums)]
    album_names = [f"{_phrase(rng, rng.randint(1, 3))} {_serial(i)}" for i in range(albums)]
    for number in range(count):
        album = rng.randrange(albums)
        yield TrackRow(
            source=f"synthetic:{number + 1}",
            title=f"{_phrase(rng, rng.randint(1, 3))} {_serial(number)}",
            artists=(artist_names[album_artist[album]],),
            album=album_names[album],
            tags=tuple(rng.sample(TAGS, 2)),
        )


def _serial(number: int) -> str:
    """A distinct pronounceable word for each number (base-len(SYLLABLES) digits)."""
    digits = []
    while True:
        number, digit = divmod(number, len(SYLLABLES))
        digits.append(SYLLABLES[digit])
        if number == 0:
            return "".join(reversed(digits)).capitalize()


def write_tracks(path: Path, count: int, seed: int = 0) -> Path:
    """Write :func:`synthetic_tracks` as a JSONL track file the build command reads."""
    with path.open("w", encoding="utf-8") as handle:
        for row in synthetic_tracks(count, seed):
            record = {"title": row.title, "artist": row.artists[0], "album": row.album}
            handle.write(json.dumps({**record, "tags": list(row.tags)}) + "\n")
    return path


def bench_queries(count: int, tracks: int, seed: int = 0) -> BenchQueries:
    """``count`` search texts (tags with a word, or a title with its artist, alternating)
    and ``count`` typed names (titles and artists, a typo in every other one) drawn from
    the library of ``tracks`` tracks with ``seed``."""
    rng = random.Random(seed + 1)
    wanted = set(rng.sample(range(tracks), min(count, tracks)))
    rows = [row for number, row in enumerate(synthetic_tracks(tracks, seed)) if number in wanted]
    searches, lookups = [], []
    for number in range(count):
        row = rows[number % len(rows)]
        if number % 2:
            searches.append(f"{row.title} {row.artists[0]}")
        else:
            searches.append(f"{rng.choice(WORDS)} {' '.join(row.tags)} music")
        name = row.title if number % 4 < 2 else row.artists[0]
        lookups.append(_typo(rng, name) if number % 2 else name.lower())
    return BenchQueries(tuple(searches), tuple(lookups))


def _typo(rng: random.Random, name: str) -> str:
    """``name`` with two neighbouring letters swapped (the commonest typing slip)."""
    letters = [i for i in range(len(name) - 1) if name[i].isalpha() and name[i + 1].isalpha()]
    if not letters:
        return name
    i = rng.choice(letters)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def sizes(text: str) -> Sequence[int]:
    """``"10000,100000"`` → ``(10000, 100000)``; a bad list raises ``ValueError``."""
    try:
        values = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ValueError(f"{text!r} is not a comma-separated list of positive track counts")
    return values
