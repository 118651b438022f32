"""The demo server's settings, read once from the environment and validated.

Conventions:

- One frozen :class:`ServerSettings` holds where the page listens and how many turns it runs
  and queues; :meth:`ServerSettings.from_env` is the only place these variables are read.
- A bad value raises :class:`ServerSettingsError` (a ``ValueError``) whose message is one
  sentence naming the variable, what it holds and what would do; ``python -m demo`` prints it
  and exits non-zero before loading anything.

=====================  =========================================  =========
variable               meaning                                    default
=====================  =========================================  =========
GRADIO_SERVER_NAME     address to listen on                       127.0.0.1
GRADIO_SERVER_PORT     port to listen on (1-65535)                7860
DEMO_CONCURRENCY       turns answered at once (at least 1)        4
DEMO_QUEUE_SIZE        turns allowed to wait (at least 1)         64
DEMO_DATA_DIR          folder for conversations kept across       see below
                       restarts (``sessions.sqlite``)
DEMO_SESSION_IDLE_H    hours without a turn before a              168
                       conversation is deleted (at least 1)
=====================  =========================================  =========

``DEMO_DATA_DIR`` defaults to ``/data/musicrs-chat`` when ``/data`` is a writable folder
(a Hugging Face Space's persistent storage), else ``.cache/demo``; :class:`SessionSettings`
holds it and the idle time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ServerSettingsError(ValueError):
    """A demo server variable holds a value the server cannot use; the message names it."""


@dataclass(frozen=True)
class ServerSettings:
    """Where the demo listens and how much work it takes on at once."""

    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 4
    queue_size: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read the settings from ``environ`` (default ``os.environ``); unset or blank
        variables take the defaults."""
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("GRADIO_SERVER_NAME", "").strip() or cls.host,
            port=_whole_number(env, "GRADIO_SERVER_PORT", cls.port, 1, 65535),
            concurrency=_whole_number(env, "DEMO_CONCURRENCY", cls.concurrency, 1),
            queue_size=_whole_number(env, "DEMO_QUEUE_SIZE", cls.queue_size, 1),
        )


#: A Space's persistent storage, mounted here when the Space has it.
SPACE_STORAGE = Path("/data")


@dataclass(frozen=True)
class SessionSettings:
    """Where conversations are kept across restarts, and how long an idle one is kept."""

    data_dir: Path = Path(".cache/demo")
    idle_hours: int = 168

    @property
    def database(self) -> Path:
        """The SQLite file holding the agent's threads and the shown chats."""
        return self.data_dir / "sessions.sqlite"

    @property
    def idle_s(self) -> float:
        return self.idle_hours * 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SessionSettings:
        env = os.environ if environ is None else environ
        configured = env.get("DEMO_DATA_DIR", "").strip()
        if configured:
            data_dir = Path(configured)
        elif SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
            data_dir = SPACE_STORAGE / "musicrs-chat"
        else:
            data_dir = cls.data_dir
        if data_dir.exists() and not data_dir.is_dir():
            raise ServerSettingsError(
                f"DEMO_DATA_DIR={str(data_dir)!r} is a file, not a folder; point it at a folder."
            )
        return cls(
            data_dir=data_dir,
            idle_hours=_whole_number(env, "DEMO_SESSION_IDLE_H", cls.idle_hours, 1),
        )


def _whole_number(
    env: Mapping[str, str], name: str, default: int, lowest: int, highest: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    limits = f"from {lowest} to {highest}" if highest else f"of at least {lowest}"
    if not raw.isdigit() or int(raw) < lowest or (highest is not None and int(raw) > highest):
        raise ServerSettingsError(
            f"{name}={raw!r} is not a whole number {limits}; fix it or unset it "
            f"(default {default})."
        )
    return int(raw)
