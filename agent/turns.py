"""The turn API the demo and the evals call: typed events, typed results, one agent.

Conventions:

- :meth:`MusicAgent.stream_turn` yields :class:`ToolStarted`, :class:`ToolFinished` and
  :class:`TextDelta` events as they happen and always ends with exactly one
  :class:`TurnResult`. It never raises for bad input or a failing model/tool: the result's
  ``reply`` is then one sentence saying what to do, and the session stays usable.
- A session is a LangGraph thread (``thread_id = session_id``) in the agent's in-memory
  checkpointer: sessions never share history or audio. One :class:`MusicAgent` serves many
  sessions from many threads; turns of the same session are serialised by a lock.
- ``audio`` is a local file path or a single-video YouTube URL. YouTube links pasted into
  ``text`` are taken out of it (they are the clip, not words to search for); the first one
  is the clip when ``audio`` is not given. A playlist, channel or other-site link as the
  clip ends the turn with one sentence before any tool runs (DESIGN.md §6).
- A turn whose only input is a clip that could not be fetched or decoded ends with that
  tool's error sentence (``ok=False``): there is nothing else to answer.
- Benchmark replay passes ``candidates`` (shown numbered, in the given order), the
  ``community``, a leak-free ``catalog`` and optionally the ``scorer`` ``rank_candidates``
  uses; the result's ``ranking`` holds indices into ``candidates``, best first.
- Durations are seconds (``time.perf_counter``); token usage is what the provider reported
  (zero for the offline brain, which calls no provider).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.graph.state import CompiledStateGraph

from agent.brains import FAILURE_PREFIX, describe_failure
from agent.offline import DESCRIBE_TOOL, FETCH_TOOL
from agent.prompts import DEFAULT_AUDIO_REQUEST, DEFAULT_RANKING_REQUEST, compose_user_message
from agent.schemas import CandidateRanking, ChatAnswer
from agent.settings import Settings
from tools.audio import AudioInputError
from tools.catalog import CatalogContext, CatalogLike, PoolScorer
from tools.youtube import is_youtube_link, looks_like_url, parse_youtube_url

log = logging.getLogger(__name__)

#: How ``ModelCallLimitMiddleware`` words the message it ends a looping turn with.
CALL_LIMIT_PREFIX = "Model call limits exceeded"

_TOKEN = re.compile(r"\S+")
# Sentence punctuation around a pasted link is not part of it: "(https://youtu.be/…)."
_LINK_OPENERS = "(<[{\"'"
_LINK_CLOSERS = ".,;:!?)]}>\"'"


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    name: str
    ok: bool
    duration_s: float
    summary: str
    error: str | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Recommendation:
    name: str
    artist: str | None
    why: str
    youtube_url: str | None
    confidence: float


@dataclass(frozen=True)
class ToolTrace:
    name: str
    args: dict[str, Any]
    duration_s: float
    ok: bool
    error: str | None = None


@dataclass
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.input_tokens += int(usage.get("input_tokens", 0) or 0)
            self.output_tokens += int(usage.get("output_tokens", 0) or 0)
            self.total_tokens += int(usage.get("total_tokens", 0) or 0)


@dataclass
class TurnResult:
    reply: str
    recommendations: list[Recommendation] = field(default_factory=list)
    trace: list[ToolTrace] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    audio_description: Any | None = None  # tools.describe.AudioDescription when audio was described
    brain: str = ""
    ranking: list[int] | None = None  # replay turns only: indices into the candidates
    ok: bool = True  # False when the turn ended on an error sentence


TurnEvent = ToolStarted | ToolFinished | TextDelta | TurnResult


class MusicAgent:
    """One compiled agent graph serving many chat sessions (and benchmark replay)."""

    def __init__(
        self, settings: Settings, graph: CompiledStateGraph, tool_names: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.tool_names = tuple(tool_names)
        self._catalog: CatalogContext | None = None
        self._catalog_lock = threading.Lock()
        self._sessions: dict[str, threading.Lock] = {}
        self._sessions_lock = threading.Lock()

    @property
    def brain(self) -> str:
        return self.settings.brain_label

    # --- public API ----------------------------------------------------------------

    def stream_turn(
        self,
        session_id: str,
        text: str,
        audio: str | None = None,
        *,
        candidates: Sequence[str] = (),
        community: str | None = None,
        catalog: CatalogLike | None = None,
        scorer: PoolScorer | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn, yielding events and finally its :class:`TurnResult`."""
        text = text if isinstance(text, str) else ""
        words, links = split_youtube_links(text)
        if not audio and links:
            audio = links[0]
        refusal = self._check_input(text, audio, candidates)
        if refusal:
            yield TextDelta(refusal)
            yield TurnResult(reply=refusal, brain=self.brain, ok=False)
            return
        clip_only = bool(audio) and not words.strip() and not candidates
        if not words.strip():
            words = DEFAULT_RANKING_REQUEST if candidates else DEFAULT_AUDIO_REQUEST
        context = self._context(catalog, candidates, community, scorer)
        message = compose_user_message(
            words, audio=audio, candidates=candidates, community=community
        )
        with self._session_lock(session_id):
            yield from self._run(session_id, message, context, clip_only=clip_only)

    def run_turn(
        self,
        session_id: str,
        text: str,
        audio: str | None = None,
        **replay: Any,
    ) -> TurnResult:
        """The blocking form of :meth:`stream_turn`: only the final result."""
        result = None
        for event in self.stream_turn(session_id, text, audio, **replay):
            if isinstance(event, TurnResult):
                result = event
        assert result is not None  # stream_turn always ends with a TurnResult
        return result

    def reset(self, session_id: str) -> None:
        """Forget a session's history (its audio descriptions go with it)."""
        with self._session_lock(session_id):
            self.graph.checkpointer.delete_thread(session_id)
        with self._sessions_lock:
            self._sessions.pop(session_id, None)

    def warm_up(self) -> None:
        """Open the catalog now rather than on the first turn."""
        self._context(None, (), None)

    def catalog_status(self) -> str:
        """``"open"``, ``"unavailable (why)"`` or ``"not opened yet"`` (for the UI/bench)."""
        if self._catalog is None:
            return "not opened yet"
        return (
            "open"
            if self._catalog.catalog is not None
            else f"unavailable ({self._catalog.unavailable})"
        )

    # --- internals -------------------------------------------------------------------

    def _check_input(self, text: str, audio: str | None, candidates: Sequence[str]) -> str | None:
        limit = self.settings.max_input_chars
        if len(text) > limit:
            return (
                f"Your message is {len(text):,} characters long; please keep it under "
                f"{limit:,} characters (describe what you want in a few sentences)."
            )
        if not text.strip() and not audio and not candidates:
            return "Please type a message about music or attach an audio clip."
        return clip_problem(audio) if audio else None

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._sessions_lock:
            return self._sessions.setdefault(session_id, threading.Lock())

    def _context(
        self,
        catalog: CatalogLike | None,
        candidates: Sequence[str],
        community: str | None,
        scorer: PoolScorer | None = None,
    ) -> CatalogContext:
        if catalog is None:
            with self._catalog_lock:
                if self._catalog is None:
                    self._catalog = open_default_catalog(self.settings)
            catalog, unavailable = self._catalog.catalog, self._catalog.unavailable
        else:
            unavailable = ""
        return CatalogContext(
            catalog=catalog,
            unavailable=unavailable or "no catalog is configured",
            candidates=tuple(candidates),
            community=community,
            scorer=scorer,
        )

    def _run(
        self, session_id: str, message: str, context: CatalogContext, *, clip_only: bool = False
    ) -> Iterator[TurnEvent]:
        config = {"configurable": {"thread_id": session_id}}
        trace: list[ToolTrace] = []
        usage = TokenUsage()
        started: dict[str, ToolStarted] = {}
        answer: ChatAnswer | CandidateRanking | None = None
        last_ai: AIMessage | None = None
        audio_description = None
        streamed_text = False
        malformed = False
        try:
            for mode, chunk in self.graph.stream(
                {"messages": [HumanMessage(content=message)]},
                config,
                context=context,
                stream_mode=["custom", "messages", "updates"],
            ):
                if mode == "custom" and isinstance(chunk, dict):
                    event = chunk.get("event")
                    if event == "tool_started":
                        begun = ToolStarted(chunk["call_id"], chunk["name"], dict(chunk["args"]))
                        started[begun.call_id] = begun
                        yield begun
                    elif event == "tool_finished":
                        finished = self._finished(chunk)
                        begun = started.get(finished.call_id)
                        trace.append(
                            ToolTrace(
                                finished.name,
                                begun.args if begun else {},
                                finished.duration_s,
                                finished.ok,
                                finished.error,
                            )
                        )
                        if finished.name == DESCRIBE_TOOL and finished.ok:
                            audio_description = parse_audio_description(chunk)
                        yield finished
                elif mode == "messages":
                    piece, metadata = chunk
                    if (
                        isinstance(piece, AIMessageChunk)
                        and metadata.get("langgraph_node") == "model"
                        and isinstance(piece.content, str)
                        and piece.content
                    ):
                        streamed_text = True
                        yield TextDelta(self.settings.redact(piece.content))
                elif mode == "updates":
                    for update in chunk.values():
                        if not isinstance(update, dict):
                            continue
                        for m in update.get("messages", []) or []:
                            if isinstance(m, AIMessage):
                                last_ai = m
                                malformed = malformed or bool(m.invalid_tool_calls)
                                usage.add(m.usage_metadata)
                        if update.get("structured_response") is not None:
                            answer = update["structured_response"]
        except Exception as error:  # the turn ends in a sentence, never a traceback
            reply = describe_failure(error, self.settings)
            log.warning("turn failed in session %s: %s", session_id, reply)
            yield TextDelta(reply)
            yield TurnResult(reply=reply, trace=trace, usage=usage, brain=self.brain, ok=False)
            return
        result = self._result(answer, last_ai, malformed, trace, usage, audio_description)
        failure = clip_failure(trace) if clip_only and audio_description is None else None
        if failure:
            # The clip was all the user sent: any answer now would rest on the stand-in
            # request alone, so whatever the brain said, the turn is the clip's error.
            result = TurnResult(reply=failure, trace=trace, usage=usage, brain=self.brain, ok=False)
        if not streamed_text or answer is not None:
            yield TextDelta(result.reply)
        yield result

    def _finished(self, chunk: dict[str, Any]) -> ToolFinished:
        content = self.settings.redact(str(chunk.get("content", "")))
        ok = bool(chunk.get("ok"))
        return ToolFinished(
            call_id=chunk["call_id"],
            name=chunk["name"],
            ok=ok,
            duration_s=float(chunk.get("duration_s", 0.0)),
            summary=summarize_tool_result(content) if ok else content[:200],
            error=None if ok else content.removeprefix("Error:").strip()[:300],
        )

    def _result(
        self,
        answer: ChatAnswer | CandidateRanking | None,
        last_ai: AIMessage | None,
        malformed: bool,
        trace: list[ToolTrace],
        usage: TokenUsage,
        audio_description: Any,
    ) -> TurnResult:
        redact = self.settings.redact
        common = {
            "trace": trace,
            "usage": usage,
            "audio_description": audio_description,
            "brain": self.brain,
        }
        if isinstance(answer, ChatAnswer):
            return TurnResult(
                reply=redact(answer.reply),
                recommendations=[
                    Recommendation(
                        redact(r.name), r.artist, redact(r.why), r.youtube_url, r.confidence
                    )
                    for r in answer.recommendations
                ],
                **common,
            )
        if isinstance(answer, CandidateRanking):
            return TurnResult(
                reply=redact(answer.reply or "Ranked."), ranking=list(answer.order), **common
            )
        if malformed:
            reply = (
                "The model sent a malformed tool call, so this turn has no answer; "
                "please try again or rephrase."
            )
        elif last_ai is not None and isinstance(last_ai.content, str) and last_ai.content.strip():
            # Plain text from a model that skipped the answer tool is still an answer; a
            # retry-exhausted sentence from the middleware is not.
            reply = redact(last_ai.content.strip())
            if reply.startswith(CALL_LIMIT_PREFIX):
                reply = (
                    f"The model did not finish within {self.settings.model_call_limit} steps; "
                    "please try again or ask something narrower."
                )
            return TurnResult(reply=reply, ok=not reply.startswith(FAILURE_PREFIX), **common)
        else:
            reply = "The model gave no answer this turn; please try again or rephrase."
        return TurnResult(reply=reply, ok=False, **common)


@dataclass
class _OpenedCatalog:
    catalog: CatalogLike | None
    unavailable: str = ""


def open_default_catalog(settings: Settings) -> _OpenedCatalog:
    """The chat catalog, or the sentence that says why it is unavailable."""
    try:
        from vectorstore import open_catalog

        return _OpenedCatalog(open_catalog(settings.catalog_path))
    except Exception as error:  # a missing index must not break chat: tools say so
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return _OpenedCatalog(None, reason or f"{type(error).__name__} opening the catalog")


def split_youtube_links(text: str) -> tuple[str, list[str]]:
    """``text`` without the YouTube links pasted into it, and those links in order.

    Such a link is the clip, not words to look up or search for. Links to other sites stay
    in the text: they are the user's words, and no other host is ever fetched. Text without
    a YouTube link comes back unchanged (benchmark queries must reach the brain as given).
    """
    links: list[str] = []

    def drop_link(token: re.Match[str]) -> str:
        link = token.group(0).lstrip(_LINK_OPENERS).rstrip(_LINK_CLOSERS)
        # A bare "youtube.com" is a word; a link has a path.
        if "/" in link and looks_like_url(link) and is_youtube_link(link):
            links.append(link)
            return ""
        return token.group(0)

    words = _TOKEN.sub(drop_link, text)
    return (re.sub(r"[ \t]{2,}", " ", words).strip(), links) if links else (text, [])


def clip_problem(audio: str) -> str | None:
    """Why ``audio`` cannot be the turn's clip, as one sentence, or None if it can."""
    if looks_like_url(audio):
        try:
            # Lenient, as for scraped benchmark links: a link with junk after its video id
            # passes here and is judged by the fetch tool, so the turn still answers.
            parse_youtube_url(audio, lenient=True)
        except AudioInputError as error:  # playlist, channel, other site, malformed link
            return str(error)
        return None
    if not Path(audio).is_file():
        return f"The audio file {Path(audio).name!r} does not exist; upload it again."
    return None


def clip_failure(trace: Sequence[ToolTrace]) -> str | None:
    """The error sentence of the first failed fetch or describe call of a turn, if any."""
    return next(
        (t.error for t in trace if t.name in (FETCH_TOOL, DESCRIBE_TOOL) and not t.ok and t.error),
        None,
    )


def summarize_tool_result(content: str) -> str:
    """A one-line summary of a tool's result for the UI's tool trace."""
    try:
        payload = json.loads(content)
    except ValueError:
        return content[:160]
    if isinstance(payload, dict):
        for key in ("hits", "matches"):
            if isinstance(payload.get(key), list):
                names = [str(h.get("name")) for h in payload[key][:3] if isinstance(h, dict)]
                more = "…" if len(payload[key]) > 3 else ""
                return f"{len(payload[key])} {key}: {', '.join(names)}{more}"
        if "order" in payload:
            top = [str(t.get("name")) for t in payload.get("top", [])[:3]]
            return f"ranked {len(payload['order'])} candidates; top: {', '.join(top)}"
        if isinstance(payload.get("summary"), str):
            return payload["summary"][:160]
    return content[:160]


def parse_audio_description(event: dict[str, Any]) -> Any:
    """The ``AudioDescription`` a describe tool returned (its artifact, or its JSON)."""
    artifact = event.get("artifact")
    if artifact is not None and hasattr(artifact, "summary"):
        return artifact
    try:
        from tools.describe import AudioDescription

        return AudioDescription.model_validate_json(str(event.get("content", "")))
    except Exception:  # a plain-text description is still shown in the trace
        return None
