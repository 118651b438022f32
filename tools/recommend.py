"""LangChain tools over the recommendation engine: ``recommend`` and ``similar_requests``.

Conventions:

- The engine is the turn's ``CatalogContext.engine`` (``vectorstore.engine``'s
  ``RecommendationEngine``, opened with the catalog); a model never chooses it.
- ``recommend`` adds the session's standing exclusions (``CatalogContext.exclude_entities``
  / ``exclude_artists``: rejections and everything already recommended) to whatever the
  model passes, so a model cannot bring back what the user rejected or already got.
- Results travel in the :class:`tools.outcome.ToolOutcome` envelope; a request the engine
  refuses (``CatalogError``, a ``ValueError``) comes back as ``{"ok": false, "error"}``
  with the engine's one sentence.
- Evidence is passed through as the engine wrote it (source, a readable ``detail``, the
  thread, its link, community, best votes, the request quoted), strongest first.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain.tools import ToolRuntime, tool
from pydantic import BaseModel

from tools.catalog import CardFacts, Unavailable, card_facts, enveloped, from_context

#: Items per ``recommend`` call unless the model asks for another number.
DEFAULT_K = 5
MAX_RECOMMEND_K = 20
MAX_SIMILAR_K = 10


class EvidenceFacts(BaseModel):
    """One reason the engine gives for an item (``vectorstore.engine.Evidence``)."""

    source: str
    detail: str
    thread: str | None = None
    thread_url: str | None = None
    community: str | None = None
    votes: int | None = None
    request: str | None = None
    seed: str | None = None


class RecommendedFacts(CardFacts):
    evidence: list[EvidenceFacts]


class RecommendData(BaseModel):
    items: list[RecommendedFacts]
    seeds: list[CardFacts]
    unresolved: list[str]
    excluded: list[str]  # every name or id kept out, the standing exclusions included


class ThreadPick(BaseModel):
    name: str
    kind: str
    votes: int


class SimilarThread(BaseModel):
    thread: str
    thread_url: str
    community: str
    request: str
    similarity: float
    recommended: list[ThreadPick]


class SimilarData(BaseModel):
    requests: list[SimilarThread]


def _engine(runtime: ToolRuntime) -> Any:
    return from_context(runtime, "engine", "recommender")


def _refused(error: ValueError) -> Unavailable:
    """The engine's own sentence (``CatalogError`` is a ``ValueError``) for the model."""
    return Unavailable(str(error).strip().splitlines()[0] if str(error).strip() else "Refused.")


def heard_clip(engine: Any, clip: str | None) -> Any:
    """The clip as the engine's sound index hears it, or None (no clip, no index, or a clip
    the index refuses: ``describe_audio`` already told the user why)."""
    if not clip or getattr(engine, "sound", None) is None:
        return None
    from tools.sound import heard_file

    try:
        return heard_file(clip)
    except ValueError:  # SoundInputError, or CatalogError when the models failed
        return None


@tool
def recommend(
    runtime: ToolRuntime[Any],
    text: str = "",
    seeds: list[str] | None = None,
    examples: list[str] | None = None,
    exclude_artists: list[str] | None = None,
    exclude_entities: list[str] | None = None,
    kind: Literal["song", "album", "artist"] | None = None,
    community: str | None = None,
    exclude_communities: list[str] | None = None,
    heard_tags: list[str] | None = None,
    more_by_seed_artists: bool = False,
    k: int = DEFAULT_K,
    clip: str | None = None,
) -> str:
    """Recommend songs, albums or artists, each with the evidence from real Reddit threads.

    The right tool for any "recommend me…", "more like…", "something darker", "albums
    please" request. Fill the arguments from the conversation state: what the user likes
    as seeds, what they rejected as exclusions, the kind they asked for. What the session
    already recommended or rejected is excluded automatically.

    Args:
        text: the request in words, with mood/tempo words, e.g. "darker modal jazz".
        seeds: names the user likes or refers to ("the second one" → that item's name).
        examples: names a style the user asked for is best known by ("shoegaze" → ["My
            Bloody Valentine", "Slowdive"]): evidence like seeds, and picks themselves.
        exclude_artists: artists the user rejected ("not Radiohead").
        exclude_entities: songs/albums the user rejected or already knows.
        kind: "song", "album" or "artist" when the user asked for one kind.
        community: a Reddit music community to stay in, e.g. "jazz", "metal",
            "hiphopheads", "classicalmusic" (for a genre request).
        exclude_communities: communities whose style the user refused ("not pop" →
            ["popheads"]): what is recommended mostly there is left out.
        heard_tags: tags heard in the user's clip (from describe_audio).
        more_by_seed_artists: true only when the user asks for more by the same artist.
        k: how many items (1-20).
        clip: the path of the user's audio clip: with a sound index, what was recommended
            in threads whose clips sound like it joins the evidence.

    Returns {"ok": true, "data": {"items": [card facts + "evidence": [{"source", "detail",
    "thread", "thread_url", "community", "votes", "request", "seed"}]], "seeds": [...],
    "unresolved": [seed names the catalog does not know], "excluded": [...]}}.
    """
    from vectorstore.engine import RecommendRequest

    def run() -> RecommendData:
        engine = _engine(runtime)
        context = runtime.context
        entities = tuple(
            dict.fromkeys([*(exclude_entities or ()), *getattr(context, "exclude_entities", ())])
        )
        artists = tuple(
            dict.fromkeys([*(exclude_artists or ()), *getattr(context, "exclude_artists", ())])
        )
        request = RecommendRequest(
            text=text,
            seeds=tuple(seeds or ()),
            examples=tuple(examples or ()),
            heard_tags=tuple(heard_tags or ()),
            community=community or None,
            exclude_communities=tuple(exclude_communities or ()),
            exclude_artists=artists,
            exclude_entities=entities,
            kind=kind,
            more_by_seed_artists=more_by_seed_artists,
            k=max(1, min(int(k), MAX_RECOMMEND_K)),
            clip=heard_clip(engine, clip),
            names_in_text=False,  # seeds are the names the conversation was read for
        )
        try:
            response = engine.recommend(request)
        except ValueError as error:
            raise _refused(error) from None
        items = [
            RecommendedFacts(
                **card_facts(item.card, item.score).model_dump(),
                evidence=[EvidenceFacts(**vars(e)) for e in item.evidence],
            )
            for item in response.items
        ]
        return RecommendData(
            items=items,
            seeds=[card_facts(card) for card in response.seeds],
            unresolved=list(response.unresolved),
            excluded=[*artists, *entities],
        )

    return enveloped(run)


@tool
def similar_requests(
    text: str, runtime: ToolRuntime[Any], k: int = 5, community: str | None = None
) -> str:
    """Find the Reddit threads whose request is most like the user's, and what they got.

    Use it to show the user how other people asking the same thing were answered, or to
    back up a recommendation with the threads it came from.

    Args:
        text: the user's request in words.
        k: how many threads (1-10).
        community: optional Reddit community to search in, e.g. "jazz".

    Returns {"ok": true, "data": {"requests": [{"thread", "thread_url", "community",
    "request", "similarity", "recommended": [{"name", "kind", "votes"}] best first}]}}.
    """

    def run() -> SimilarData:
        engine = _engine(runtime)
        try:
            found = engine.similar_requests(
                text, k=max(1, min(int(k), MAX_SIMILAR_K)), community=community or None
            )
        except ValueError as error:
            raise _refused(error) from None
        return SimilarData(
            requests=[
                SimilarThread(
                    thread=s.thread,
                    thread_url=s.thread_url,
                    community=s.community,
                    request=s.request,
                    similarity=round(float(s.similarity), 3),
                    recommended=[
                        ThreadPick(name=card.name, kind=card.kind, votes=votes)
                        for card, votes in s.recommended[:8]
                    ],
                )
                for s in found
            ]
        )

    return enveloped(run)


RECOMMEND_TOOLS = [recommend, similar_requests]
