"""Agent settings, read once from the environment.

Conventions:

- Every setting has an offline-safe default: with neither ``OPENAI_API_KEY`` nor
  ``OPENAI_BASE_URL`` set, the agent runs on the deterministic offline brain.
- ``AGENT_PROVIDER`` may force ``offline`` or ``openai``; ``auto`` (the default) picks
  ``openai`` when a key or a base URL is present.
- Times are seconds, budgets are tokens (tiktoken ``cl100k_base``), lengths are characters.
- The API key never appears in ``repr``, in ``brain_label`` or in any message this package
  writes (see :func:`redact`).

========================  ==========================================  ================
variable                  meaning                                     default
========================  ==========================================  ================
AGENT_PROVIDER            ``auto``, ``offline`` or ``openai``           auto
AGENT_MODEL               chat model name on the OpenAI-compatible      gpt-4o-mini
                          server
OPENAI_API_KEY            key for api.openai.com (or your server)       unset
OPENAI_BASE_URL           any OpenAI-compatible server (vLLM, Ollama)   unset
AGENT_TIMEOUT_S           per model request                              30
AGENT_MAX_RETRIES         retries of a failed model call (middleware)    2
AGENT_RETRY_DELAY_S       first back-off delay, doubled per retry       1.0
AGENT_TOKEN_BUDGET        history sent to the model, in tokens          6000
AGENT_MODEL_CALL_LIMIT    model calls per turn                          8
AGENT_TOOL_CALL_LIMIT     tool calls per turn                           12
AGENT_MAX_INPUT_CHARS     longest accepted user message                 8000
AGENT_SESSIONS_DB         SQLite file keeping conversations across      unset (memory)
                          restarts (``agent.sessions``)
========================  ==========================================  ================

The catalog's location is the catalog's own setting (``CATALOG_PATH``, read by
``vectorstore.store.store_location``); ``catalog_path`` here only overrides it from code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Provider = Literal["offline", "openai"]
DEFAULT_MODEL = "gpt-4o-mini"


class SettingsError(ValueError):
    """An environment variable holds a value the agent cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything that configures one :class:`agent.turns.MusicAgent`."""

    provider: Provider = "offline"
    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    timeout_s: float = 30.0
    max_retries: int = 2
    retry_delay_s: float = 1.0
    token_budget: int = 6000
    model_call_limit: int = 8
    tool_call_limit: int = 12
    max_input_chars: int = 8000
    catalog_path: str | None = None
    sessions_db: str | None = None  # None: conversations live in memory only

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        api_key = env.get("OPENAI_API_KEY") or None
        base_url = env.get("OPENAI_BASE_URL") or None
        choice = env.get("AGENT_PROVIDER", "auto").strip().lower() or "auto"
        if choice not in ("auto", "offline", "openai"):
            raise SettingsError(
                f"AGENT_PROVIDER={choice!r} is not supported; use auto, offline or openai."
            )
        if choice == "auto":
            provider: Provider = "openai" if (api_key or base_url) else "offline"
        else:
            provider = choice  # type: ignore[assignment]
        return cls(
            provider=provider,
            model=env.get("AGENT_MODEL", DEFAULT_MODEL).strip() or DEFAULT_MODEL,
            api_key=api_key,
            base_url=base_url,
            timeout_s=_number(env, "AGENT_TIMEOUT_S", 30.0, float),
            max_retries=_number(env, "AGENT_MAX_RETRIES", 2, int),
            retry_delay_s=_number(env, "AGENT_RETRY_DELAY_S", 1.0, float),
            token_budget=_number(env, "AGENT_TOKEN_BUDGET", 6000, int),
            model_call_limit=_number(env, "AGENT_MODEL_CALL_LIMIT", 8, int),
            tool_call_limit=_number(env, "AGENT_TOOL_CALL_LIMIT", 12, int),
            max_input_chars=_number(env, "AGENT_MAX_INPUT_CHARS", 8000, int),
            sessions_db=env.get("AGENT_SESSIONS_DB", "").strip() or None,
        )

    @property
    def brain_label(self) -> str:
        """A short human label of the brain, e.g. ``gpt-4o-mini via api.openai.com``.

        A server set by ``OPENAI_BASE_URL`` is not named: the label is shown on the page,
        and on a public deployment that address may be an internal endpoint."""
        if self.provider == "offline":
            return "offline brain"
        return f"{self.model} via {'your model server' if self.base_url else 'api.openai.com'}"

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced, for anything shown or logged."""
        return redact(text, self.api_key)


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` (and its long prefixes) in ``text``."""
    if not secret:
        return text
    text = text.replace(secret, "***")
    # OpenAI's own error messages echo a prefix of a wrong key ("sk-abc...xyz").
    return text.replace(secret[:8], "***") if len(secret) >= 12 else text


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> float | int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a {kind.__name__}; unset it or fix it."
        ) from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative.")
    return value
