"""The runtime context of one turn: everything the tools and the brain read besides the
messages (LangChain's ``context_schema``, as in the react-agent template).

Conventions: built once per turn by :class:`agent.turns.MusicAgent` and never written into
the prompt; the catalog tools see it as a :class:`tools.catalog.CatalogContext` (the
catalog, the recommender, the candidate pool, the session's standing exclusions), the
brain reads the rest: the user's words, the clip, and the session state as of this turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.grammar import ParsedMessage, parse_message
from agent.state import SessionState
from tools.catalog import CatalogContext


@dataclass
class TurnContext(CatalogContext):
    """One turn's inputs. ``text`` is the user's words without pasted links ("" for a
    clip-only or ranking-only turn); ``audio`` a file path or a single-video YouTube URL;
    ``message`` the grammar's reading of ``text``; ``session`` the state after it."""

    text: str = ""
    audio: str | None = None
    message: ParsedMessage = field(default_factory=lambda: parse_message(""))
    session: SessionState = field(default_factory=SessionState)
