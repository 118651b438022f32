"""The audio modes' sound neighbours: the threads whose clips sound like thread T's own.

Conventions
-----------
- The clips of ``--audio-dir`` (the paper's layout ``<dir>/<thread name>/*.wav``) are
  indexed once by the sound index's incremental builder
  (:func:`vectorstore.sound.build_sound_index`, vectors from
  :class:`tools.sound.MusicnnSoundEmbedder`, the sound index's own embedding) into the run's
  cache: ``<cache_dir>/sound-index``, collection ``musicrs_clips_<hash of the folder>_sound``
  (on the Chroma server instead when ``CHROMA_HOST`` is set, like every catalog; its own
  collection, so a user's sound index is never touched). A re-run embeds only new or
  changed clips; the index is opened once per process.
- A clip answers for the threads of all its files (the same video posted in two threads is
  one record), not only the first.
- T's clips are T's input: they are found in the index by content, so they are heard
  exactly as the index heard them. A clip the index refused (too short, not audio) is
  missing audio.
- Leak-free (docs/evaluation.md): a neighbour must be a thread of T's fold catalog (another
  fold), so T's own clip, its fold-mates' clips and anything of T never answer; what a
  neighbour recommended is read from T's candidate-blind view by the caller.

Must not be imported by ``vectorstore`` or ``tools``.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.systems import SystemChoiceError
from vectorstore.errors import CatalogError
from vectorstore.musicrs import fold_of
from vectorstore.sound import (
    ENGINE_NEIGHBOURS,
    SoundIndex,
    build_sound_index,
    content_hash,
    open_sound_index,
)

#: Threads a clip is answered from: as many as the engine's sound source reads.
SOUND_NEIGHBOURS = ENGINE_NEIGHBOURS
INDEX_FOLDER = "sound-index"


@dataclass(frozen=True)
class SoundNeighbour:
    """A thread of another fold whose clip sounds like T's, and how alike (cosine)."""

    thread: str
    similarity: float


class BenchmarkClips:
    """The sound index of the benchmark's clips, searched for T's neighbours."""

    def __init__(self, index: SoundIndex, audio_dir: Path) -> None:
        self.index = index
        self.row = {card.id: i for i, card in enumerate(index.cards)}
        self.threads = [
            sorted({Path(p).parent.name for p in card.paths if Path(p).parent.parent == audio_dir})
            for card in index.cards
        ]

    def rows(self, clips: Sequence[Path]) -> list[int]:
        """The index rows of ``clips`` (the ones the index heard)."""
        rows = []
        for clip in clips:
            try:
                row = self.row.get(content_hash(clip))
            except OSError:
                continue  # unreadable now: missing, like a clip never indexed
            if row is not None:
                rows.append(row)
        return rows

    def neighbours(
        self, thread: str, clips: Sequence[Path], k: int = SOUND_NEIGHBOURS
    ) -> list[SoundNeighbour] | None:
        """The ``k`` threads of other folds whose clips sound most like one of ``clips``,
        best first; None when none of ``clips`` was heard."""
        rows = self.rows(clips)
        if not rows:
            return None
        similarity = (self.index.vectors @ self.index.vectors[rows].T).max(axis=1)
        fold = fold_of(thread)
        found: dict[str, float] = {}
        # Rows are in content-hash order, so ties do not depend on which threads are left out.
        for i in np.argsort(-similarity, kind="stable"):
            for other in self.threads[i]:
                if fold_of(other) != fold and other not in found:
                    found[other] = float(similarity[i])
            if len(found) >= k:
                break
        return [SoundNeighbour(t, s) for t, s in list(found.items())[:k]]


_CLIPS: dict[tuple[Path, Path], BenchmarkClips] = {}
_CLIPS_LOCK = threading.Lock()


def benchmark_clips(audio_dir: Path, cache_dir: Path) -> BenchmarkClips:
    """The clips of ``audio_dir`` indexed in ``cache_dir`` (built or brought up to date on
    first use in a process, then reused)."""
    from tools.sound import MusicnnSoundEmbedder

    folder = Path(audio_dir).resolve()
    key = (folder, Path(cache_dir).resolve())
    with _CLIPS_LOCK:
        if key not in _CLIPS:
            digest = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:16]
            store, collection = key[1] / INDEX_FOLDER, f"musicrs_clips_{digest}"
            try:
                report = build_sound_index(
                    folder,
                    MusicnnSoundEmbedder(),
                    store,
                    collection=collection,
                    threads=True,
                    progress=sys.stderr.isatty(),
                )
                index = open_sound_index(store, collection=collection)
            except CatalogError as error:
                raise SystemChoiceError(f"--audio-dir {audio_dir}: {error}") from None
            for sentence in report.skipped:
                print(f"skipped: {sentence}", file=sys.stderr)
            _CLIPS[key] = BenchmarkClips(index, folder)
        return _CLIPS[key]
