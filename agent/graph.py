"""The agent graph: ``create_agent`` with the catalog and audio tools, the grounded system
prompt, a checkpointer (in memory, or a SQLite file: ``agent.sessions``), and the
middleware that makes it safe to run unattended.

Middleware, outermost first (each is one concern):

- ``ModelCallLimitMiddleware`` / ``ToolCallLimitMiddleware``: a turn cannot loop forever.
- :func:`trim_history`: only the newest turns that fit the token budget reach the model.
- :func:`choose_answer_schema`: a turn with a candidate list must end in
  ``CandidateRanking``, any other in ``ChatAnswer`` (one graph serves chat and replay).
- ``ModelRetryMiddleware``: transient model errors (429, 5xx, connection, timeout) are
  retried with back-off; when retries run out the error is raised, and the turn API ends
  the turn with one clear sentence (``ok=False``). A call limit is raised the same way.
- :class:`SessionMiddleware`: keeps the typed session state (:mod:`agent.state`) in the
  graph's ``session`` key. Before each model call it shows the state to the brain: a
  language model gets it as a system-message section (with the clip, community and
  candidate list of the turn), the offline brain gets the typed turn context. After the
  turn it passes the answer's recommendations through the guard (:mod:`agent.guard`) into
  ``shown`` and records them, numbered, and what was heard, in the state.
- :class:`ToolTraceMiddleware`: times each tool call, streams start/finish events, decides
  success from the :class:`tools.outcome.ToolOutcome` envelope, and returns a tool's
  exception to the model as a failed envelope instead of killing the run.

The runtime context of a turn is an :class:`agent.context.TurnContext`: which catalog and
recommender the tools read (full in chat, candidate-blind in replay), the candidate pool,
the user's words and clip, and the session state as of this turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NotRequired

from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
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
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.config import get_stream_writer
from langgraph.errors import GraphBubbleUp
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent.brains import TRANSIENT_ERRORS
from agent.context import TurnContext
from agent.guard import CheckedRecommendation, check_recommendations
from agent.history import trim_to_budget
from agent.offline import DESCRIBE_TOOL, RECOMMEND_TOOL, OfflineBrain
from agent.prompts import SYSTEM_PROMPT, render_turn
from agent.schemas import CandidateRanking, ChatAnswer
from agent.sessions import open_checkpointer
from agent.settings import Settings
from agent.state import HeardClip, SessionState
from tools.outcome import ToolOutcome
from tools.recommend import RecommendData

CHAT_ANSWER = ToolStrategy(ChatAnswer)
RANKING_ANSWER = ToolStrategy(CandidateRanking)


class ToolTraceMiddleware(AgentMiddleware):
    """Time every tool call, stream ``tool_started``/``tool_finished`` events, and turn a
    tool's exception into a failed envelope the model can read (docs/architecture.md)."""

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
            failure = ToolOutcome.failure(f"{call['name']} failed: {self.redact(_sentence(error))}")
            result = ToolMessage(
                content=failure.to_content(),
                tool_call_id=call["id"],
                name=call["name"],
                status="error",
            )
        duration = time.perf_counter() - started
        if isinstance(result, ToolMessage):
            result.response_metadata["duration_s"] = duration
            outcome = ToolOutcome.read(result.content)
            if outcome is None:  # a tool outside this package: its status is all we know
                ok = result.status != "error"
                outcome = ToolOutcome(ok=ok, data=str(result.content), error=None)
            if not outcome.ok:
                result.status = "error"
            write(
                {
                    "event": "tool_finished",
                    "call_id": call["id"],
                    "name": call["name"],
                    "outcome": outcome,
                    "duration_s": duration,
                    "content": str(result.content),
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


class SessionAgentState(AgentState):
    """The agent's graph state: the messages, the structured answer, and the session."""

    session: NotRequired[SessionState]
    shown: NotRequired[list[CheckedRecommendation]]


class SessionMiddleware(AgentMiddleware):
    """Shows the session state to the brain and records each turn into it (module doc)."""

    state_schema = SessionAgentState

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        context = request.runtime.context
        if not isinstance(context, TurnContext):
            return handler(request)
        if isinstance(request.model, OfflineBrain):
            return handler(request.override(model=request.model.for_turn(context)))
        section = render_turn(context)
        if not section:
            return handler(request)
        base = request.system_prompt or ""
        return handler(request.override(system_message=SystemMessage(f"{base}\n\n{section}")))

    def after_agent(self, state: SessionAgentState, runtime: Runtime) -> dict[str, Any] | None:
        context = runtime.context
        if not isinstance(context, TurnContext) or context.candidates:
            return None
        session = state.get("session") or context.session
        messages = state["messages"]
        start = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        outcomes = [
            (m.name, ToolOutcome.read(m.content))
            for m in messages[start:]
            if isinstance(m, ToolMessage)
        ]
        recommended = [
            item
            for name, outcome in outcomes
            if name == RECOMMEND_TOOL and outcome is not None and outcome.ok
            for item in RecommendData.model_validate(outcome.data).items
        ]
        answer = state.get("structured_response")
        shown = (
            check_recommendations(
                answer.recommendations,
                session=session,
                recommended=recommended,
                catalog=context.catalog,
            )
            if isinstance(answer, ChatAnswer)
            else []
        )
        heard = next(
            (
                HeardClip(
                    turn=session.turn,
                    summary=str(outcome.data.get("summary", ""))[:400],
                    tags=tuple(
                        t["name"] for t in outcome.data.get("tags") or [] if isinstance(t, dict)
                    ),
                )
                for name, outcome in outcomes
                if name == DESCRIBE_TOOL
                and outcome is not None
                and outcome.ok
                and isinstance(outcome.data, dict)
            ),
            None,
        )
        return {"session": session.end_turn([c.given() for c in shown], heard), "shown": shown}


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
        ModelCallLimitMiddleware(run_limit=settings.model_call_limit, exit_behavior="error"),
        ToolCallLimitMiddleware(run_limit=settings.tool_call_limit, exit_behavior="continue"),
        make_history_trimmer(settings.token_budget),
        choose_answer_schema,
        ModelRetryMiddleware(
            max_retries=settings.max_retries,
            retry_on=TRANSIENT_ERRORS,
            on_failure="error",
            initial_delay=settings.retry_delay_s,
            jitter=False,
        ),
        SessionMiddleware(),
        ToolTraceMiddleware(settings.redact),
    ]
    return create_agent(
        model,
        list(tools),
        system_prompt=SYSTEM_PROMPT,
        middleware=middleware,
        response_format=ToolStrategy(ChatAnswer | CandidateRanking),
        context_schema=TurnContext,
        # The structured answers are stored in the thread's state; allow exactly them.
        checkpointer=open_checkpointer(
            settings.sessions_db,
            JsonPlusSerializer(
                allowed_msgpack_modules=[
                    ("agent.schemas", "ChatAnswer"),
                    ("agent.schemas", "CandidateRanking"),
                    ("agent.schemas", "RecommendationOut"),
                    ("agent.state", "SessionState"),
                    ("agent.state", "GivenItem"),
                    ("agent.state", "HeardClip"),
                    ("agent.state", "Feedback"),
                    ("agent.guard", "CheckedRecommendation"),
                ]
            ),
        ),
        name="music_agent",
    )
