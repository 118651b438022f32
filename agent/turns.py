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
  clip ends the turn with one sentence before any tool runs (docs/bad-input.md).
- A turn whose only input is a clip that could not be fetched or decoded (its words, if
  any, only point at it: "anything like <link>") ends with that tool's error sentence
  (``ok=False``): there is nothing else to answer.
- The turn's inputs reach the tools and the brain through the runtime context
  (:class:`agent.context.TurnContext`), never through the prompt: the human message is the
  user's words alone. The grammar (:mod:`agent.grammar`) reads them and the session state
  (:mod:`agent.state`, kept in the LangGraph thread) is advanced before the graph runs.
- Every recommendation a user sees went through the guard (:mod:`agent.guard`):
  ``in_catalog`` says whether the catalog knows it; ``evidence`` and ``thread_url`` cite
  the thread it came from when the recommender gave one.
- Benchmark replay passes ``candidates`` (shown numbered, in the given order), the
  ``community``, a leak-free ``catalog`` and optionally the ``scorer`` ``rank_candidates``
  uses; the result's ``ranking`` holds indices into ``candidates``, best first.
- Feedback on a card between turns (:meth:`MusicAgent.give_feedback`) is written into the
  session state in the same checkpoint; the next turn applies it (:mod:`agent.state`).
- Durations are seconds (``time.perf_counter``); token usage is what the provider reported
  (zero for the offline brain, which calls no provider).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain.agents.middleware.model_call_limit import ModelCallLimitExceededError
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.graph.state import CompiledStateGraph

from agent.brains import describe_failure
from agent.context import TurnContext
from agent.grammar import parse_message
from agent.guard import CheckedRecommendation
from agent.names import with_catalog_names
from agent.offline import DEFAULT_AUDIO_REQUEST, DESCRIBE_TOOL, FETCH_TOOL, points_at_clip
from agent.schemas import CandidateRanking, ChatAnswer
from agent.settings import Settings
from agent.state import Feedback, FeedbackAction, SessionState
from tools.audio import AudioInputError, check_audio_path
from tools.catalog import CatalogLike, PoolScorer
from tools.outcome import ToolOutcome
from tools.youtube import is_youtube_link, looks_like_url, parse_youtube_url

log = logging.getLogger(__name__)

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
    """One card. ``in_catalog`` is False for a model's own suggestion the catalog does not
    know; ``evidence`` is the recommender's strongest reason, ``thread_url`` its thread."""

    name: str
    artist: str | None
    why: str
    youtube_url: str | None
    confidence: float
    in_catalog: bool = True
    kind: str | None = None
    entity_id: str | None = None
    evidence: str | None = None
    thread_url: str | None = None


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
        self._catalog: _OpenedCatalog | None = None
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
        engine: Any = None,
        scorer: PoolScorer | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn, yielding events and finally its :class:`TurnResult`.

        ``catalog`` (and its ``engine``, a ``vectorstore.engine.RecommendationEngine``)
        replace the default ones opened from the settings; a catalog without an engine
        means recommending by catalog search."""
        text = text if isinstance(text, str) else ""
        # Limits before parsing: nothing looks for links in an over-long or undecodable text.
        refusal = text_problem(text, self.settings.max_input_chars)
        words, links = split_youtube_links(text) if refusal is None else (text, [])
        if not audio and links:
            audio = links[0]
        refusal = refusal or self._check_input(text, audio, candidates)
        if refusal:
            yield TextDelta(refusal)
            yield TurnResult(reply=refusal, brain=self.brain, ok=False)
            return
        words = words.strip()
        # "more like this" with a clip asks nothing the clip does not.
        clip_only = bool(audio) and (not words or points_at_clip(words)) and not candidates
        context = self._context(catalog, candidates, community, scorer)
        context.text, context.audio = words, audio
        if catalog is not None:
            context.engine = engine
        # What the history shows for a turn without words: the clip or the pool was the ask.
        said = words or ("Rank the candidates." if candidates else DEFAULT_AUDIO_REQUEST)
        with self._session_lock(session_id):
            if not candidates:  # replay turns are one-shot: no conversation to remember
                context.message = parse_message(words)
                if context.catalog is not None:
                    context.message = with_catalog_names(context.message, context.catalog)
                previous = self.session_state(session_id)
                context.session = previous.begin_turn(context.message)
                context.exclude_entities = context.session.excluded_entities()
                context.exclude_artists = context.session.excluded_artists()
            yield from self._run(session_id, said, context, clip_only=clip_only)

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

    def session_state(self, session_id: str) -> SessionState:
        """What the session has established so far (a fresh state for a new session)."""
        values = self.graph.get_state({"configurable": {"thread_id": session_id}}).values
        return values.get("session") or SessionState()

    def give_feedback(self, session_id: str, action: FeedbackAction, card: int | str) -> Feedback:
        """Record 👍 (``like``), 👎 (``dislike``) or ``more`` on a card the session showed
        (its 1-based number in the last list, or its entity id or name) for the next turn;
        kept in the conversation's checkpoint with the rest of its state. Raises
        :class:`agent.state.FeedbackError` (one sentence) when there is no such card."""
        config = {"configurable": {"thread_id": session_id}}
        with self._session_lock(session_id):
            state = self.session_state(session_id).with_feedback(action, card)
            self.graph.update_state(config, {"session": state})
        return state.pending[-1]

    def reset(self, session_id: str) -> None:
        """Forget a session's history (its audio descriptions go with it)."""
        with self._session_lock(session_id):
            self.graph.checkpointer.delete_thread(session_id)
        with self._sessions_lock:
            self._sessions.pop(session_id, None)

    def warm_up(self) -> None:
        """Open the catalog and load the recommender's text encoder now rather than on the
        first turn (one small query; its answer is not used)."""
        context = self._context(None, (), None)
        if context.engine is not None:
            context.engine.similar_requests("music", k=1)

    def catalog_status(self) -> str:
        """``"open"``, ``"unavailable (why)"`` or ``"not opened yet"`` (for the UI/bench)."""
        if self._catalog is None:
            return "not opened yet"
        return (
            "open"
            if self._catalog.catalog is not None
            else f"unavailable ({self._catalog.unavailable})"
        )

    @property
    def has_recommender(self) -> bool:
        """True once the catalog's recommender is open (else chat recommends by search)."""
        return self._catalog is not None and self._catalog.engine is not None

    # --- internals -------------------------------------------------------------------

    def _check_input(self, text: str, audio: str | None, candidates: Sequence[str]) -> str | None:
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
    ) -> TurnContext:
        engine = None
        if catalog is None:
            with self._catalog_lock:
                if self._catalog is None:
                    self._catalog = open_default_catalog(self.settings)
            catalog, unavailable = self._catalog.catalog, self._catalog.unavailable
            engine = self._catalog.engine
        else:
            unavailable = ""
        return TurnContext(
            catalog=catalog,
            unavailable=unavailable or "no catalog is configured",
            candidates=tuple(candidates),
            community=community,
            scorer=scorer,
            engine=engine,
        )

    def _run(
        self, session_id: str, message: str, context: TurnContext, *, clip_only: bool = False
    ) -> Iterator[TurnEvent]:
        config = {"configurable": {"thread_id": session_id}}
        trace: list[ToolTrace] = []
        usage = TokenUsage()
        started: dict[str, ToolStarted] = {}
        answer: ChatAnswer | CandidateRanking | None = None
        shown: list[CheckedRecommendation] = []
        last_ai: AIMessage | None = None
        audio_description = None
        streamed_text = False
        malformed = False
        try:
            for mode, chunk in self.graph.stream(
                {"messages": [HumanMessage(content=message)], "session": context.session},
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
                        if update.get("shown") is not None:
                            shown = list(update["shown"])
        except Exception as error:  # the turn ends in a sentence, never a traceback
            if isinstance(error, ModelCallLimitExceededError):
                reply = (
                    f"The model did not finish within {self.settings.model_call_limit} steps; "
                    "please try again or ask something narrower."
                )
            else:
                reply = describe_failure(error, self.settings)
            log.warning("turn failed in session %s: %s", session_id, reply)
            yield TextDelta(reply)
            yield TurnResult(reply=reply, trace=trace, usage=usage, brain=self.brain, ok=False)
            return
        result = self._result(answer, shown, last_ai, malformed, trace, usage, audio_description)
        failure = clip_failure(trace) if clip_only and audio_description is None else None
        if failure:
            # The clip was all the user sent: any answer now would rest on the stand-in
            # request alone, so whatever the brain said, the turn is the clip's error.
            result = TurnResult(reply=failure, trace=trace, usage=usage, brain=self.brain, ok=False)
        if not streamed_text or answer is not None:
            yield TextDelta(result.reply)
        yield result

    def _finished(self, chunk: dict[str, Any]) -> ToolFinished:
        outcome: ToolOutcome = chunk["outcome"]
        error = self.settings.redact(outcome.error or "the tool failed")[:300]
        return ToolFinished(
            call_id=chunk["call_id"],
            name=chunk["name"],
            ok=outcome.ok,
            duration_s=float(chunk.get("duration_s", 0.0)),
            summary=self.settings.redact(summarize_tool_result(outcome)) if outcome.ok else error,
            error=None if outcome.ok else error,
        )

    def _result(
        self,
        answer: ChatAnswer | CandidateRanking | None,
        shown: list[CheckedRecommendation],
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
                        redact(r.name),
                        r.artist,
                        redact(r.why),
                        r.youtube_url,
                        r.confidence,
                        in_catalog=r.in_catalog,
                        kind=r.kind,
                        entity_id=r.entity_id,
                        evidence=r.evidence,
                        thread_url=r.thread_url,
                    )
                    for r in shown
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
            # Plain text from a model that skipped the answer tool is still an answer (model
            # failures are raised, not written as text, so this is never an error message).
            return TurnResult(reply=redact(last_ai.content.strip()), ok=True, **common)
        else:
            reply = "The model gave no answer this turn; please try again or rephrase."
        return TurnResult(reply=reply, ok=False, **common)


@dataclass
class _OpenedCatalog:
    catalog: CatalogLike | None
    unavailable: str = ""
    engine: Any = None  # vectorstore.engine.RecommendationEngine, when it could be opened


def _reason(error: BaseException, doing: str) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else f"{type(error).__name__} {doing}"


def open_default_catalog(settings: Settings) -> _OpenedCatalog:
    """The chat catalog and recommender, or the sentence that says why they are unavailable.

    Without the recommender (a catalog built from a user's file has no threads) chat still
    works: the brain recommends by catalog search."""
    try:
        from vectorstore.engine import open_engine

        engine = open_engine(settings.catalog_path)
    except Exception as error:  # chat goes on with catalog search
        engine_problem = _reason(error, "")
    else:  # the engine's own catalog: one copy of the index in memory, not two
        return _OpenedCatalog(engine.searcher, engine=engine)
    try:
        from vectorstore import open_catalog

        catalog = open_catalog(settings.catalog_path)
    except Exception as error:  # a missing index must not break chat: tools say so
        return _OpenedCatalog(None, _reason(error, "opening the catalog"))
    # Said only when there is a catalog to fall back on: with none, the caller (the demo
    # builds one) says what happens next, and "run build first" would be wrong.
    log.warning("recommender unavailable (%s); using catalog search", engine_problem)
    return _OpenedCatalog(catalog)


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
    try:
        check_audio_path(audio)
    except AudioInputError as error:  # missing, a directory, a file:// URL, a name too long
        return str(error)
    return None


def text_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be a message, checked before any parsing, or None if it can.

    Over ``limit`` characters, or not encodable as UTF-8 (lone surrogates: what Python makes
    of invalid UTF-8 bytes on a command line, or a ``\\udcff`` escape in a JSON request).
    """
    if len(text) > limit:
        return (
            f"Your message is {len(text):,} characters long; please keep it under "
            f"{limit:,} characters (describe what you want in a few sentences)."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "Your message contains bytes that are not valid UTF-8 text; please retype it or "
            "paste it again as plain text."
        )
    return None


def clip_failure(trace: Sequence[ToolTrace]) -> str | None:
    """The error sentence of the first failed fetch or describe call of a turn, if any."""
    return next(
        (t.error for t in trace if t.name in (FETCH_TOOL, DESCRIBE_TOOL) and not t.ok and t.error),
        None,
    )


def summarize_tool_result(outcome: ToolOutcome) -> str:
    """A one-line summary of a successful tool result for the UI's tool trace."""
    data = outcome.data
    if isinstance(data, dict):
        for key in ("items", "hits", "matches", "requests"):
            if isinstance(data.get(key), list):
                found = data[key]
                names = [
                    str(h.get("name") or h.get("request", "")[:40])
                    for h in found[:3]
                    if isinstance(h, dict)
                ]
                more = "…" if len(found) > 3 else ""
                return f"{len(found)} {key}: {', '.join(names)}{more}"
        if "order" in data:
            top = [str(t.get("name")) for t in data.get("top", [])[:3]]
            return f"ranked {len(data['order'])} candidates; top: {', '.join(top)}"
        if isinstance(data.get("summary"), str):
            return data["summary"][:160]
        if isinstance(data.get("path"), str):
            return f"fetched {data['path']}"
    return str(data)[:160]


def parse_audio_description(event: dict[str, Any]) -> Any:
    """The ``AudioDescription`` a describe tool returned (its artifact, or its JSON)."""
    artifact = event.get("artifact")
    if artifact is not None and hasattr(artifact, "summary"):
        return artifact
    try:
        from tools.describe import AudioDescription

        return AudioDescription.model_validate(event["outcome"].data)
    except Exception:  # a description without the full fields is still shown in the trace
        return None
