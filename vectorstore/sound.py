"""The sound index: audio files as vectors in Chroma, searched by sound, and the engine's
``sound`` source.

Conventions
-----------
- Where: the collection ``<catalog collection>_sound`` (:func:`sound_collection`) at the
  catalog's :class:`vectorstore.store.StoreLocation`, so the embedded/server settings are the
  catalog's; cosine space. Vectors are always given: they come from ``tools.sound``, which
  owns the audio models (this layer imports nothing above it), through a
  :class:`SoundEmbedder` passed to :func:`build_sound_index`.
- One record per distinct audio content: id = SHA-256 of the file's bytes (32 hex), so the
  same audio under two names is one record listing both files, and a changed file gets a
  new record. Metadata: the :class:`SoundCard` as JSON and the file fingerprints
  (path, size, mtime) that let a rebuild skip hashing unchanged files.
- Names: title, artist and album from the file's tags (mutagen) when present and readable,
  cleaned by :func:`tag_text` (control characters and undecodable bytes dropped, at most
  :data:`MAX_TAG_CHARS` characters); otherwise the file name without its extension. In the
  MusiCRS clip layout (``<audio_dir>/<thread name>/*.wav``, ``threads=True``) each clip is
  linked to the thread named by its folder.
- Build: incremental and resumable like the catalog's. The manifest says ``building`` from
  the first write and ``complete`` after the last; records are written every
  :data:`WRITE_EVERY` clips, so an interrupted build keeps what it finished and a re-run
  embeds only what is missing. Records whose files are all gone are deleted. A file the
  embedder refuses (not audio, too short, silent) is skipped with its one sentence and
  never touches what is already indexed.
- Search returns :class:`SoundHit` with the traits side by side (tempo, key, shared tags),
  which is what evidence quotes.

Imports nothing of ``tools``, ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from vectorstore.errors import CatalogError

MAX_TAG_CHARS = 200
WRITE_EVERY = 8  # clips per write: an interruption loses at most this many embeddings
HASH_CHUNK = 1 << 20
#: Neighbours the engine's sound source reads, and its fusion weight beside
#: ``similar_request`` (1.0): a clip is as strong a request as words. Not tuned: the MusiCRS
#: clips (YouTube) could not be fetched where this was written, so there was no dev split.
ENGINE_NEIGHBOURS = 10
ENGINE_WEIGHT = 1.0
#: Tempos within this ratio (either way, octave errors folded) read as "the same tempo".
SAME_TEMPO = 0.04
BUILD_SOUND_COMMAND = "python -m tools.sound build --audio-dir DIR"


class SoundInputError(ValueError):
    """A file the sound index cannot use; ``str(error)`` is one sentence for the user."""


#: The key names :class:`SoundTraits` uses (``key``), indexed by pitch class (0 = C).
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


class SoundTraits(BaseModel):
    """The features a listener compares two clips by: pace, key, level and tone colour."""

    tempo_bpm: float = Field(description="Global tempo estimate in beats per minute.")
    tempo_confidence: float = Field(description="How periodic the onsets are at that tempo, 0-1.")
    key: str = Field(description="Tonic pitch class, one of PITCH_CLASSES, e.g. 'A'.")
    mode: str = Field(description="'major' or 'minor'.")
    key_confidence: float = Field(description="Correlation with the best key profile, -1 to 1.")
    loudness_lufs: float = Field(description="Integrated loudness (BS.1770, gated).")
    brightness_hz: float = Field(description="Mean spectral centroid of the sounding frames, Hz.")


class SoundEmbedding(BaseModel):
    """What an embedder hears in one clip: an L2-normalised vector and readable traits."""

    vector: list[float]
    traits: SoundTraits
    tags: list[str] = Field(default_factory=list, description="Strongest tags, best first.")
    duration_s: float


class SoundEmbedder(Protocol):
    """Embeds one audio file; raises :class:`SoundInputError` (one sentence) for a file it
    cannot use. ``name`` identifies the vector's definition: a different name rebuilds."""

    name: str

    def __call__(self, path: Path) -> SoundEmbedding: ...


class SoundCard(BaseModel):
    """One indexed recording."""

    id: str = Field(description="Content hash of the audio file.")
    name: str = Field(description="Title tag, else the file name without its extension.")
    artist: str | None = None
    album: str | None = None
    path: str = Field(description="The first of its files (sorted): what a player opens.")
    paths: list[str] = Field(default_factory=list, description="Every file with this audio.")
    thread: str | None = Field(default=None, description="MusiCRS thread of a clip, if linked.")
    traits: SoundTraits
    tags: list[str] = Field(default_factory=list)
    duration_s: float

    @property
    def label(self) -> str:
        return f"{self.name} by {self.artist}" if self.artist else self.name


@dataclass(frozen=True)
class SoundHit:
    """A recording that sounds like the query, with what matched side by side."""

    card: SoundCard
    score: float  # cosine similarity of the sound vectors
    query: SoundTraits
    shared_tags: tuple[str, ...]

    @property
    def why(self) -> str:
        """Tempo, key and tags of the query and the hit, side by side."""
        q, h = self.query, self.card.traits
        parts = [
            f"{q.tempo_bpm:.0f} vs {h.tempo_bpm:.0f} BPM"
            + (" (same pace)" if same_tempo(q.tempo_bpm, h.tempo_bpm) else ""),
            f"{q.key} {q.mode} vs {h.key} {h.mode}",
        ]
        if self.shared_tags:
            parts.append("both " + ", ".join(self.shared_tags))
        return "; ".join(parts)


def same_tempo(a: float, b: float) -> bool:
    """Whether two tempos are the same pace, counting double/half time as the same."""
    if a <= 0 or b <= 0:
        return False
    ratio = abs(np.log2(a / b)) % 1.0
    return min(ratio, 1.0 - ratio) < np.log2(1 + SAME_TEMPO)


@dataclass(frozen=True)
class SoundBuildReport:
    """What a build did; ``skipped`` holds one sentence per file left out."""

    embedded: int
    updated: int
    unchanged: int
    deleted: int
    skipped: tuple[str, ...]
    seconds: float


def sound_collection(collection: str) -> str:
    """The sound index's collection beside the catalog collection ``collection``."""
    return f"{collection}_sound"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ufffd]+")


def tag_text(value: Any) -> str | None:
    """A tag's value as one clean line (first of a list), or None when nothing readable is
    left: mis-decoded UTF-8 repaired, control and replacement characters dropped, whitespace
    collapsed, at most
    :data:`MAX_TAG_CHARS` characters."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = _repaired(str(value)[: 4 * MAX_TAG_CHARS])
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = " ".join(text.split())[:MAX_TAG_CHARS].strip()
    # A "title" of punctuation or symbols only is binary junk, not a name.
    return text if any(ch.isalnum() for ch in text) else None


def _repaired(text: str) -> str:
    """UTF-8 that a tagger stored as Latin-1 or Windows-1252 ("CafÃ©") read back as UTF-8
    ("Café"); any other text unchanged."""
    if not any(mark in text for mark in "ÃÂâ"):
        return text
    for encoding in ("latin-1", "cp1252"):
        try:
            return text.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
    return text


def read_names(path: Path) -> tuple[str, str | None, str | None]:
    """(title, artist, album) from the file's tags, the file name standing in for the title."""
    title = artist = album = None
    try:
        import mutagen

        tags = mutagen.File(path, easy=True)
        found = dict(tags.tags or {}) if tags is not None and tags.tags is not None else {}
        title, artist, album = (tag_text(found.get(k)) for k in ("title", "artist", "album"))
    except Exception:  # any unreadable tag block: the names fall back, the audio still counts
        title = artist = album = None
    return title or path.stem, artist, album


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def audio_files(folder: Path) -> list[Path]:
    """Every regular, non-hidden file under ``folder``, sorted (ffmpeg decides what is audio)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
    return [p for p in found if p.is_file()]


def _no_files(folder: Path) -> str:
    # An unmounted drive looks like this: emptying the index would lose it all.
    return (
        f"The folder {folder} holds no files, so the sound index was left as it was; "
        "point --audio-dir at your music."
    )


def _fingerprint(path: Path) -> str:
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"


def _open_store(location: Any, create: bool) -> tuple[Any, Any]:
    from vectorstore.store import make_client

    client = make_client(location)
    name = sound_collection(location.collection)
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    if name not in names and not create:
        raise CatalogError(
            f"There is no sound index at {location.where}; run `{BUILD_SOUND_COMMAND}` first."
        )
    store = client.get_or_create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    return client, store


@dataclass
class _Wanted:
    """The files of one content hash in this build."""

    files: dict[str, str]  # path → fingerprint
    thread: str | None


def _scan(
    folder: Path,
    files: list[Path],
    known: dict[tuple[str, str], str],
    threads: bool,
    progress: bool,
) -> dict[str, _Wanted]:
    """Content hash → its files (``files``, listed under ``folder``), hashing only files
    whose fingerprint is new."""
    from tqdm import tqdm

    wanted: dict[str, _Wanted] = {}
    for path in tqdm(files, desc="scan", unit="file", disable=not progress):
        try:
            stamp = _fingerprint(path)
            digest = known.get((str(path), stamp)) or content_hash(path)
        except OSError:
            continue  # vanished or unreadable between listing and reading
        thread = path.parent.name if threads and path.parent != folder else None
        entry = wanted.setdefault(digest, _Wanted({}, thread))
        entry.files[str(path)] = stamp
    return wanted


def build_sound_index(
    audio_dir: str | os.PathLike[str],
    embed: SoundEmbedder,
    path: str | os.PathLike[str] | None = None,
    *,
    collection: str | None = None,
    threads: bool = False,
    progress: bool = True,
) -> SoundBuildReport:
    """Index every audio file under ``audio_dir``; see the module conventions."""
    from tqdm import tqdm

    from vectorstore.store import (
        _existing_metadata,
        _read_manifest,
        _write_manifest,
        chroma_errors,
        store_location,
    )

    started = time.perf_counter()
    folder = Path(audio_dir)
    if not folder.is_dir():
        raise CatalogError(f"The audio folder {folder} does not exist or is not a folder.")
    files = audio_files(folder)  # listed once: a music library's walk is not free
    if not files:  # before the store is touched: a first build makes none
        raise CatalogError(_no_files(folder))
    location = store_location(path, collection)
    with chroma_errors(location, "building the sound index"):
        client, store = _open_store(location, create=True)
        if _read_manifest(store).get("embedding") not in (None, embed.name):
            # Another vector definition has another dimension: start afresh.
            client.delete_collection(sound_collection(location.collection))
            client, store = _open_store(location, create=True)
        existing = _existing_metadata(store)
        known = {
            (file, stamp): record_id
            for record_id, meta in existing.items()
            for file, stamp in json.loads(meta.get("files", "{}")).items()
        }
        wanted = _scan(folder, files, known, threads, progress)
        if not wanted:  # every file vanished or became unreadable since the check above
            raise CatalogError(_no_files(folder))
        _write_manifest(store, state="building", embedding=embed.name, started=time.time())
        to_embed = sorted(h for h in wanted if h not in existing)
        to_update = [
            h
            for h in wanted
            if h in existing and json.loads(existing[h]["files"]) != wanted[h].files
        ]
        skipped: list[str] = []
        pending: list[tuple[str, SoundEmbedding, SoundCard]] = []
        bar = tqdm(total=len(to_embed), desc="sound index", unit="clip", disable=not progress)
        for digest in to_embed:
            entry = wanted[digest]
            first = Path(min(entry.files))
            try:
                heard = embed(first)
            except SoundInputError as refusal:
                skipped.append(str(refusal))
                bar.update(1)
                continue
            pending.append((digest, heard, _card(digest, entry, heard)))
            if len(pending) >= WRITE_EVERY:
                _write(store, pending, wanted)
                pending = []
            bar.update(1)
        _write(store, pending, wanted)
        bar.close()
        for digest in to_update:
            card = SoundCard.model_validate_json(existing[digest]["card"])
            names = _card(digest, wanted[digest], card)
            store.update(ids=[digest], metadatas=[_metadata(names, wanted[digest])])
        stale = sorted(set(existing) - set(wanted))
        if stale:
            store.delete(ids=stale)
        embedded = len(to_embed) - len(skipped)
        _write_manifest(
            store,
            state="complete",
            embedding=embed.name,
            count=len(existing) - len(stale) + embedded,
            finished=time.time(),
        )
    return SoundBuildReport(
        embedded=embedded,
        updated=len(to_update),
        unchanged=len(wanted) - len(to_embed) - len(to_update),
        deleted=len(stale),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )


def _card(digest: str, entry: _Wanted, heard: SoundEmbedding | SoundCard) -> SoundCard:
    """The card of a content hash: names from its first file, every file listed."""
    files = sorted(entry.files)
    title, artist, album = read_names(Path(files[0]))
    return SoundCard(
        id=digest,
        name=title,
        artist=artist,
        album=album,
        path=files[0],
        paths=files,
        thread=entry.thread,
        traits=heard.traits,
        tags=list(heard.tags),
        duration_s=heard.duration_s,
    )


def _metadata(card: SoundCard, entry: _Wanted) -> dict[str, Any]:
    return {"card": card.model_dump_json(), "files": json.dumps(entry.files, sort_keys=True)}


def _write(
    store: Any, pending: Sequence[tuple[str, SoundEmbedding, SoundCard]], wanted: dict[str, _Wanted]
) -> None:
    if pending:
        store.upsert(
            ids=[digest for digest, _, _ in pending],
            embeddings=[heard.vector for _, heard, _ in pending],
            metadatas=[_metadata(card, wanted[digest]) for digest, _, card in pending],
        )


class SoundIndex:
    """A complete sound index opened for search (vectors held in memory: exact search)."""

    def __init__(self, location: Any, cards: list[SoundCard], vectors: np.ndarray) -> None:
        self.location, self.cards, self.vectors = location, cards, vectors
        self.by_thread: dict[str, list[int]] = {}
        for i, card in enumerate(cards):
            if card.thread:
                self.by_thread.setdefault(card.thread, []).append(i)

    def __len__(self) -> int:
        return len(self.cards)

    def search(
        self, query: SoundEmbedding, k: int = 10, *, exclude_threads: Sequence[str] = ()
    ) -> list[SoundHit]:
        """The ``k`` recordings that sound most like ``query``, best first; clips of
        ``exclude_threads`` are left out."""
        if not len(self.cards):
            return []
        vector = np.asarray(query.vector, dtype=np.float32)
        if vector.shape != (self.vectors.shape[1],):
            raise CatalogError(
                "The clip was heard with another sound model than the index; rebuild the "
                f"index with `{BUILD_SOUND_COMMAND}`."
            )
        scores = self.vectors @ vector
        for thread in exclude_threads:
            scores[self.by_thread.get(thread, [])] = -np.inf
        order = [i for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        wanted = set(query.tags)
        return [
            SoundHit(
                self.cards[i],
                float(scores[i]),
                query.traits,
                tuple(t for t in self.cards[i].tags if t in wanted)[:3],
            )
            for i in order
        ]


def open_sound_index(
    path: str | os.PathLike[str] | None = None, *, collection: str | None = None
) -> SoundIndex:
    """The complete sound index beside the catalog at ``path`` (or the configured server)."""
    from vectorstore.store import _read_manifest, chroma_errors, store_location

    location = store_location(path, collection)
    if not location.host and not location.path.exists():
        raise CatalogError(
            f"There is no sound index at {location.path}; run `{BUILD_SOUND_COMMAND}` first."
        )
    with chroma_errors(location, "opening the sound index"):
        _, store = _open_store(location, create=False)
        if _read_manifest(store).get("state") != "complete":
            raise CatalogError(
                f"The sound index at {location.where} is incomplete (its last build was "
                f"interrupted); run `{BUILD_SOUND_COMMAND}` again to finish it."
            )
        found = store.get(include=["metadatas", "embeddings"])
    order = sorted(range(len(found["ids"])), key=lambda i: found["ids"][i])
    cards = [SoundCard.model_validate_json(found["metadatas"][i]["card"]) for i in order]
    vectors = np.asarray([found["embeddings"][i] for i in order], dtype=np.float32)
    return SoundIndex(location, cards, vectors.reshape(len(cards), -1))


def find_sound_index(location: Any) -> SoundIndex | None:
    """The sound index beside a catalog's location, or None when none was built (or it is
    incomplete): an optional source, never a reason to refuse the catalog."""
    try:
        return open_sound_index(location.path, collection=location.collection)
    except CatalogError:
        return None


def engine_source(engine: Any, clip: SoundEmbedding, threads: np.ndarray) -> tuple[float, Any]:
    """The recommendation engine's ``sound`` source: what was recommended in the threads
    whose clips sound most like ``clip`` (weighted by how alike), and the weight it is
    fused with. Threads the engine excludes are never read, so leave-thread-out holds."""
    index: SoundIndex = engine.sound
    excluded = [r.thread for r, keep in zip(engine.records, threads, strict=True) if not keep]
    weights = np.zeros(len(engine.records))
    heard: dict[int, SoundHit] = {}
    for hit in index.search(clip, ENGINE_NEIGHBOURS, exclude_threads=excluded):
        t = engine.thread_index.get(hit.card.thread or "")
        if t is not None and threads[t] and hit.score > weights[t]:
            weights[t], heard[t] = max(hit.score, 0.0), hit

    def describe(t: int) -> tuple[str, str | None]:
        return (
            f"recommended in r/{engine.records[t].community} in a thread whose clip sounds "
            f"like yours ({heard[t].why})",
            None,
        )

    return ENGINE_WEIGHT, engine._from_threads(weights, "sound", describe)


def iter_hits_json(hits: Sequence[SoundHit]) -> Iterator[dict[str, Any]]:
    """The JSON rows of a search answer: name, artist, score, then what matched."""
    for hit in hits:
        yield {
            "name": hit.card.name,
            "artist": hit.card.artist,
            "score": round(hit.score, 4),
            "album": hit.card.album,
            "path": hit.card.path,
            "thread": hit.card.thread,
            "why": hit.why,
            "tempo_bpm": hit.card.traits.tempo_bpm,
            "key": f"{hit.card.traits.key} {hit.card.traits.mode}",
            "tags": hit.card.tags,
            "shared_tags": list(hit.shared_tags),
        }
