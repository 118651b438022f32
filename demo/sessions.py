"""Chat sessions: what each conversation shows, kept on the server (and on disk if asked).

Conventions:

- A session id is 32 hex characters minted here (``uuid4``). The page keeps it in the
  browser (``gr.BrowserState``, encrypted in localStorage) and presents it when it loads;
  :meth:`SessionStore.attach` then ties the page's connection (Gradio's
  ``request.session_hash``) to it, so a reload or a server restart finds the same
  conversation. An id the store does not know is never adopted: a new one is minted. API
  clients, which never load the page, use their connection id as their session id.
- The agent session id is the session id; "new conversation" forgets the session (its
  agent thread too) and mints a new id.
- The displayed chat lives here rather than being round-tripped through the browser: the
  server's copy is the truth, so two tabs or two API clients can never mix histories.
  With a ``database`` it is also saved (table ``chats``, JSON) whenever a turn ends, in the
  same SQLite file as the agent's threads (``agent.sessions``).
- ``busy`` is held while a turn runs and ``running`` names its message. A second send from
  the same session meanwhile never starts a turn: the same message again (a double-click)
  changes nothing, a different one is answered with a sentence. Turns of one session are
  therefore serialised, also across tabs sharing the session.
- Sessions idle for ``idle_s`` (no turn, no load) are pruned, with their agent threads;
  pruning runs at most every :data:`PRUNE_EVERY_S`, when a session is looked up.
- At most ``capacity`` sessions are held in memory, least recently used dropped first;
  without a database that forgets them (and their agent threads), with one they are
  simply read back from disk when next used.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seconds between two pruning sweeps.
PRUNE_EVERY_S = 60.0
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


def new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass
class ChatSession:
    """What one conversation has on the server."""

    key: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    cards: str = ""  # the last recommendations shown, as HTML
    busy: threading.Lock = field(default_factory=threading.Lock)
    running: object = None  # the message being answered while ``busy`` is held
    touched: float = field(default_factory=time.time)

    @property
    def agent_session_id(self) -> str:
        return self.key


class SessionStore:
    """Thread-safe map from session id to :class:`ChatSession`, optionally durable."""

    def __init__(
        self,
        forget: Callable[[str], None],
        capacity: int = 1000,
        *,
        database: Path | None = None,
        idle_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # ``forget`` releases an agent session id (``MusicAgent.reset``).
        self._forget = forget
        self._capacity = capacity
        self._idle_s = idle_s
        self._clock = clock
        self._sessions: OrderedDict[str, ChatSession] = OrderedDict()
        self._connections: OrderedDict[str, str] = OrderedDict()  # page connection -> id
        self._lock = threading.Lock()
        self._pruned_at = clock()
        self._db = _open_chats(database) if database is not None else None

    # --- lookup ------------------------------------------------------------------------

    def get(self, key: str) -> ChatSession:
        """The session of a page connection or session id, created empty if unknown."""
        self._maybe_prune()
        with self._lock:
            session_id = self._connections.get(key, key)
            session = self._cached(session_id) or self._load(session_id)
            if session is None:
                session = ChatSession(session_id, touched=self._clock())
            evicted = self._hold(session)
        self._release(evicted)
        return session

    def attach(self, connection: str, stored_id: object) -> ChatSession:
        """A page loaded with ``stored_id`` from the browser: its session, or a new one."""
        self._maybe_prune()
        with self._lock:
            known = None
            if isinstance(stored_id, str) and _SESSION_ID.fullmatch(stored_id):
                known = self._cached(stored_id) or self._load(stored_id)
            session = known or ChatSession(new_session_id(), touched=self._clock())
            session.touched = self._clock()
            self._connections[connection] = session.key
            self._connections.move_to_end(connection)
            while len(self._connections) > 4 * self._capacity:
                self._connections.popitem(last=False)
            evicted = self._hold(session)
        self._release(evicted)
        return session

    def new_conversation(self, key: str) -> ChatSession:
        """Forget the session behind ``key`` (agent thread included); start a new id."""
        old = self.get(key)
        self._delete(old)
        with self._lock:
            session = ChatSession(new_session_id(), touched=self._clock())
            for connection, session_id in self._connections.items():
                if session_id == old.key:
                    self._connections[connection] = session.key
            if key == old.key:  # an API client: its connection id was its session id
                self._connections[key] = session.key
            evicted = self._hold(session)
        self._release(evicted)
        return session

    def save(self, session: ChatSession) -> None:
        """Note the session's activity; write its chat to the database when there is one."""
        session.touched = self._clock()
        if self._db is None:
            return
        row = (session.key, json.dumps(session.messages), session.cards, session.touched)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO chats VALUES (?, ?, ?, ?)", row)

    def drop(self, key: str) -> None:
        """Forget everything about a session now."""
        with self._lock:
            session_id = self._connections.pop(key, key)
            session = self._cached(session_id) or self._load(session_id)
        if session is not None:
            self._delete(session)

    def prune(self) -> list[str]:
        """Forget every session idle for longer than ``idle_s``; the ids forgotten."""
        if self._idle_s is None:
            return []
        cutoff = self._clock() - self._idle_s
        with self._lock:
            self._pruned_at = self._clock()
            idle = {
                key
                for key, session in self._sessions.items()
                if session.touched < cutoff and not session.busy.locked()
            }
            if self._db is not None:
                rows = self._db.execute("SELECT id FROM chats WHERE updated < ?", (cutoff,))
                idle |= {key for (key,) in rows if key not in self._sessions}
        for key in sorted(idle):
            self._delete(ChatSession(key))
        return sorted(idle)

    def __len__(self) -> int:
        return len(self._sessions)

    # --- internals (``_cached``, ``_load`` and ``_hold`` run under ``_lock``) ------------

    def _cached(self, session_id: str) -> ChatSession | None:
        return self._sessions.get(session_id)

    def _load(self, session_id: str) -> ChatSession | None:
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT messages, cards, updated FROM chats WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            return None
        return ChatSession(session_id, json.loads(row[0]), row[1] or "", touched=row[2])

    def _hold(self, session: ChatSession) -> list[ChatSession]:
        self._sessions[session.key] = session
        self._sessions.move_to_end(session.key)
        evicted = []
        while len(self._sessions) > self._capacity:
            evicted.append(self._sessions.popitem(last=False)[1])
        return evicted

    def _release(self, evicted: list[ChatSession]) -> None:
        if self._db is None:  # nothing else remembers them
            for old in evicted:
                self._forget(old.agent_session_id)

    def _delete(self, session: ChatSession) -> None:
        with self._lock:
            self._sessions.pop(session.key, None)
            if self._db is not None:
                self._db.execute("DELETE FROM chats WHERE id = ?", (session.key,))
        self._forget(session.agent_session_id)

    def _maybe_prune(self) -> None:
        if self._idle_s is not None and self._clock() - self._pruned_at >= PRUNE_EVERY_S:
            self.prune()


def _open_chats(database: Path) -> sqlite3.Connection:
    database.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit: each saved chat is on disk when ``save`` returns (a SIGKILL keeps it).
    connection = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS chats "
        "(id TEXT PRIMARY KEY, messages TEXT NOT NULL, cards TEXT, updated REAL NOT NULL)"
    )
    return connection


def browser_secret(data_dir: Path | None) -> str:
    """The key ``gr.BrowserState`` encrypts the session id with, kept in ``data_dir`` so a
    restarted server still reads what browsers stored (a new random key each start would
    make every browser forget its conversation); random when there is no data folder."""
    if data_dir is None:
        return secrets.token_hex(16)
    path = data_dir / "browser-secret"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(16), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
