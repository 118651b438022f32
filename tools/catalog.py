"""LangChain tools over the music-entity catalog: search, look up, rank a candidate pool.

Conventions:

- Each tool is a plain typed function with a docstring the model reads; ``CATALOG_TOOLS``
  collects them for ``create_agent``.
- Which catalog a tool reads is not an argument the model chooses: it comes from the
  turn's runtime context (:class:`CatalogContext`). Chat turns get the full catalog;
  benchmark replay gets the candidate-blind view of DESIGN.md §5, so no tool can leak
  whether a candidate is known to the catalog.
- Tools never raise for a problem a user or a model can cause: they return one sentence
  starting with ``"Error:"`` so the model can recover (DESIGN.md §4).
- Results are compact JSON (``ensure_ascii=False``) so the offline brain and an LLM read
  the same facts.
- ``rank_candidates`` scores the pool of the turn (``CatalogContext.candidates``) and
  returns indices into that list, best first, every index exactly once; equal scores keep
  the shown (seeded, shuffled) order. The scorer is the turn's ``CatalogContext.scorer``
  (benchmark replay passes the ``hybrid`` evals system's leak-free ranker) or
  :func:`score_pool`, a query-only BM25 + MiniLM fusion.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from langchain.tools import ToolRuntime, tool


class CardLike(Protocol):
    """The fields of ``vectorstore``'s ``EntityCard`` the tools read."""

    id: str
    name: str
    kind: str
    artists: Sequence[str]
    communities: Sequence[str]
    mentions: int
    youtube_urls: Sequence[str]
    related: Sequence[str]


class HitLike(Protocol):
    card: Any
    score: float


class CatalogLike(Protocol):
    """The read interface of ``vectorstore.open_catalog()`` and its leak-free views."""

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        kind: str | None = None,
        community: str | None = None,
        artist: str | None = None,
    ) -> list[Any]: ...

    def lookup(self, name: str, k: int = 5) -> list[Any]: ...


#: Scores a candidate pool for a query: ``(query, candidates) -> one score per candidate``.
PoolScorer = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass
class CatalogContext:
    """The runtime context of one turn, as far as the catalog tools are concerned.

    ``catalog`` is None when no catalog could be opened; ``unavailable`` then says why.
    ``candidates`` is the pool of a benchmark-replay turn (empty in chat); ``scorer``
    replaces :func:`score_pool` for it (replay passes the ``hybrid`` system's ranker).
    """

    catalog: CatalogLike | None = None
    unavailable: str = "no catalog is configured"
    candidates: tuple[str, ...] = ()
    community: str | None = None
    scorer: PoolScorer | None = field(default=None, repr=False)


MAX_K = 25
MAX_QUERY_CHARS = 2000  # the catalog refuses longer queries


def _catalog(runtime: ToolRuntime) -> CatalogLike | str:
    context = runtime.context
    catalog = getattr(context, "catalog", None)
    if catalog is None:
        reason = getattr(context, "unavailable", "no catalog is configured")
        return f"Error: the catalog is not available ({reason}); answer without it."
    return catalog


def card_facts(card: Any, score: float | None = None) -> dict[str, Any]:
    """The facts of a card a reply may cite, trimmed to what fits a prompt."""
    facts: dict[str, Any] = {"id": card.id, "name": card.name, "kind": card.kind}
    for key, limit in (("artists", 3), ("communities", 3), ("related", 5), ("youtube_urls", 1)):
        values = list(getattr(card, key, ()) or ())[:limit]
        if values:
            facts[key] = values
    if getattr(card, "mentions", 0):
        facts["mentions"] = card.mentions
    if score is not None:
        facts["score"] = round(float(score), 3)
    return facts


def _dump(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@tool
def search_catalog(
    query: str, runtime: ToolRuntime[Any], k: int = 8, community: str | None = None
) -> str:
    """Search the music catalog for artists, albums and songs matching a description.

    Args:
        query: what to look for, e.g. "dreamy shoegaze with female vocals" or tags heard
            in the user's clip.
        k: how many results (1-25).
        community: optional Reddit community to prefer, e.g. "indieheads", "metal".

    Returns JSON: {"hits": [{"id", "name", "kind", "artists", "communities", "related",
    "youtube_urls", "mentions", "score"}]}.
    """
    catalog = _catalog(runtime)
    if isinstance(catalog, str):
        return catalog
    if not query.strip():
        return "Error: the search query is empty; describe what to look for."
    hits = catalog.search(
        query[:MAX_QUERY_CHARS], k=max(1, min(int(k), MAX_K)), community=community or None
    )
    return _dump({"hits": [card_facts(h.card, h.score) for h in hits]})


@tool
def lookup_entity(name: str, runtime: ToolRuntime[Any], k: int = 3) -> str:
    """Look up an artist, album or song by name (tolerates spelling variants).

    Args:
        name: the entity as the user wrote it, e.g. "Radiohead" or "OK Computer".
        k: how many close matches (1-10).

    Returns JSON: {"matches": [card facts with a match score]}; an empty list means the
    catalog does not know the name.
    """
    catalog = _catalog(runtime)
    if isinstance(catalog, str):
        return catalog
    if not name.strip():
        return "Error: the name to look up is empty."
    hits = catalog.lookup(name[:200], k=max(1, min(int(k), 10)))
    return _dump({"matches": [card_facts(h.card, h.score) for h in hits]})


@tool
def rank_candidates(query: str, runtime: ToolRuntime[Any]) -> str:
    """Rank the numbered candidate list of this turn for the user's request.

    Use it when the user message carries a numbered candidate list to rank. The
    candidates themselves come from the turn; pass only what the user wants (their request
    plus anything learned from the audio or the catalog).

    Args:
        query: the request to rank for.

    Returns JSON: {"order": [candidate indices, best first, each exactly once],
    "top": [{"index", "name", "score"}] for the first ten}.
    """
    context = runtime.context
    candidates = tuple(getattr(context, "candidates", ()) or ())
    if not candidates:
        return "Error: this turn has no candidate list to rank."
    scorer = getattr(context, "scorer", None) or score_pool
    scores = list(scorer(query, candidates))
    # Stable sort: ties keep the shown (already shuffled) order, which is seeded.
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    top = [
        {"index": i, "name": candidates[i], "score": round(float(scores[i]), 4)} for i in order[:10]
    ]
    return _dump({"order": order, "top": top})


CATALOG_TOOLS = [search_catalog, lookup_entity, rank_candidates]


# --- the pool scorer ----------------------------------------------------------------------

#: Fusion weights of the z-scored features (the first tuning of ``hybrid`` on the dev split).
LEXICAL_WEIGHT = 0.5
DENSE_WEIGHT = 0.5


class NameVectors:
    """MiniLM vectors of texts, memoised per process (candidate names recur across pools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memo: dict[str, np.ndarray] = {}
        self._embedder: Any = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._embedder is None:
                from vectorstore.embeddings import MiniLMEmbeddingFunction

                self._embedder = MiniLMEmbeddingFunction()
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if missing:
                self._memo.update(zip(missing, self._embedder.encode(missing), strict=True))
            return np.stack([self._memo[t] for t in texts])


name_vectors = NameVectors()


def score_pool(query: str, candidates: Sequence[str]) -> list[float]:
    """Score each candidate for ``query``: BM25 of the query against the candidate names
    (idf from the pool itself) and MiniLM cosine similarity of query and name, each
    z-scored within the pool, fused with equal weights.

    The catalog is not consulted at all, so the scores cannot leak pool membership
    (DESIGN.md §5); the catalog tools called before it supply the evidence a reply cites.
    """
    from vectorstore.text import bm25_scores, standardised

    lexical = np.asarray(bm25_scores(query, list(candidates)), dtype=np.float64)
    vectors = name_vectors([*candidates, query])
    dense = (vectors[:-1] @ vectors[-1]).astype(np.float64)
    fused = LEXICAL_WEIGHT * standardised(lexical) + DENSE_WEIGHT * standardised(dense)
    return fused.tolist()
