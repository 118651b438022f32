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
- Card feedback (:meth:`ChatController.feedback`) goes to the agent's session state
  (``give_feedback``); exports (:meth:`ChatController.export`) are written from that state
  alone (``session_state``), so they list what the agent remembers, 👍 marked, 👎 left out.
- After a turn that matched its clip by sound, the cards end with the user's own recordings
  it sounds like, each playable (``demo.local_audio``).
- A turn's tool steps nest in one group thought (:class:`_Steps`, ``demo.render``).
- Everything shown is untrusted text made safe by ``demo.render``: chat text through
  :func:`render.chat_text`, every string of the turn summary through
  :func:`render.public_text` (no server path or internal address reaches the browser).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent import Settings, TextDelta, ToolFinished, ToolStarted, TurnEvent, TurnResult
from agent.state import Feedback, GivenItem, SessionState
from demo import render
from demo.inputs import ChatInput, Refusal, oversize_sentence, read_message
from demo.local_audio import LocalAudio
from demo.playlists import PlaylistEntry, PlaylistFiles, write_playlists
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
FEEDBACK_BUSY = "I'm still answering; give your feedback once that answer is done."
#: What the page says when a card's button was pressed (``label``: the card's name).
FEEDBACK_NOTES = {
    "like": "👍 Noted: {label} will be a seed for my next answer.",
    "dislike": "👎 Noted: I'll leave out {label} from now on.",
    "more": "Looking for more like {label}…",
}
MORE_DONE = "Here is more like {label}, in the chat and the cards."


class TurnAgent(Protocol):
    """The part of :class:`agent.MusicAgent` the demo uses."""

    def stream_turn(
        self, session_id: str, text: str, audio: str | None = None
    ) -> Iterator[TurnEvent]: ...

    def reset(self, session_id: str) -> None: ...

    def give_feedback(self, session_id: str, action: str, card: int | str) -> Feedback: ...

    def session_state(self, session_id: str) -> SessionState: ...


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

    def __init__(
        self,
        agent: TurnAgent,
        store: SessionStore | None = None,
        local_audio: LocalAudio | None = None,
    ) -> None:
        self.agent = agent
        self.local_audio = local_audio or LocalAudio(None)
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
        steps = _Steps(messages)
        answer: int | None = None
        streamed = ""  # the raw answer so far: made safe as a whole, never piece by piece
        try:
            for event in self.agent.stream_turn(
                session.agent_session_id, message.text, message.audio
            ):
                if isinstance(event, ToolStarted | ToolFinished):
                    steps.add(event)
                elif isinstance(event, TextDelta):
                    if answer is None:
                        answer = len(messages)
                        messages.append(_assistant(""))
                    streamed += event.text
                    messages[answer]["content"] = render.chat_text(streamed)
                elif isinstance(event, TurnResult):
                    steps.close()
                    # The result's reply is authoritative: streamed deltas may be partial.
                    if answer is None:
                        messages.append(_assistant(event.reply))
                    else:
                        messages[answer]["content"] = render.chat_text(event.reply)
                    session.cards = render.cards_html(
                        event.recommendations
                    ) + render.local_cards_html(self.local_audio.sounds_like(event.trace))
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
        steps.close()
        messages.append(_assistant(FAILURE_MESSAGE))
        yield View(messages, turn=_refusal_turn(FAILURE_MESSAGE))

    # --- card feedback and export -------------------------------------------------------

    def feedback(self, key: str, action: str, card: object) -> Iterator[tuple[View | None, dict]]:
        """👍, 👎 or "more like this" on card ``card`` (its number, or an entity id or
        name) of session ``key``. Yields (view or None, the feedback as JSON): like and
        dislike only answer in the JSON, "more" then streams a turn asking for more."""
        session = self.store.get(key)
        if session.busy.locked():
            yield None, _feedback_json(False, FEEDBACK_BUSY)
            return
        try:
            given = self.agent.give_feedback(session.agent_session_id, action, _card_ref(card))
        except ValueError as error:  # FeedbackError: no such card or action, one sentence
            yield None, _feedback_json(False, str(error))
            return
        self.store.save(session)
        item = given.item
        note = FEEDBACK_NOTES[given.action].format(label=item.label)
        yield None, _feedback_json(True, note, given)
        if given.action != "more":
            return
        shown: View | None = None  # one view behind: the last one also changes the note
        for view in self.respond(key, {"text": f"More like {item.label}", "files": []}):
            if shown is not None:
                yield shown, _feedback_json(True, note, given)
            shown = view
        if shown is not None:
            yield shown, _feedback_json(True, MORE_DONE.format(label=item.label), given)

    def export(self, key: str, folder: Path) -> PlaylistFiles | None:
        """The session's recommendations as M3U8, CSV and JSPF files in a folder of
        ``folder`` named by a digest of the session id (an API client chooses its own
        connection id, which must not become a path); ``None`` before the first
        recommendation."""
        session = self.store.get(key)
        entries = playlist_entries(self.agent.session_state(session.agent_session_id))
        if not entries:
            return None
        return write_playlists(entries, folder / hashlib.sha256(session.key.encode()).hexdigest())

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


class _Steps:
    """The turn's tool steps, nested in one group thought of ``messages`` (demo.render)."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.group: int | None = None
        self.group_id = f"steps-{len(messages)}"  # the chat's length: unique in the chat
        self.index: dict[str, int] = {}  # tool call id -> index of its thought
        self.failures: list[str] = []  # each failed step's sentence, for the group

    def add(self, event: ToolStarted | ToolFinished) -> None:
        if self.group is None:
            self.group = len(self.messages)
            self.messages.append(render.steps_group(self.group_id))
        index = self.index.get(event.call_id)
        if isinstance(event, ToolStarted):
            self.index[event.call_id] = len(self.messages)
            self.messages.append(
                render.started_message(self.group_id, event.call_id, event.name, event.args)
            )
            return
        done = render.finished_message(
            self.messages[index] if index is not None else None,
            self.group_id,
            event.call_id,
            event.name,
            event.ok,
            event.duration_s,
            event.summary,
            event.error,
        )
        if not event.ok:
            self.failures.append(render.failure_sentence(event.name, event.error or event.summary))
        if index is None:
            self.index[event.call_id] = len(self.messages)
            self.messages.append(done)
        else:
            self.messages[index] = done

    def close(self) -> None:
        """The turn ended: a step that never reported back must not spin forever, and the
        group shows the count, the total time and any failure."""
        if self.group is None:
            return
        for index in self.index.values():
            metadata = self.messages[index]["metadata"]
            if metadata.get("status") == "pending":
                del metadata["status"]  # shown unfolded, like a failed step
                metadata["title"] = metadata["title"].replace("🔧", "⚠️").rstrip("…")
                content = self.messages[index]["content"]
                self.messages[index]["content"] = f"{content}\n\n**No result came back.**".strip()
                self.failures.append(f"**{metadata['title'][2:].strip()}:** no result came back.")
        steps = [self.messages[i] for i in sorted(self.index.values())]
        self.messages[self.group] = render.finished_group(self.group_id, steps, self.failures)


def _card_ref(card: object) -> int | str:
    """A card as the page or an API client names it: ``2``, ``"#2"`` or an entity id/name."""
    if isinstance(card, int | float) and not isinstance(card, bool):
        return int(card)
    text = str(card or "").strip()
    number = text.removeprefix("#").strip()
    return int(number) if number.isdigit() else text


def _feedback_json(ok: bool, message: str, given: Feedback | None = None) -> dict[str, Any]:
    card = None
    if given is not None:
        item = given.item
        card = {"name": item.name, "artist": item.artists[0] if item.artists else None}
        card |= {"entity_id": item.entity_id, "number": item.position}
    return _public({"ok": ok, "message": message, "action": given and given.action, "card": card})


def playlist_entries(state: SessionState) -> list[PlaylistEntry]:
    """What the session recommended, in order, without repeats or 👎 items; 👍 marked."""
    entries: list[PlaylistEntry] = []
    kept: list[GivenItem] = []
    for item in state.given:
        if any(item.same_item(k) for k in kept) or any(item.same_item(d) for d in state.disliked):
            continue
        kept.append(item)
        artist = next((a for a in item.artists if a != item.name), None)
        entries.append(
            PlaylistEntry(
                name=item.name,
                artist=artist,
                kind=item.kind,
                youtube_url=item.youtube_url,
                liked=any(item.same_item(liked) for liked in state.liked),
                turn=item.turn,
                position=item.position,
                entity_id=item.entity_id,
            )
        )
    return entries
