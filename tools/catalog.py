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
  returns indices into that list, best first, with every index exactly once.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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


#: A ranker of a candidate pool: ``(catalog, query, candidates, community) -> scores``.
PoolScorer = Callable[[CatalogLike, str, Sequence[str], str | None], Sequence[float]]


@dataclass
class CatalogContext:
    """The runtime context of one turn, as far as the catalog tools are concerned.

    ``catalog`` is None when no catalog could be opened; ``unavailable`` then says why.
    ``candidates`` is the pool of a benchmark-replay turn (empty in chat).
    """

    catalog: CatalogLike | None = None
    unavailable: str = "no catalog is configured"
    candidates: tuple[str, ...] = ()
    community: str | None = None
    scorer: PoolScorer | None = field(default=None, repr=False)


MAX_K = 25


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
    hits = catalog.search(query[:500], k=max(1, min(int(k), MAX_K)), community=community or None)
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
    catalog = getattr(context, "catalog", None)
    scorer = getattr(context, "scorer", None) or score_pool
    scores = list(scorer(catalog, query, candidates, getattr(context, "community", None)))
    # Stable sort: ties keep the shown (already shuffled) order, which is seeded.
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    top = [
        {"index": i, "name": candidates[i], "score": round(float(scores[i]), 4)} for i in order[:10]
    ]
    return _dump({"order": order, "top": top})


CATALOG_TOOLS = [search_catalog, lookup_entity, rank_candidates]


# --- the default pool scorer -------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be by for from i in is it me my of on or that the this to was were "
    "with you your some any like songs song music album albums artist artists track tracks "
    "what which who looking recommend recommendations similar feat ft".split()
)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP]


def score_pool(
    catalog: CatalogLike | None,
    query: str,
    candidates: Sequence[str],
    community: str | None,
) -> list[float]:
    """Score each candidate for ``query`` from the query's catalog neighbourhood.

    The query is expanded with the words of the catalog hits it retrieves (names, artists,
    related entities, weighted by hit score), then each candidate name is scored by BM25
    against that expanded query. Only the catalog's answer to the *query* is used, never a
    lookup of a candidate, so in a candidate-blind view nothing about the pool leaks.
    """
    weights: Counter[str] = Counter()
    for word in _words(query):
        weights[word] += 1.0
    if catalog is not None and query.strip():
        for hit in catalog.search(query[:500], k=20, community=community):
            card = hit.card
            text = " ".join([card.name, *card.artists, *list(card.related)[:5]])
            for word in set(_words(text)):
                weights[word] += 0.3 * max(float(hit.score), 0.0)
    return _bm25(weights, candidates)


def _bm25(
    weights: Counter[str], documents: Sequence[str], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    tokens = [_words(d) for d in documents]
    n = len(documents)
    average = sum(map(len, tokens)) / n if n else 0.0
    frequency = Counter(w for ws in tokens for w in set(ws))
    scores = []
    for words in tokens:
        counts = Counter(words)
        norm = k1 * (1 - b + b * len(words) / average) if average else k1
        scores.append(
            sum(
                weights[w]
                * math.log(1 + (n - frequency[w] + 0.5) / (frequency[w] + 0.5))
                * counts[w]
                * (k1 + 1)
                / (counts[w] + norm)
                for w in counts.keys() & weights.keys()
            )
        )
    return scores
