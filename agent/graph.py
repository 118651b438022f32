"""The agent graph: ``create_agent`` with the catalog and audio tools, the grounded system
prompt, a checkpointer, and the middleware that makes it safe to run unattended.

Middleware, outermost first (each is one concern):

- ``ModelCallLimitMiddleware`` / ``ToolCallLimitMiddleware``: a turn cannot loop forever.
- :func:`trim_history`: only the newest turns that fit the token budget reach the model.
- :func:`choose_answer_schema`: a turn with a candidate list must end in
  ``CandidateRanking``, any other in ``ChatAnswer`` (one graph serves chat and replay).
- ``ModelRetryMiddleware``: transient model errors (429, 5xx, connection, timeout) are
  retried with back-off; when retries run out the turn ends with one clear sentence.
- :class:`ToolTraceMiddleware`: times each tool call, streams start/finish events, and
  returns a tool's exception to the model as an error result instead of killing the run.

The runtime context of a turn is a :class:`tools.catalog.CatalogContext`: which catalog
the tools read (full in chat, candidate-blind in replay) and the candidate pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    ModelCallLimitMiddleware,
    ModelRequest,
    ModelResponse,
    ModelRetryMiddleware,
    ToolCallLimitMiddleware,
    ToolCallRequest,
    wrap_model_call,
)
from langchain.agents.structured_output import ToolStrategy
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.config import get_stream_writer
from langgraph.errors import GraphBubbleUp
from langgraph.graph.state import CompiledStateGraph

from agent.brains import TRANSIENT_ERRORS, describe_failure
from agent.history import trim_to_budget
from agent.prompts import SYSTEM_PROMPT
from agent.schemas import CandidateRanking, ChatAnswer
from agent.settings import Settings
from tools.catalog import CatalogContext

CHAT_ANSWER = ToolStrategy(ChatAnswer)
RANKING_ANSWER = ToolStrategy(CandidateRanking)


class ToolTraceMiddleware(AgentMiddleware):
    """Time every tool call, stream ``tool_started``/``tool_finished`` events, and turn a
    tool's exception into an error result the model can read (DESIGN.md §4)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Any]
    ) -> Any:
        call = request.tool_call
        write = _writer()
        write(
            {
                "event": "tool_started",
                "call_id": call["id"],
                "name": call["name"],
                "args": call["args"],
            }
        )
        started = time.perf_counter()
        try:
            result = handler(request)
        except GraphBubbleUp:
            raise
        except Exception as error:  # any tool failure goes back to the model as data
            result = ToolMessage(
                content=f"Error: {call['name']} failed: {self.redact(_sentence(error))}",
                tool_call_id=call["id"],
                name=call["name"],
                status="error",
            )
        duration = time.perf_counter() - started
        if isinstance(result, ToolMessage):
            result.response_metadata["duration_s"] = duration
            content = str(result.content)
            ok = result.status != "error" and not content.startswith("Error")
            write(
                {
                    "event": "tool_finished",
                    "call_id": call["id"],
                    "name": call["name"],
                    "ok": ok,
                    "duration_s": duration,
                    "content": content,
                    "artifact": result.artifact,
                }
            )
        return result


def _writer() -> Callable[[dict[str, Any]], None]:
    try:
        return get_stream_writer()
    except RuntimeError:  # invoked outside a streaming run (e.g. graph.invoke)
        return lambda _event: None


def _sentence(error: BaseException) -> str:
    """The first line of a user-facing error, or its type for anything unexpected."""
    if isinstance(error, ValueError | FileNotFoundError | PermissionError | TimeoutError):
        text = str(error).strip().splitlines()
        if text:
            return text[0][:300]
    return f"{type(error).__name__} (internal error)"


def make_history_trimmer(budget: int) -> AgentMiddleware:
    @wrap_model_call(name="TrimHistory")
    def trim_history(
        request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        """Send the model only the newest whole turns that fit the token budget."""
        return handler(request.override(messages=trim_to_budget(request.messages, budget)))

    return trim_history


@wrap_model_call(name="ChooseAnswerSchema")
def choose_answer_schema(
    request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
) -> ModelResponse:
    """Ranking turns must answer with ``CandidateRanking``, chat turns with ``ChatAnswer``."""
    ranking = bool(getattr(request.runtime.context, "candidates", ()))
    return handler(request.override(response_format=RANKING_ANSWER if ranking else CHAT_ANSWER))


def build_graph(
    model: BaseChatModel, tools: Sequence[BaseTool], settings: Settings
) -> CompiledStateGraph:
    """The compiled agent; build once and reuse for every session and turn."""
    middleware: list[AgentMiddleware] = [
        ModelCallLimitMiddleware(run_limit=settings.model_call_limit, exit_behavior="end"),
        ToolCallLimitMiddleware(run_limit=settings.tool_call_limit, exit_behavior="continue"),
        make_history_trimmer(settings.token_budget),
        choose_answer_schema,
        ModelRetryMiddleware(
            max_retries=settings.max_retries,
            retry_on=TRANSIENT_ERRORS,
            on_failure=lambda error: describe_failure(error, settings),
            initial_delay=settings.retry_delay_s,
            jitter=False,
        ),
        ToolTraceMiddleware(settings.redact),
    ]
    return create_agent(
        model,
        list(tools),
        system_prompt=SYSTEM_PROMPT,
        middleware=middleware,
        response_format=ToolStrategy(ChatAnswer | CandidateRanking),
        context_schema=CatalogContext,
        # The structured answers are stored in the thread's state; allow exactly them.
        checkpointer=InMemorySaver(
            serde=JsonPlusSerializer(
                allowed_msgpack_modules=[
                    ("agent.schemas", "ChatAnswer"),
                    ("agent.schemas", "CandidateRanking"),
                    ("agent.schemas", "RecommendationOut"),
                ]
            )
        ),
        name="music_agent",
    )
