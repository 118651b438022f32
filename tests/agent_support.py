"""Small real stand-ins for the catalog and audio interfaces the agent tests need.

``MiniCatalog`` implements the read interface of ``vectorstore.open_catalog()`` (search,
lookup, get) over a handful of cards with word-overlap and fuzzy scoring, so the agent's
tools run for real without building the Chroma index. ``tone_wav`` writes a short sine
clip. These are used only where the real packages are not needed for what a test checks.
"""

from __future__ import annotations

import math
import re
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz


@dataclass(frozen=True)
class Card:
    id: str
    name: str
    kind: str
    artists: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    mentions: int = 1
    youtube_urls: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Hit:
    card: Card
    score: float


CARDS = (
    Card(
        "a:boc",
        "Boards of Canada",
        "artist",
        ("Boards of Canada",),
        (),
        ("electronicmusic",),
        12,
        ("https://www.youtube.com/watch?v=boc00000000",),
        ("Aphex Twin", "Tycho"),
        text="dreamy ambient electronic idm nostalgic warm synths",
    ),
    Card(
        "a:tycho",
        "Tycho",
        "artist",
        ("Tycho",),
        (),
        ("electronicmusic",),
        7,
        ("https://www.youtube.com/watch?v=tycho000000",),
        ("Boards of Canada",),
        text="chillwave ambient electronic sunny guitars",
    ),
    Card(
        "a:aphex",
        "Aphex Twin",
        "artist",
        ("Aphex Twin",),
        (),
        ("electronicmusic",),
        9,
        (),
        ("Boards of Canada",),
        text="idm electronic glitch ambient",
    ),
    Card(
        "s:paranoid",
        "Paranoid Android",
        "song",
        ("Radiohead",),
        ("OK Computer",),
        ("indieheads",),
        5,
        (),
        ("Radiohead",),
        text="alternative rock radiohead epic guitars",
    ),
    Card(
        "a:radiohead",
        "Radiohead",
        "artist",
        ("Radiohead",),
        (),
        ("indieheads",),
        20,
        (),
        ("Portishead",),
        text="alternative rock art rock electronic",
    ),
    Card(
        "a:sleep",
        "Sleep",
        "artist",
        ("Sleep",),
        (),
        ("metal",),
        4,
        (),
        ("Electric Wizard",),
        text="stoner doom metal heavy riffs slow",
    ),
)

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


@dataclass
class MiniCatalog:
    cards: tuple[Card, ...] = CARDS
    excluded: frozenset[str] = field(default_factory=frozenset)

    def _cards(self) -> list[Card]:
        return [c for c in self.cards if c.name.lower() not in self.excluded]

    def search(self, query, k=10, *, kind=None, community=None, artist=None):
        words = _words(query)
        hits = []
        for card in self._cards():
            if kind and card.kind != kind:
                continue
            overlap = len(words & _words(f"{card.name} {card.text} {' '.join(card.artists)}"))
            if overlap:
                bonus = 0.1 if community and community in card.communities else 0.0
                hits.append(Hit(card, min(1.0, overlap / (len(words) or 1) + bonus)))
        return sorted(hits, key=lambda h: -h.score)[:k]

    def lookup(self, name, k=5):
        hits = [Hit(c, fuzz.WRatio(name, c.name) / 100) for c in self._cards()]
        return [h for h in sorted(hits, key=lambda h: -h.score) if h.score >= 0.8][:k]

    def get(self, entity_id):
        return next((c for c in self._cards() if c.id == entity_id), None)


def tone_wav(path: Path, seconds: float = 2.0, frequency: float = 440.0, rate: int = 22050) -> Path:
    """A mono 16-bit sine clip."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path
