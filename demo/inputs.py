"""What the chat box sent, checked before the agent sees it.

Conventions:

- The chat box value is Gradio's multimodal dict ``{"text": str, "files": [path, ...]}``
  (a bare string is accepted too, for API clients).
- Checks here are the cheap ones about the message itself: nothing sent, an upload too big
  or not named like audio, a YouTube link that is not a single video (a playlist or a
  channel: the agent only looks for video links and would treat those as words). Whether
  the bytes really decode, or the video can be fetched, is the agent's job (its tools
  answer with one sentence).
- Limits come before parsing: the length and the text's decodability are checked before
  anything looks for links, and link finding is a linear scan over whitespace-separated
  tokens (``agent.turns.split_youtube_links``), never a backtracking pattern.
- Every refusal is one sentence the user can act on (docs/bad-input.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.settings import Settings
from agent.turns import split_youtube_links, text_problem
from tools.audio import AudioInputError
from tools.youtube import parse_youtube_url

# The audio tools accept 50 MB (tools/audio.py AudioLimits.max_file_mb); the upload limit
# matches it so nothing bigger is ever stored on the server.
MAX_UPLOAD_MB = 50
AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".aif", ".aiff"}
)

# A refused message is echoed into the chat; an over-long one only by its beginning.
ECHO_CHARS = 500
EMPTY_MESSAGE = "Type a message, attach an audio clip or paste a YouTube link, then press send."


@dataclass(frozen=True)
class ChatInput:
    """A message that may go to the agent: its text and at most one audio file."""

    text: str
    audio: str | None
    # Non-fatal notes shown to the user, e.g. "only the first clip is used".
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """A message that must not go to the agent, and the sentence that says why."""

    text: str
    files: tuple[str, ...]
    reason: str


def oversize_sentence(name: str, size_bytes: int) -> str:
    """The one sentence for an upload over :data:`MAX_UPLOAD_MB`."""
    return (
        f"'{name}' is {size_bytes / 1e6:.0f} MB, over the {MAX_UPLOAD_MB} MB upload limit; "
        "please upload a shorter clip or a compressed (mp3/ogg) version."
    )


def read_message(
    value: dict[str, Any] | str | None, max_chars: int = Settings.max_input_chars
) -> ChatInput | Refusal:
    """Split the chat box value into an agent input, or refuse it with one sentence.

    ``max_chars`` is the agent's message limit (``agent.Settings.max_input_chars``).
    """
    if isinstance(value, dict):
        text = str(value.get("text") or "")
        files = tuple(_path_of(f) for f in value.get("files") or [])
    else:
        text, files = str(value or ""), ()
    problem = text_problem(text, max_chars)
    if problem:
        return Refusal(echo(text), files, problem)
    text = text.strip()
    if not text and not files:
        return Refusal(text, files, EMPTY_MESSAGE)
    for path in files:
        problem = _upload_problem(Path(path))
        if problem:
            return Refusal(text, files, problem)
    for link in split_youtube_links(text)[1]:
        try:
            parse_youtube_url(link)
        except AudioInputError as error:
            return Refusal(text, files, str(error))
    notes = ("Only the first clip is used; send the others one per message.",)
    return ChatInput(text, files[0] if files else None, notes if len(files) > 1 else ())


def echo(text: str) -> str:
    """What of a refused message is shown back: valid UTF-8, at most :data:`ECHO_CHARS`."""
    shown = text.encode("utf-8", "replace").decode("utf-8").strip()
    return shown if len(shown) <= ECHO_CHARS else shown[: ECHO_CHARS - 1] + "…"


def _path_of(item: Any) -> str:
    # Gradio passes paths; API clients may still send FileData-like dicts.
    return str(item.get("path") if isinstance(item, dict) else item)


def _upload_problem(path: Path) -> str | None:
    if not path.is_file():
        return f"The upload '{path.name}' did not arrive; please attach it again."
    size = path.stat().st_size
    if size > MAX_UPLOAD_MB * 1e6:
        return oversize_sentence(path.name, size)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return (
            f"'{path.name}' is not an audio file; please attach an mp3, wav, flac, ogg, m4a "
            "or webm clip (or record one with the microphone)."
        )
    return None
