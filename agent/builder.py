"""``build_agent``: settings → tools → chat model → compiled graph → :class:`MusicAgent`.

Conventions: the tool list is the catalog and recommender tools plus the audio tools (describe,
fetch, find_similar_sounding) when the audio package is importable (a missing optional
dependency removes the audio tools, announced in the log, rather than breaking chat); the graph
is compiled once per agent.
"""

from __future__ import annotations

import logging

from langchain_core.tools import BaseTool

from agent.brains import make_model
from agent.graph import build_graph
from agent.settings import Settings
from agent.turns import MusicAgent
from tools.catalog import CATALOG_TOOLS
from tools.recommend import RECOMMEND_TOOLS

log = logging.getLogger(__name__)


def agent_tools() -> list[BaseTool]:
    """The catalog and recommender tools, plus the audio tools when they can be imported."""
    tools: list[BaseTool] = [*RECOMMEND_TOOLS, *CATALOG_TOOLS]
    try:
        from tools.audio_tools import AUDIO_TOOLS
        from tools.sound_tools import SOUND_TOOLS
    except ImportError as error:
        log.warning("audio tools unavailable (%s); the agent will not describe clips", error)
    else:
        tools += [*AUDIO_TOOLS, *SOUND_TOOLS]
    return tools


def build_agent(
    settings: Settings | None = None, tools: list[BaseTool] | None = None
) -> MusicAgent:
    """A ready agent; ``tools`` overrides :func:`agent_tools` (tests use this)."""
    settings = settings or Settings.from_env()
    tools = agent_tools() if tools is None else tools
    if settings.provider == "offline":
        log.info("no OPENAI_API_KEY or OPENAI_BASE_URL: using the offline brain")
    model = make_model(settings, [t.name for t in tools])
    return MusicAgent(settings, build_graph(model, tools, settings), [t.name for t in tools])
