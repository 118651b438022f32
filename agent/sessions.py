"""Where the agent keeps its conversations: in memory, or in a SQLite file that outlives the
process.

Conventions:

- ``Settings.sessions_db`` (``AGENT_SESSIONS_DB``) unset keeps every thread in memory (the
  command line and benchmark replay: nothing to resume). Set, LangGraph's ``SqliteSaver``
  stores each thread in that file, so a restarted server continues every conversation; the
  demo sets it to its data folder (``demo.settings.SessionSettings``).
- The file is opened once per agent, shared by all threads of the server (``SqliteSaver``
  serialises access with its own lock), in WAL mode so a reader never waits for a writer
  and a killed process loses at most the turn that was being written.
- A path that cannot be opened raises :class:`agent.settings.SettingsError` naming it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.base import SerializerProtocol

from agent.settings import SettingsError


def open_checkpointer(path: str | None, serde: SerializerProtocol) -> BaseCheckpointSaver:
    """An in-memory checkpointer for ``path=None``, else a SQLite one in the file ``path``."""
    if path is None:
        return InMemorySaver(serde=serde)
    from langgraph.checkpoint.sqlite import SqliteSaver

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(connection, serde=serde)
        saver.setup()
    except (OSError, sqlite3.Error) as error:
        raise SettingsError(
            f"AGENT_SESSIONS_DB={path!r} cannot be opened as a SQLite file ({error}); "
            "point it at a writable location or unset it."
        ) from None
    return saver
