"""The guard on what a brain recommends: every item is checked against the catalog and the
session before the user sees it.

Conventions:

- An item the turn's ``recommend`` call returned (same entity id) keeps that call's facts
  and evidence. An item with a catalog id whose card has the same name is that card, with
  its most upvoted recommending thread as evidence. Any other item is looked up in the
  catalog by name: a close match
  (:data:`MATCH_SCORE`, and the artist agreeing when the model named one) gets the card's
  name, artist, kind and link; no match is kept but marked ``in_catalog=False`` (the
  model's own suggestion), with the model's link dropped (it could be invented).
- Items the session rejected (the name or one of its artists) or already recommended never
  pass, nor a second copy of the same item, nor a name the catalog's hygiene rejects
  (:func:`vectorstore.entities.junk_reason`: a rank, a year, a descriptor). Order is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.grammar import Kind
from agent.schemas import RecommendationOut
from agent.state import GivenItem, SessionState, same_name
from tools.catalog import ThreadCitation, best_thread
from tools.recommend import RecommendedFacts
from vectorstore.entities import junk_reason

#: Lookup score (0-1, rapidfuzz WRatio / 100) above which a model-named item is the card.
MATCH_SCORE = 0.9
MODEL_SUGGESTION = "The model's own suggestion (not in the catalog)"


class CheckedRecommendation(BaseModel):
    """A recommendation after the guard: catalog facts when matched, marked when not."""

    model_config = ConfigDict(frozen=True)

    name: str
    artist: str | None
    why: str
    youtube_url: str | None
    confidence: float
    in_catalog: bool
    kind: Kind | None = None
    entity_id: str | None = None
    evidence: str | None = None  # the strongest evidence, as the engine worded it
    thread_url: str | None = None

    def given(self) -> GivenItem:
        """This item as the session remembers it (numbered when the turn ends)."""
        return GivenItem(
            turn=0,
            position=0,
            name=self.name,
            artists=(self.artist,) if self.artist else (),
            entity_id=self.entity_id,
            kind=self.kind,
            why=self.why,
            thread_url=self.thread_url,
            youtube_url=self.youtube_url,
        )


def _cited(thread: ThreadCitation | None) -> str | None:
    if thread is None:
        return None
    votes = f" (top reply +{thread.votes})" if thread.votes else ""
    return f"recommended in r/{thread.community}{votes}"


def _artist_agrees(model_artist: str | None, card: Any) -> bool:
    artists = list(getattr(card, "artists", ()) or ())
    return not model_artist or not artists or any(same_name(model_artist, a) for a in artists)


def _catalog_match(item: RecommendationOut, catalog: Any) -> Any | None:
    if catalog is None:
        return None
    if item.entity_id:
        card = catalog.get(item.entity_id)
        if card is not None and same_name(card.name, item.name):
            return card
    try:
        hits = catalog.lookup(item.name[:200], k=3)
    except ValueError:  # a name the catalog refuses to look up is simply not matched
        return None
    for hit in hits:
        if hit.score >= MATCH_SCORE and _artist_agrees(item.artist, hit.card):
            return hit.card
    return None


def check_recommendations(
    items: Iterable[RecommendationOut],
    *,
    session: SessionState,
    recommended: Sequence[RecommendedFacts] = (),
    catalog: Any = None,
) -> list[CheckedRecommendation]:
    """The items a user may see, each matched to the catalog or marked as the model's own."""
    by_id = {facts.id: facts for facts in recommended}
    checked: list[CheckedRecommendation] = []
    for item in items:
        facts = by_id.get(item.entity_id or "")
        card = facts or _catalog_match(item, catalog)
        if card is None:
            result = CheckedRecommendation(
                name=item.name,
                artist=item.artist,
                why=f"{MODEL_SUGGESTION}: {item.why}",
                youtube_url=None,
                confidence=min(item.confidence, 0.3),
                in_catalog=False,
            )
        else:
            artists = list(card.artists or [])
            evidence = facts.evidence[0] if facts and facts.evidence else None
            thread = None if facts else best_thread(card)
            urls = list(card.youtube_urls or [])
            result = CheckedRecommendation(
                name=card.name,
                artist=next((a for a in artists if not same_name(a, card.name)), None),
                why=item.why,
                youtube_url=urls[0] if urls else None,
                confidence=item.confidence,
                in_catalog=True,
                kind=card.kind,
                entity_id=card.id,
                evidence=evidence.detail if evidence else _cited(thread),
                thread_url=(evidence.thread_url if evidence else None)
                or (thread.url if thread else None),
            )
        artists = tuple(card.artists or ()) if card is not None else (item.artist or "",)
        if session.is_rejected(result.name, artists, result.kind) or session.was_given(
            result.name, result.entity_id
        ):
            continue
        if any(same_name(result.name, c.name) for c in checked) or junk_reason(result.name):
            continue
        checked.append(result)
    return checked
