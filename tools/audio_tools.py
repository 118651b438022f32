"""LangChain tools over the audio stack: describe a clip, fetch a YouTube video's audio.

Conventions
-----------
- Each tool is a typed function with a docstring the model reads; :data:`AUDIO_TOOLS`
  collects them for ``create_agent``. Tool names are ``describe_audio`` and
  ``fetch_youtube_audio``.
- Tools never raise for a problem a user or a model can cause: they return the
  :class:`tools.outcome.ToolOutcome` envelope, ``{"ok": false, "error": sentence}``, so the
  model can recover (docs/architecture.md).
- ``describe_audio`` answers with compact JSON for the model (summary, features, tags,
  lyrics, skipped parts) and attaches the full :class:`tools.describe.AudioDescription`
  (loudness curve included) as the tool message's artifact for the UI.
- ``fetch_youtube_audio`` answers with JSON ``{"path", "video_id", "start_s",
  "duration_s"}``; the path is what ``describe_audio`` takes.

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import logging

from langchain.tools import tool

from tools import youtube
from tools.audio import AudioInputError
from tools.describe import AudioDescription, describe_source
from tools.outcome import ToolOutcome

log = logging.getLogger(__name__)


def _unexpected(action: str, exc: Exception) -> str:
    log.exception("%s failed", action)
    return ToolOutcome.failure(
        f"{action[0].upper()}{action[1:]} failed unexpectedly ({type(exc).__name__}); "
        "please try another clip."
    ).to_content()


def model_view(description: AudioDescription) -> str:
    """The compact JSON a language model reads (no plot series, no timings)."""
    return ToolOutcome.success(
        {
            "summary": description.summary,
            "duration_s": description.duration_s,
            "features": description.features.model_dump() if description.features else None,
            "tags": [{"name": t.name, "score": round(t.score, 3)} for t in description.tags],
            "lyrics": description.lyrics,
            "skipped": description.skipped,
            "notes": description.notes,
        }
    ).to_content()


@tool("describe_audio", response_format="content_and_artifact")
def describe_audio_tool(
    path: str, tags: bool = True, lyrics: bool = True
) -> tuple[str, AudioDescription | None]:
    """Listen to an audio clip and describe it: tempo, key, loudness, energy, genre/mood/
    instrument tags and any sung or spoken words.

    Use it whenever the user attached a clip or pasted a YouTube link, before recommending.

    Args:
        path: the audio file path the user attached, or a YouTube video URL.
        tags: set false to skip genre/mood/instrument tags (faster).
        lyrics: set false to skip transcribing words (faster).

    Returns JSON {"ok": true, "data": {"summary": one paragraph, "features": {"tempo_bpm",
    "key", "mode", "loudness_lufs", ...}, "tags": [{"name", "score"}], "lyrics": text or
    null, "skipped": {part: reason}}}, or {"ok": false, "error": one sentence}.
    """
    try:
        description = describe_source(path, tags=tags, lyrics=lyrics)
    except AudioInputError as exc:
        return ToolOutcome.failure(str(exc)).to_content(), None
    except Exception as exc:  # never let a tool crash the agent run (docs/architecture.md)
        return _unexpected("describing the audio", exc), None
    return model_view(description), description


@tool("fetch_youtube_audio")
def fetch_youtube_audio_tool(
    url: str, start_seconds: float | None = None, duration_seconds: float | None = None
) -> str:
    """Download the audio of one YouTube video (or a section of it) so it can be described.

    Only single-video links work (youtube.com/watch, youtu.be, music.youtube.com, shorts);
    a ?t= in the link is used as the start. Downloads are cached.

    Args:
        url: the YouTube video link.
        start_seconds: where to start, in seconds (default: the link's ?t= or 0).
        duration_seconds: how many seconds to take (default: to the end of the video).

    Returns JSON {"ok": true, "data": {"path": local WAV file for describe_audio,
    "video_id", "start_s", "duration_s"}}, or {"ok": false, "error": one sentence} (suggest
    uploading the clip).
    """
    try:
        ref = youtube.parse_youtube_url(url)
        start = ref.start_s if start_seconds is None else start_seconds
        path = youtube.fetch_youtube_audio(url, start, duration_seconds)
    except AudioInputError as exc:
        return ToolOutcome.failure(str(exc)).to_content()
    except Exception as exc:
        return _unexpected("fetching the YouTube audio", exc)
    return ToolOutcome.success(
        {
            "path": str(path),
            "video_id": ref.video_id,
            "start_s": start,
            "duration_s": duration_seconds,
        }
    ).to_content()


AUDIO_TOOLS = [describe_audio_tool, fetch_youtube_audio_tool]
