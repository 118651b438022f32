"""One chat session per browser session, kept on the server.

Conventions:

- A session is keyed by Gradio's ``request.session_hash`` (one per browser tab or
  ``gradio_client.Client``); the agent session id is that hash plus a conversation number,
  so "new conversation" starts a clean agent thread without touching other sessions.
- The displayed chat lives here rather than being round-tripped through the browser: the
  server's copy is the truth, so two tabs or two API clients can never mix histories.
- ``busy`` is held while a turn runs and ``running`` names its message. A second send from
  the same session meanwhile never starts a turn: the same message again (a double-click)
  changes nothing, a different one is answered with a sentence.
- At most ``capacity`` sessions are kept; the least recently used is forgotten first (its
  agent thread is reset too), so a public Space cannot grow without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ChatSession:
    """What one browser session has on the server."""

    key: str
    conversation: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    busy: threading.Lock = field(default_factory=threading.Lock)
    running: object = None  # the message being answered while ``busy`` is held

    @property
    def agent_session_id(self) -> str:
        return f"{self.key}:{self.conversation}"


class SessionStore:
    """Thread-safe map from session hash to :class:`ChatSession`, bounded LRU."""

    def __init__(self, forget: Callable[[str], None], capacity: int = 1000) -> None:
        # ``forget`` releases an agent session id (``MusicAgent.reset``).
        self._forget = forget
        self._capacity = capacity
        self._sessions: OrderedDict[str, ChatSession] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ChatSession:
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = ChatSession(key)
            self._sessions.move_to_end(key)
            evicted = []
            while len(self._sessions) > self._capacity:
                evicted.append(self._sessions.popitem(last=False)[1])
        for old in evicted:
            self._forget(old.agent_session_id)
        return session

    def new_conversation(self, key: str) -> ChatSession:
        """Forget the agent thread and the shown chat; the next turn starts fresh."""
        session = self.get(key)
        self._forget(session.agent_session_id)
        session.conversation += 1
        session.messages = []
        return session

    def drop(self, key: str) -> None:
        """The browser tab closed: forget everything about it."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            self._forget(session.agent_session_id)

    def __len__(self) -> int:
        return len(self._sessions)
