"""LangChain tools over the music-entity catalog: search, look up, rank a candidate pool.

Conventions:

- Each tool is a plain typed function with a docstring the model reads; ``CATALOG_TOOLS``
  collects them for ``create_agent``.
- Which catalog a tool reads is not an argument the model chooses: it comes from the
  turn's runtime context (:class:`CatalogContext`). Chat turns get the full catalog;
  benchmark replay gets the candidate-blind view of docs/evaluation.md, so no tool can leak
  whether a candidate is known to the catalog.
- Every result is the :class:`tools.outcome.ToolOutcome` envelope: ``{"ok": true, "data":
  …}`` or ``{"ok": false, "error": one sentence}``; tools never raise for a problem a user
  or a model can cause, so the model can recover (docs/architecture.md). The data are the
  typed payloads below (:class:`CardFacts`, :class:`SearchData`, …), so the offline brain
  and an LLM read the same facts.
- The context also carries the session's standing exclusions (``exclude_entities``,
  ``exclude_artists``): what was rejected or already recommended. Tools that recommend
  (:mod:`tools.recommend`) add them to whatever the model asks, so nothing comes back.
- ``rank_candidates`` scores the pool of the turn (``CatalogContext.candidates``) and
  returns indices into that list, best first, every index exactly once; equal scores keep
  the shown (seeded, shuffled) order. The scorer is the turn's ``CatalogContext.scorer``
  (benchmark replay passes the ``hybrid`` evals system's leak-free ranker) or
  :func:`score_pool`, a query-only BM25 + MiniLM fusion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from langchain.tools import ToolRuntime, tool
from pydantic import BaseModel

from tools.outcome import ToolOutcome


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

    ``catalog`` is None when no catalog could be opened; ``unavailable`` then says why (and
    ``engine``, the recommender of :mod:`tools.recommend`, is None for the same reason).
    ``candidates`` is the pool of a benchmark-replay turn (empty in chat); ``scorer``
    replaces :func:`score_pool` for it (replay passes the ``hybrid`` system's ranker).
    ``exclude_entities`` / ``exclude_artists`` are the session's standing exclusions.
    """

    catalog: CatalogLike | None = None
    unavailable: str = "no catalog is configured"
    candidates: tuple[str, ...] = ()
    community: str | None = None
    scorer: PoolScorer | None = field(default=None, repr=False)
    engine: Any = field(default=None, repr=False)  # vectorstore.engine.RecommendationEngine
    exclude_entities: tuple[str, ...] = ()
    exclude_artists: tuple[str, ...] = ()


MAX_K = 25
MAX_QUERY_CHARS = 2000  # the catalog refuses longer queries


class Unavailable(Exception):
    """A tool cannot run this turn; the message is the one sentence the model reads."""


def from_context(runtime: ToolRuntime, name: str, label: str) -> Any:
    """The turn's ``name`` (its catalog, its engine) from the runtime context, or
    :class:`Unavailable` with the sentence saying why the ``label`` cannot be used."""
    value = getattr(runtime.context, name, None)
    if value is None:
        reason = getattr(runtime.context, "unavailable", "no catalog is configured")
        raise Unavailable(f"The {label} is not available ({reason}); answer without it.")
    return value


def _catalog(runtime: ToolRuntime) -> CatalogLike:
    return from_context(runtime, "catalog", "catalog")


class ThreadCitation(BaseModel):
    """The thread a card was most upvoted in as a recommendation: what a reply cites."""

    url: str
    community: str
    votes: int


class CardFacts(BaseModel):
    """The facts of a catalog card a reply may cite, trimmed to what fits a prompt."""

    id: str
    name: str
    kind: str
    artists: list[str] = []
    communities: list[str] = []
    #: Community → threads recommending it there (empty when the card cites no threads).
    threads_in: dict[str, int] = {}
    related: list[str] = []
    youtube_urls: list[str] = []
    mentions: int = 0
    score: float | None = None
    best_thread: ThreadCitation | None = None
    #: Other spellings the catalog merged into this card ("Chopin" for "Frédéric Chopin").
    aliases: list[str] = []


def best_thread(card: Any) -> ThreadCitation | None:
    """The thread a reply cites for ``card``: the most upvoted one recommending it in the
    community that recommended it most (Bach is cited from r/classicalmusic, not from one
    hip-hop thread's upvoted aside), else in any (cards without threads have none)."""
    cited = [t for t in getattr(card, "threads", ()) or () if t.role == "recommended" and t.url]
    if not cited:
        return None
    home = (getattr(card, "communities", None) or [None])[0]
    top = max(cited, key=lambda t: (t.community == home, t.votes))
    return ThreadCitation(url=top.url, community=top.community, votes=top.votes)


def threads_by_community(card: Any) -> dict[str, int]:
    """Community → threads recommending ``card`` there (none for a card without threads)."""
    counts: dict[str, int] = {}
    for thread in getattr(card, "threads", ()) or ():
        if thread.role == "recommended":
            counts[thread.community] = counts.get(thread.community, 0) + 1
    return counts


def card_facts(card: Any, score: float | None = None) -> CardFacts:
    """:class:`CardFacts` of a card (any object with the ``EntityCard`` fields)."""
    return CardFacts(
        best_thread=best_thread(card),
        id=card.id,
        name=card.name,
        kind=card.kind,
        artists=list(getattr(card, "artists", ()) or ())[:3],
        communities=list(getattr(card, "communities", ()) or ())[:3],
        threads_in=threads_by_community(card),
        related=list(getattr(card, "related", ()) or ())[:5],
        youtube_urls=list(getattr(card, "youtube_urls", ()) or ())[:1],
        mentions=int(getattr(card, "mentions", 0) or 0),
        score=None if score is None else round(float(score), 3),
        aliases=list(getattr(card, "aliases", ()) or ())[:5],
    )


class SearchData(BaseModel):
    hits: list[CardFacts]


class LookupData(BaseModel):
    matches: list[CardFacts]


class RankedCandidate(BaseModel):
    index: int
    name: str
    score: float


class RankData(BaseModel):
    order: list[int]
    top: list[RankedCandidate]


def enveloped(run: Callable[[], BaseModel]) -> str:
    """Run a tool body and wrap its payload, or its one-sentence refusal, in the envelope."""
    try:
        return ToolOutcome.success(run()).to_content()
    except Unavailable as refusal:
        return ToolOutcome.failure(str(refusal)).to_content()


@tool
def search_catalog(
    query: str,
    runtime: ToolRuntime[Any],
    k: int = 8,
    community: str | None = None,
    artist: str | None = None,
    kind: Literal["artist", "album", "song"] | None = None,
) -> str:
    """Search the music catalog by description (words, genre, mood, tags heard in a clip).

    Use it for a descriptive request the recommender cannot answer, or to find a name the
    user half-remembers. For recommendations prefer ``recommend``: it cites evidence and
    respects what the user rejected.

    Args:
        query: what to look for, e.g. "dreamy shoegaze with female vocals".
        k: how many results (1-25).
        community: optional Reddit community to prefer, e.g. "indieheads", "metal".
        artist: only works credited to this artist (for "more by Radiohead").
        kind: only artists, albums or songs.

    Returns {"ok": true, "data": {"hits": [{"id", "name", "kind", "artists",
    "communities", "threads_in" (community → threads), "related", "youtube_urls",
    "mentions", "score", "best_thread": {"url", "community", "votes"}}]}} or {"ok": false,
    "error"}.
    """

    def run() -> SearchData:
        catalog = _catalog(runtime)
        if not query.strip():
            raise Unavailable("The search query is empty; describe what to look for.")
        hits = catalog.search(
            query[:MAX_QUERY_CHARS],
            k=max(1, min(int(k), MAX_K)),
            community=community or None,
            artist=artist or None,
            kind=kind or None,
        )
        return SearchData(hits=[card_facts(h.card, h.score) for h in hits])

    return enveloped(run)


@tool
def lookup_entity(name: str, runtime: ToolRuntime[Any], k: int = 3) -> str:
    """Look up an artist, album or song by name (tolerates spelling variants).

    Use it to check a name before recommending it, or to get its facts and links.

    Args:
        name: the entity as the user wrote it, e.g. "Radiohead" or "OK Computer".
        k: how many close matches (1-10).

    Returns {"ok": true, "data": {"matches": [card facts with a match score]}}; an empty
    list means the catalog does not know the name.
    """

    def run() -> LookupData:
        catalog = _catalog(runtime)
        if not name.strip():
            raise Unavailable("The name to look up is empty.")
        hits = catalog.lookup(name[:200], k=max(1, min(int(k), 10)))
        return LookupData(matches=[card_facts(h.card, h.score) for h in hits])

    return enveloped(run)


@tool
def rank_candidates(query: str, runtime: ToolRuntime[Any]) -> str:
    """Rank the numbered candidate list of this turn for the user's request.

    Use it only in a turn that has a candidate list (benchmark replay). The candidates
    come from the turn; pass only what the user wants (their request plus anything learned
    from the audio or the catalog).

    Args:
        query: the request to rank for.

    Returns {"ok": true, "data": {"order": [candidate indices, best first, each exactly
    once], "top": [{"index", "name", "score"}] for the first ten}}.
    """

    def run() -> RankData:
        context = runtime.context
        candidates = tuple(getattr(context, "candidates", ()) or ())
        if not candidates:
            raise Unavailable("This turn has no candidate list to rank.")
        scorer = getattr(context, "scorer", None) or score_pool
        scores = list(scorer(query, candidates))
        # Stable sort: ties keep the shown (already shuffled) order, which is seeded.
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        top = [
            RankedCandidate(index=i, name=candidates[i], score=round(float(scores[i]), 4))
            for i in order[:10]
        ]
        return RankData(order=order, top=top)

    return enveloped(run)


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
    (docs/evaluation.md); the catalog tools called before it supply the evidence a reply cites.
    """
    from vectorstore.text import bm25_scores, standardised

    lexical = np.asarray(bm25_scores(query, list(candidates)), dtype=np.float64)
    vectors = name_vectors([*candidates, query])
    dense = (vectors[:-1] @ vectors[-1]).astype(np.float64)
    fused = LEXICAL_WEIGHT * standardised(lexical) + DENSE_WEIGHT * standardised(dense)
    return fused.tolist()
