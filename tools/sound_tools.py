"""The agent's tool over the sound index: ``find_similar_sounding``.

Conventions
-----------
- The index is the one beside the turn's catalog (``CatalogContext.catalog.location``,
  :func:`vectorstore.sound.find_sound_index`), opened once per process and location; a
  model never chooses it. A catalog without a sound index (or a leak-free view, which has
  no location) makes the tool answer ``{"ok": false, "error"}`` with one sentence.
- The clip is heard by :class:`tools.sound.MusicnnSoundEmbedder` (the tagger's worker), so
  a clip the index refuses (too short, not audio) comes back as that one sentence.
- Each hit carries what matched side by side (``why``: tempo, key, shared tags) and the
  file's ``path`` so a page can play a local file.

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain.tools import ToolRuntime, tool
from pydantic import BaseModel

from tools.catalog import Unavailable, enveloped
from vectorstore.errors import CatalogError
from vectorstore.sound import SoundIndex, SoundInputError, find_sound_index, iter_hits_json

TOOL_NAME = "find_similar_sounding"
MAX_SOUND_K = 10


class SoundHitFacts(BaseModel):
    """One indexed recording that sounds like the clip (``vectorstore.sound.iter_hits_json``)."""

    name: str
    artist: str | None = None
    score: float
    album: str | None = None
    path: str
    thread: str | None = None
    why: str
    tempo_bpm: float
    key: str
    tags: list[str] = []
    shared_tags: list[str] = []


class HeardFacts(BaseModel):
    tempo_bpm: float
    key: str
    tags: list[str]


class SoundSearchData(BaseModel):
    heard: HeardFacts
    hits: list[SoundHitFacts]


_indexes: dict[tuple[str, str, str | None, int], SoundIndex | None] = {}
_indexes_lock = threading.Lock()


def sound_index_of(catalog: Any) -> SoundIndex | None:
    """The sound index beside ``catalog`` (None without one), opened once per location."""
    location = getattr(catalog, "location", None)
    if location is None:
        return None
    key = (str(location.path), location.collection, location.host, location.port)
    with _indexes_lock:
        if key not in _indexes:
            _indexes[key] = find_sound_index(location)
        return _indexes[key]


@tool(TOOL_NAME)
def find_similar_sounding(path: str, runtime: ToolRuntime[Any], k: int = 5) -> str:
    """Find the recordings in the user's indexed music that sound most like an audio clip.

    Use it when the user attached a clip (after describe_audio) and asks for music like it:
    it compares the sound itself (timbre, groove, tempo, key), not names.

    Args:
        path: the audio file path of the clip (a YouTube link must be fetched first).
        k: how many recordings (1-10).

    Returns {"ok": true, "data": {"heard": {"tempo_bpm", "key", "tags"}, "hits": [{"name",
    "artist", "score", "album", "path", "thread", "why": tempo, key and tags side by side,
    "tempo_bpm", "key", "tags", "shared_tags"}]}} or {"ok": false, "error": one sentence}.
    """
    from tools.sound import heard_file

    def run() -> SoundSearchData:
        index = sound_index_of(getattr(runtime.context, "catalog", None))
        if index is None:
            raise Unavailable(
                "No sound index is built beside this catalog, so clips cannot be matched by "
                "sound; answer from the clip's description instead."
            )
        try:
            heard = heard_file(path)
            hits = index.search(heard, max(1, min(int(k), MAX_SOUND_K)))
        except (SoundInputError, CatalogError) as refusal:
            raise Unavailable(str(refusal)) from None
        traits = heard.traits
        return SoundSearchData(
            heard=HeardFacts(
                tempo_bpm=traits.tempo_bpm, key=f"{traits.key} {traits.mode}", tags=heard.tags
            ),
            hits=[SoundHitFacts(**row) for row in iter_hits_json(hits)],
        )

    return enveloped(run)


SOUND_TOOLS = [find_similar_sounding]
