"""The envelope every agent tool result travels in: success and failure as data.

Conventions: a tool returns ``ToolOutcome.success(payload).to_content()`` or
``ToolOutcome.failure(sentence).to_content()``, a JSON object
``{"ok": true, "data": …}`` or ``{"ok": false, "error": "one actionable sentence"}``. A
model reads the same JSON; the agent's middleware and the offline brain decide success
from ``ok`` (:meth:`ToolOutcome.read`), never from the wording of the text.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class ToolOutcome(BaseModel):
    """One tool result: ``ok`` with ``data``, or not ``ok`` with an ``error`` sentence."""

    ok: bool
    data: Any = None
    error: str | None = None

    @classmethod
    def success(cls, data: BaseModel | dict[str, Any]) -> ToolOutcome:
        return cls(
            ok=True, data=data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        )

    @classmethod
    def failure(cls, sentence: str) -> ToolOutcome:
        return cls(ok=False, error=sentence)

    def to_content(self) -> str:
        """The ToolMessage content: compact JSON without the unused field."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def read(cls, content: object) -> ToolOutcome | None:
        """The envelope in a ToolMessage's content, or None if it holds none."""
        if not isinstance(content, str):
            return None
        try:
            return cls.model_validate_json(content)
        except ValidationError:
            return None
