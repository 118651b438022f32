"""The conversational agent: settings, chat-model factory, prompts, the LangChain graph and
the turn API that the demo and the evals call.

May import ``tools`` and ``vectorstore``; must never import ``demo`` or ``evals``.

Public API::

    from agent import Settings, build_agent
    agent = build_agent()                       # Settings.from_env() by default
    for event in agent.stream_turn("session-1", "something like Boards of Canada"):
        ...  # ToolStarted | ToolFinished | TextDelta | TurnResult (always last)
    result = agent.run_turn("session-1", "more like that", audio="clip.wav")
    agent.reset("session-1")
"""

from agent.builder import agent_tools, build_agent
from agent.settings import Settings, SettingsError
from agent.turns import (
    MusicAgent,
    Recommendation,
    TextDelta,
    TokenUsage,
    ToolFinished,
    ToolStarted,
    ToolTrace,
    TurnEvent,
    TurnResult,
)

__all__ = [
    "MusicAgent",
    "Recommendation",
    "Settings",
    "SettingsError",
    "TextDelta",
    "TokenUsage",
    "ToolFinished",
    "ToolStarted",
    "ToolTrace",
    "TurnEvent",
    "TurnResult",
    "agent_tools",
    "build_agent",
]
