"""Scripted tool-calling through the real graph with LangChain's fake chat models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agent import Settings, ToolFinished
from agent.graph import build_graph
from agent.turns import MusicAgent
from tests.agent_support import MiniCatalog
from tools.catalog import CATALOG_TOOLS


class ScriptedModel(FakeMessagesListChatModel):
    """Fake chat models lack ``bind_tools`` (docs/architecture.md): binding returns the script."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


@tool
def explode(what: str) -> str:
    """A tool that always fails, to check failures go back to the model."""
    raise RuntimeError(f"internal detail {what}")


def call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


def scripted_agent(responses: list[AIMessage]) -> MusicAgent:
    model = ScriptedModel(responses=responses)
    settings = Settings(retry_delay_s=0.0)
    return MusicAgent(settings, build_graph(model, [*CATALOG_TOOLS, explode], settings))


def test_scripted_tool_calls_then_structured_answer():
    agent = scripted_agent(
        [
            call("search_catalog", "c1", query="ambient electronic", k=3),
            call(
                "ChatAnswer",
                "c2",
                reply="Try Tycho.",
                recommendations=[
                    {
                        "name": "Tycho",
                        "artist": None,
                        "why": "search_catalog hit (0.5)",
                        "youtube_url": "https://www.youtube.com/watch?v=tycho000000",
                        "confidence": 0.5,
                    }
                ],
            ),
        ]
    )
    events = list(agent.stream_turn("s", "ambient please", catalog=MiniCatalog()))
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert finished[0].name == "search_catalog" and finished[0].ok
    assert finished[0].summary.startswith("3 hits")
    result = events[-1]
    assert result.reply == "Try Tycho." and result.recommendations[0].name == "Tycho"
    assert result.ok


def test_tool_exception_is_returned_to_the_model_as_an_error_result():
    agent = scripted_agent(
        [
            call("explode", "c1", what="secret"),
            call(
                "ChatAnswer",
                "c2",
                reply="The tool failed; here is what I have.",
                recommendations=[],
            ),
        ]
    )
    result = agent.run_turn("s", "go", catalog=MiniCatalog())
    assert result.ok and result.trace[0].ok is False
    assert "RuntimeError (internal error)" in result.trace[0].error
    assert "secret" not in result.trace[0].error  # internals never reach the user


def test_unknown_tool_and_bad_arguments_do_not_kill_the_turn():
    agent = scripted_agent(
        [
            call("no_such_tool", "c1"),
            call("search_catalog", "c2", k="not a number"),
            call("ChatAnswer", "c3", reply="Recovered.", recommendations=[]),
        ]
    )
    result = agent.run_turn("s", "go", catalog=MiniCatalog())
    assert result.reply == "Recovered."
    assert [t.ok for t in result.trace] == [False, False]


def test_ranking_turn_requires_candidate_ranking():
    agent = scripted_agent(
        [
            call("rank_candidates", "c1", query="doom"),
            call("CandidateRanking", "c2", order=[1, 0], reply="by rank_candidates"),
        ]
    )
    result = agent.run_turn(
        "s", "doom", candidates=["Pop song", "Sleep - Dopesmoker"], catalog=MiniCatalog()
    )
    assert result.ranking == [1, 0]


def test_model_call_limit_ends_a_looping_turn_with_a_sentence():
    loop = [call("search_catalog", f"c{i}", query="again") for i in range(20)]
    agent = scripted_agent(loop)
    result = agent.run_turn("s", "loop", catalog=MiniCatalog())
    assert not result.ok and "did not finish within 8 steps" in result.reply


@pytest.mark.parametrize("budget", [60])
def test_trimming_sends_only_recent_turns(budget):
    seen: list[int] = []

    class Recording(ScriptedModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            seen.append(len(messages))
            return super()._generate(messages, stop, run_manager, **kwargs)

    answer = call("ChatAnswer", "a", reply="ok", recommendations=[])
    settings = Settings(token_budget=budget)
    agent = MusicAgent(settings, build_graph(Recording(responses=[answer] * 4), [], settings))
    for i in range(4):
        agent.run_turn("s", f"turn {i} " + "words " * 20, catalog=MiniCatalog())
    # system prompt + the current human message only: older turns exceed the budget
    assert seen[-1] == 2
