"""The chat turn: from a chat-box value to a stream of page updates.

Conventions:

- :class:`ChatController` holds one agent (anything with ``stream_turn`` and ``reset``, the
  :class:`agent.MusicAgent` API) and the :class:`~demo.sessions.SessionStore`.
- :meth:`ChatController.respond` is a generator; every item is a :class:`View`, which
  ``demo.app`` turns into the outputs of the Gradio event (chat, box, cards, audio panel,
  turn summary). Each item carries the whole chat: Gradio replaces the value on each yield.
- Nothing raises into the page: the agent never raises for bad input, and anything else
  (a bug) is logged and shown as one sentence, after which the session keeps working.
- The turn summary (``View.turn``) is plain JSON for API clients: ``reply``,
  ``recommendations`` (dicts), ``audio`` (the description as a dict, or ``None``),
  ``brain`` and ``ok``.
- Everything shown is untrusted text made safe by ``demo.render``: chat text through
  :func:`render.chat_text`, every string of the turn summary through
  :func:`render.public_text` (no server path or internal address reaches the browser).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent import Settings, TextDelta, ToolFinished, ToolStarted, TurnEvent, TurnResult
from demo import render
from demo.inputs import ChatInput, Refusal, oversize_sentence, read_message
from demo.sessions import ChatSession, SessionStore

log = logging.getLogger(__name__)

BUSY_MESSAGE = (
    "I'm still answering your previous message; send this one again once that answer is done."
)
BUSY_NEW_CONVERSATION = (
    "I'm still answering your last message; start a new conversation once that answer is done."
)
# API clients only: the page shows nothing new for a double-click.
DUPLICATE_MESSAGE = "This message is already being answered."
FAILURE_MESSAGE = (
    "Something went wrong on our side while answering; please send your message again "
    "(your conversation is still here)."
)
NEW_CONVERSATION_MESSAGE = "New conversation started: tell me what you'd like to hear."


class TurnAgent(Protocol):
    """The part of :class:`agent.MusicAgent` the demo uses."""

    def stream_turn(
        self, session_id: str, text: str, audio: str | None = None
    ) -> Iterator[TurnEvent]: ...

    def reset(self, session_id: str) -> None: ...


@dataclass
class View:
    """One update of the page. ``None`` fields are left as they are on the page."""

    messages: list[dict[str, Any]]
    # True: cleared and locked (a turn streams); False: cleared and editable.
    box_locked: bool | None = False
    cards: str | None = None
    audio: Any | None = None  # an AudioDescription when a clip was described this turn
    turn: dict[str, Any] | None = None
    fresh: bool = False  # a new conversation: hide the audio panel, empty the cards
    session_id: str | None = None  # set when the browser must remember a (new) session id


class ChatController:
    """Runs turns for many browser sessions against one agent."""

    def __init__(self, agent: TurnAgent, store: SessionStore | None = None) -> None:
        self.agent = agent
        self.store = store if store is not None else SessionStore(forget=agent.reset)
        # The agent's own message limit, so the page refuses exactly what the agent would.
        settings = getattr(agent, "settings", None)
        self.max_input_chars = (settings or Settings()).max_input_chars

    def respond(self, key: str, value: dict[str, Any] | str | None) -> Iterator[View]:
        """Answer one chat-box value for session ``key``, streaming the steps."""
        session = self.store.get(key)
        try:
            yield from self._respond(session, value)
        finally:  # also when the page went away mid-turn: what was shown is kept
            self.store.save(session)

    def _respond(self, session: ChatSession, value: dict[str, Any] | str | None) -> Iterator[View]:
        message = read_message(value, self.max_input_chars)
        if isinstance(message, Refusal):
            session.messages.extend(_user_messages(message.text, message.files))
            session.messages.append(_assistant(message.reason))
            yield View(session.messages, turn=_refusal_turn(message.reason))
            return
        if not session.busy.acquire(blocking=False):
            if message == session.running:  # a double-click: the turn is already running
                yield View(session.messages, box_locked=None, turn=_refusal_turn(DUPLICATE_MESSAGE))
                return
            session.messages.append(_assistant(BUSY_MESSAGE))
            yield View(session.messages, box_locked=None, turn=_refusal_turn(BUSY_MESSAGE))
            return
        session.running = message
        try:
            yield from self._turn(session, message)
        finally:
            session.running = None
            session.busy.release()

    def _turn(self, session: ChatSession, message: ChatInput) -> Iterator[View]:
        messages = session.messages
        files = (message.audio,) if message.audio else ()
        messages.extend(_user_messages(message.text, files))
        messages.extend(_assistant(note) for note in message.notes)
        yield View(messages, box_locked=True)
        started: dict[str, int] = {}  # tool call id -> index of its thought in ``messages``
        answer: int | None = None
        streamed = ""  # the raw answer so far: made safe as a whole, never piece by piece
        try:
            for event in self.agent.stream_turn(
                session.agent_session_id, message.text, message.audio
            ):
                if isinstance(event, ToolStarted):
                    started[event.call_id] = len(messages)
                    messages.append(render.started_message(event.call_id, event.name, event.args))
                elif isinstance(event, ToolFinished):
                    index = started.get(event.call_id)
                    done = render.finished_message(
                        messages[index] if index is not None else None,
                        event.call_id,
                        event.name,
                        event.ok,
                        event.duration_s,
                        event.summary,
                        event.error,
                    )
                    if index is None:
                        messages.append(done)
                    else:
                        messages[index] = done
                elif isinstance(event, TextDelta):
                    if answer is None:
                        answer = len(messages)
                        messages.append(_assistant(""))
                    streamed += event.text
                    messages[answer]["content"] = render.chat_text(streamed)
                elif isinstance(event, TurnResult):
                    _close_pending(messages, started)
                    # The result's reply is authoritative: streamed deltas may be partial.
                    if answer is None:
                        messages.append(_assistant(event.reply))
                    else:
                        messages[answer]["content"] = render.chat_text(event.reply)
                    session.cards = render.cards_html(event.recommendations)
                    yield View(
                        messages,
                        cards=session.cards,
                        audio=event.audio_description,
                        turn=turn_summary(event),
                    )
                    return
                yield View(messages, box_locked=True)
        except Exception:
            log.exception("chat turn failed")
        _close_pending(messages, started)
        messages.append(_assistant(FAILURE_MESSAGE))
        yield View(messages, turn=_refusal_turn(FAILURE_MESSAGE))

    def new_conversation(self, key: str) -> View:
        """Start afresh, unless a turn is still streaming (it would write into the old chat)."""
        if self.store.get(key).busy.locked():
            session = self.store.get(key)
            session.messages.append(_assistant(BUSY_NEW_CONVERSATION))
            return View(session.messages, box_locked=None)
        session = self.store.new_conversation(key)
        session.messages.append(_assistant(NEW_CONVERSATION_MESSAGE))
        self.store.save(session)
        return View(session.messages, cards="", fresh=True, session_id=session.key)

    def restore(self, connection: str, stored_id: object) -> View:
        """The page loaded holding ``stored_id``: show that conversation (or a new one)."""
        session = self.store.attach(connection, stored_id)
        return View(session.messages, box_locked=None, cards=session.cards, session_id=session.key)

    def oversize(self, key: str, name: str, size_bytes: int) -> View:
        """The browser refused to upload a file over the limit: say so in the chat."""
        session = self.store.get(key)
        reason = oversize_sentence(Path(name).name or "the file", size_bytes)
        session.messages.append(_assistant(reason))
        self.store.save(session)
        return View(session.messages, box_locked=None, turn=_refusal_turn(reason))

    def forget(self, key: str) -> None:
        self.store.drop(key)


def turn_summary(result: TurnResult) -> dict[str, Any]:
    """The JSON an API client gets for a finished turn."""
    description = result.audio_description
    audio = None
    if description is not None:
        # No {"path": …} object: API clients (gradio_client) would try to download it.
        audio = description.model_dump(mode="json", exclude={"source": {"path"}})
        audio["source"]["name"] = Path(description.source.path).name
    summary = {
        "reply": result.reply,
        "recommendations": [dataclasses.asdict(r) for r in result.recommendations],
        "audio": audio,
        "brain": result.brain,
        "ok": getattr(result, "ok", True),
    }
    return _public(summary)


def _public(value: Any) -> Any:
    """``value`` with :func:`render.public_text` applied to every string in it."""
    if isinstance(value, str):
        return render.public_text(value)
    if isinstance(value, dict):
        return {key: _public(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_public(item) for item in value]
    return value


def _refusal_turn(reason: str) -> dict[str, Any]:
    return {"reply": reason, "recommendations": [], "audio": None, "brain": "", "ok": False}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": render.chat_text(text)}


def _user_messages(text: str, files: tuple[str, ...]) -> list[dict[str, Any]]:
    # An attachment is named, not embedded: a file message would put its upload path (a
    # server path) into the page; the audio panel shows what was heard.
    shown = [{"role": "user", "content": render.chat_text(f"🎵 {Path(f).name}")} for f in files]
    if text:
        shown.append({"role": "user", "content": render.chat_text(text)})
    return shown


def _close_pending(messages: list[dict[str, Any]], started: dict[str, int]) -> None:
    # A tool that never reported back must not spin forever in the page.
    for index in started.values():
        message = messages[index]
        metadata = message.get("metadata", {})
        if metadata.get("status") == "pending":
            del metadata["status"]  # shown unfolded, like a failed step
            metadata["title"] = metadata["title"].replace("🔧", "⚠️").rstrip("…")
            message["content"] = f"{message['content']}\n\n**No result came back.**".strip()
