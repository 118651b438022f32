"""Search results and the query rules every catalog applies.

Conventions
-----------
- A :class:`SearchHit` carries the card, a fused score (higher is better; reciprocal rank
  fusion of the dense and lexical rankings, or a fuzzy ratio in [0, 1] for lookups) and
  the 1-based rank the hit had in each component (None where it was not retrieved).
- Queries are stripped; an empty one, or one over :data:`MAX_QUERY_CHARS`, is refused with
  a :class:`CatalogError` sentence rather than silently truncated or answered at random.
- Queries in any script are searched; :func:`query_note` returns the one sentence a UI
  should show when the query has no Latin letters (the embedding model is English-first,
  so such queries mostly rely on exact name matches).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vectorstore.cards import EntityCard, Kind
from vectorstore.errors import CatalogError
from vectorstore.text import entity_key, reciprocal_rank_fusion

MAX_QUERY_CHARS = 2000  # MusiCRS queries reach ~1,000 characters; twice that is not a query
LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


@dataclass(frozen=True)
class SearchHit:
    """One search result: the card, its score, and its rank in each component ranking."""

    card: EntityCard
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


def checked_query(query: str) -> str:
    """The stripped query, or a :class:`CatalogError` saying what is wrong with it."""
    if not isinstance(query, str):
        raise CatalogError(f"The query should be text, not {type(query).__name__}.")
    text = query.strip()
    if not text:
        raise CatalogError("The query is empty; type a song, an artist, or the music you want.")
    if len(text) > MAX_QUERY_CHARS:
        raise CatalogError(
            f"The query is {len(text):,} characters long; keep it under {MAX_QUERY_CHARS:,} "
            "by naming the songs, artists or mood you want."
        )
    return text


def query_note(query: str) -> str | None:
    """A sentence to show beside results of a query without Latin letters, else None."""
    if LATIN.search(query):
        return None
    return (
        "The catalog is mostly English and its model reads English best, so results for this "
        "query rely on names written the same way; try an English description too."
    )


class CardFilters:
    """Boolean masks over a list of cards for the kind, community and artist filters
    (an artist admits its own card and the cards attributed to it)."""

    def __init__(self, cards: Sequence[EntityCard]) -> None:
        self.kinds = np.array([card.kind for card in cards])
        self.communities = [frozenset(card.communities) for card in cards]
        self.credits = [frozenset({card.id, *map(entity_key, card.artists)}) for card in cards]

    def mask(self, kind: Kind | None, community: str | None, artist: str | None) -> np.ndarray:
        mask = np.ones(len(self.kinds), dtype=bool)
        if kind is not None:
            mask &= self.kinds == kind
        if community is not None:
            wanted = community_name(community)
            mask &= np.fromiter((wanted in c for c in self.communities), bool, len(mask))
        if artist is not None:
            key = entity_key(artist)
            mask &= np.fromiter((key in c for c in self.credits), bool, len(mask))
        return mask


def community_name(community: str) -> str:
    """``"r/Jazz"`` → ``"jazz"``: communities are stored as lower-case subreddit names."""
    return community.strip().lower().removeprefix("r/")


def fused_best(dense: dict[int, int], lexical: dict[int, int], k: int) -> list[tuple[int, float]]:
    """The ``k`` best documents by reciprocal rank fusion, ties by document index."""
    fused = reciprocal_rank_fusion(dense, lexical)
    return [(i, fused[i]) for i in sorted(fused, key=lambda i: (-fused[i], i))[:k]]
