"""The structured answers the model must end every turn with (``ToolStrategy`` schemas).

Conventions:

- A chat turn ends with :class:`ChatAnswer`: the reply text and the recommendations, each
  citing the tool facts it rests on.
- A benchmark-replay turn (the user message carries a numbered candidate list) ends with
  :class:`CandidateRanking`: indices into that list, best first. Indices, not names, so
  nothing has to be re-parsed from free text.
- ``confidence`` is in [0, 1]; 1 means the tools gave strong, direct evidence. The offline
  brain uses 0.9 × the hit's search score relative to the best hit (it never claims 1).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecommendationOut(BaseModel):
    """One recommended artist, album or song."""

    name: str = Field(description="the entity name exactly as the tool returned it")
    artist: str | None = Field(default=None, description="its artist, when known")
    why: str = Field(
        description="one sentence a person reads, citing the evidence (the thread, its "
        "community and votes; what was heard in the clip)"
    )
    youtube_url: str | None = Field(default=None, description="a link from the catalog, if any")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    entity_id: str | None = Field(default=None, description="the catalog id from a tool result")
    thread_url: str | None = Field(default=None, description="the evidence thread's link")


class ChatAnswer(BaseModel):
    """The final answer of a chat turn: the reply and the recommendations it makes."""

    reply: str = Field(description="the message shown to the user")
    recommendations: list[RecommendationOut] = Field(default_factory=list)


class CandidateRanking(BaseModel):
    """The final answer of a ranking turn: every candidate index exactly once, best first."""

    order: list[int] = Field(description="indices into the numbered candidate list")
    reply: str = Field(default="", description="one sentence on how the order was chosen")
