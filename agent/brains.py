"""The chat-model factory (OpenAI-compatible server or the offline brain) and the one
sentence a user reads when a model call fails.

Conventions: the client does not retry (``max_retries=0``) because retries belong to the
agent's ``ModelRetryMiddleware`` (one place, one policy); usage is streamed
(``stream_usage=True``) so every turn reports tokens; the Chat Completions API is used
(``use_responses_api=False``) because that is what vLLM, Ollama and llama.cpp speak.
"""

from __future__ import annotations

from collections.abc import Sequence

import openai
from langchain_core.language_models import BaseChatModel

from agent.offline import OfflineBrain
from agent.settings import Settings

#: Errors worth retrying: the server is busy, flaky or slow, not wrong.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    openai.RateLimitError,
    openai.APIConnectionError,  # includes APITimeoutError
    openai.InternalServerError,
)


def make_model(settings: Settings, tool_names: Sequence[str] = ()) -> BaseChatModel:
    """The chat model the settings ask for."""
    if settings.provider == "offline":
        return OfflineBrain(tool_names=frozenset(tool_names))
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.model,
        # A local server (vLLM, Ollama) may need no key, but the client insists on one.
        api_key=settings.api_key or "not-needed",
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=0,
        use_responses_api=False,
        stream_usage=True,
        temperature=0,
    )


def describe_failure(error: BaseException, settings: Settings) -> str:
    """One actionable sentence for a failed model call; never contains the key or the
    server's address (on a public deployment that address may be an internal endpoint)."""
    if isinstance(error, openai.AuthenticationError):
        sentence = "The model server rejected the API key (401); check OPENAI_API_KEY."
    elif isinstance(error, openai.APITimeoutError):
        sentence = (
            f"The model server did not answer within {settings.timeout_s:g} s; "
            "try again, or raise AGENT_TIMEOUT_S."
        )
    elif isinstance(error, openai.APIConnectionError):
        sentence = (
            "The model server could not be reached; check OPENAI_BASE_URL and "
            "your network, or unset both OpenAI variables to use the offline brain."
        )
    elif isinstance(error, openai.RateLimitError):
        sentence = "The model server is rate-limiting requests (429); wait and retry."
    elif isinstance(error, openai.APIStatusError):
        sentence = (
            f"The model server failed with HTTP {error.status_code}; "
            "try again later or check the model name (AGENT_MODEL)."
        )
    else:
        sentence = f"The agent failed ({type(error).__name__}); please try again."
    return settings.redact(sentence)
