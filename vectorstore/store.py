"""The Chroma-backed catalog: build (incremental, resumable) and hybrid search.

Conventions
-----------
- Where (:class:`StoreLocation`, the catalog's one settings object, read by
  :func:`store_location`): an embedded ``PersistentClient`` at ``path`` (default
  ``$CATALOG_PATH`` or ``.cache/catalog``), or an ``HttpClient`` when ``CHROMA_HOST`` (and
  optionally ``CHROMA_PORT``, default 8000) is set. The collection is ``$CATALOG_COLLECTION``
  or ``musicrs_entities``; cosine space; our embedding function is always passed (Chroma's
  default one downloads a model).
- One record per card: id = card id, no document (nothing reads it, and Chroma would
  index its full text on every write), embedding of
  ``card.embedding_text``, metadata = kind, mentions, one ``community_<name>`` flag per
  community, the two hashes below and the card itself as JSON (so a server holds everything).
- Incremental build: ``embed_hash`` (embedding text + embedding function) decides
  re-embedding, ``card_hash`` (the whole card) decides a metadata update; unchanged cards
  are not touched; cards no longer in the source are deleted. Cards come in chunks, ids
  ascending (a list is sorted; a track file is streamed, :mod:`vectorstore.track_stream`),
  and are read twice: the catalog hash first (a no-change build stops there), then the
  work, chunk by chunk: stored metadata read for the chunk's ids, records embedded and
  written :data:`EMBED_CHUNK` at a time (the next chunk embedded by worker processes while
  one is written: Chroma's upsert holds the GIL, a Python thread beside it ran at 4 % of
  its speed), cards given to the card index writer. No step holds every card.
- A build runs with Python's collector slowed (:data:`BUILD_GC_THRESHOLDS`, the objects
  alive at its start frozen), restored when it ends.
- The manifest (collection metadata ``manifest``) says ``building`` from the first write and
  ``complete`` only after the last. Readers refuse any other state with a sentence telling to
  re-run the build, which then resumes: finished records hash equal and are skipped.
- Search fuses, by reciprocal rank, Chroma's dense ranking with a BM25 ranking over each
  card's text and all its related names (Chroma local has no lexical search). Filters (kind,
  community, artist) apply to both before fusion.
- Cards, BM25 postings, filters and lookup keys live in the card index
  (:mod:`vectorstore.card_index`, one SQLite file beside the store, or in ``path`` for a
  server), written at the end of each build and rebuilt from Chroma's records by
  :func:`open_catalog` when missing or stale; an open catalog reads cards per hit, never
  all of them.
- Every Chroma or network failure becomes one :class:`CatalogError` sentence.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from rapidfuzz import fuzz, process
from tqdm import tqdm

from vectorstore.card_index import (
    CardIndex,
    CardIndexWriter,
    alias_keys,
    index_file,
    indexed_hash,
)
from vectorstore.cards import EntityCard, Kind
from vectorstore.embeddings import (
    MiniLMEmbeddingFunction,
    OpenAIEmbeddingFunction,
    embedding_function_from_env,
)
from vectorstore.errors import CatalogError
from vectorstore.search import SearchHit, checked_query, community_name, fused_best
from vectorstore.text import entity_key, loose_key, tokenize, top_ranks

DEFAULT_PATH = Path(".cache/catalog")
DEFAULT_COLLECTION = "musicrs_entities"
READ_PAGE = 5000
BUILD_CHUNK = 5000  # cards of an in-memory list handled at a time, as a track file's chunks
EMBED_CHUNK = 1024  # records embedded while the previous ones are written: a short pipeline fill
# Python's collector during a build: the objects alive when it starts are frozen (never
# traversed again) and a young collection runs every 100,000 allocations, not 700: at 30k
# tracks this cut the build process's CPU by 16 % and the track file's staging by half
# (docs/scale.md); the settings are restored when the build ends.
BUILD_GC_THRESHOLDS = (100_000, 50, 1000)
#: The cards' HNSW index: half Chroma's default construction effort (``ef_construction``
#: 100) and twice its search effort (``ef_search`` 100). On 100,000 synthetic card vectors
#: (docs/scale.md) that is 40 % less CPU per upsert and a better recall@20 against exact
#: search (0.933 against 0.917 with the defaults), for about 2 ms more per query.
CARD_INDEX = {"hnsw": {"space": "cosine", "ef_construction": 50, "ef_search": 200}}
LOOKUP_FLOOR = 70.0  # token-sort ratios below this are different names, not typos
Embedder = MiniLMEmbeddingFunction | OpenAIEmbeddingFunction


@dataclass(frozen=True)
class StoreLocation:
    """Where a catalog lives: a local directory, or a server (host, port)."""

    path: Path
    collection: str
    host: str | None = None
    port: int = 8000

    @property
    def where(self) -> str:
        return f"the Chroma server at {self.host}:{self.port}" if self.host else f"{self.path}"


def store_location(
    path: str | os.PathLike[str] | None = None,
    collection: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> StoreLocation:
    """The location chosen by arguments, then ``CATALOG_PATH`` (the one catalog variable;
    ``AGENT_CATALOG`` is still read, with a warning), ``CATALOG_COLLECTION``,
    ``CHROMA_HOST`` and ``CHROMA_PORT``. A bad value raises one :class:`CatalogError`
    sentence."""
    env = os.environ if environ is None else environ
    port_text = env.get("CHROMA_PORT", "").strip() or "8000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CatalogError(f"CHROMA_PORT={port_text!r} is not a port number (1-65535).")
    return StoreLocation(
        path=Path(path or configured_path(env) or DEFAULT_PATH),
        collection=collection or env.get("CATALOG_COLLECTION") or DEFAULT_COLLECTION,
        host=env.get("CHROMA_HOST", "").strip() or None,
        port=int(port_text),
    )


def configured_path(env: Mapping[str, str]) -> str | None:
    """``CATALOG_PATH``, else the deprecated ``AGENT_CATALOG`` (warned about), else ``None``."""
    if env.get("CATALOG_PATH"):
        return env["CATALOG_PATH"]
    if env.get("AGENT_CATALOG"):
        # FutureWarning, not DeprecationWarning: Python shows it to users, not only developers.
        warnings.warn(
            "AGENT_CATALOG is deprecated and will be removed; set CATALOG_PATH instead.",
            FutureWarning,
            stacklevel=3,
        )
        return env["AGENT_CATALOG"]
    return None


@contextlib.contextmanager
def chroma_errors(location: StoreLocation, doing: str) -> Iterator[None]:
    """Turn any Chroma or transport failure into one sentence naming the store and the cure."""
    try:
        yield
    except CatalogError:
        raise
    except Exception as error:
        cure = (
            f"check that `chroma run --port {location.port}` is running there"
            if location.host
            else "check the path is writable and not used by another Chroma version"
        )
        raise CatalogError(
            f"Chroma failed while {doing} at {location.where} ({type(error).__name__}: "
            f"{str(error)[:160]}); {cure}, then retry."
        ) from None


def make_client(location: StoreLocation) -> Any:
    """An embedded or HTTP Chroma client for ``location`` (telemetry off)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    with chroma_errors(location, "connecting"):
        if location.host:
            client = chromadb.HttpClient(host=location.host, port=location.port, settings=settings)
            client.heartbeat()
            return client
        location.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(location.path), settings=settings)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _metadata(card: EntityCard, embedder: Embedder) -> dict[str, Any]:
    card_json = card.model_dump_json(exclude={"text"})
    return {
        "kind": card.kind,
        "mentions": card.mentions,
        "embed_hash": _hash(
            card.embedding_text, embedder.name(), json.dumps(embedder.get_config())
        ),
        "card_hash": _hash(card_json),
        "card": card_json,
        **{f"community_{c}": True for c in card.communities},
    }


@dataclass(frozen=True)
class BuildReport:
    """What a build did: records embedded, only re-described, untouched, deleted; seconds."""

    embedded: int
    updated: int
    unchanged: int
    deleted: int
    seconds: float


def _read_manifest(collection: Any) -> dict[str, Any]:
    raw = (collection.metadata or {}).get("manifest")
    return json.loads(raw) if raw else {}


def _write_manifest(collection: Any, **manifest: Any) -> None:
    collection.modify(metadata={"manifest": json.dumps(manifest)})


def _existing_metadata(collection: Any) -> dict[str, dict[str, Any]]:
    """Every record's metadata by id, read page by page."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=READ_PAGE, offset=offset)
        found.update(zip(page["ids"], page["metadatas"], strict=True))
        if len(page["ids"]) < READ_PAGE:
            return found
        offset += READ_PAGE


@runtime_checkable
class CardChunks(Protocol):
    """Cards given a chunk at a time (a track file's, :mod:`vectorstore.track_stream`)."""

    def chunks(self) -> Iterator[list[EntityCard]]:
        """Every card once, ids ascending across chunks; may be iterated again."""
        ...


@dataclass(frozen=True)
class _ListedCards:
    """Cards held in memory, as :class:`CardChunks`."""

    cards: list[EntityCard]

    def chunks(self) -> Iterator[list[EntityCard]]:
        for start in range(0, len(self.cards), BUILD_CHUNK):
            yield self.cards[start : start + BUILD_CHUNK]


def build_catalog(
    cards: Sequence[EntityCard] | CardChunks,
    path: str | os.PathLike[str] | None = None,
    *,
    collection: str | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    """Write ``cards`` (in memory, or chunk by chunk) to the store, touching only what
    changed; see the module conventions."""
    with _fewer_collections():
        return _build_catalog(cards, path, collection, embedder, progress)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """:data:`BUILD_GC_THRESHOLDS` meanwhile: the build allocates millions of small objects
    (cards, facts, metadata), and each young collection also walked the ones it keeps."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BUILD_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _build_catalog(
    cards: Sequence[EntityCard] | CardChunks,
    path: str | os.PathLike[str] | None,
    collection: str | None,
    embedder: Embedder | None,
    progress: bool,
) -> BuildReport:
    started = time.perf_counter()
    source = (
        cards
        if isinstance(cards, CardChunks)
        else _ListedCards(sorted(cards, key=lambda card: card.id))
    )
    location = store_location(path, collection)
    embedder = embedder or embedding_function_from_env()
    identity = (embedder.name(), json.dumps(embedder.get_config(), sort_keys=True))
    catalog_hash, total = _catalog_hash(source, identity)
    client = make_client(location)
    with chroma_errors(location, "building the catalog"):
        store = client.get_or_create_collection(
            location.collection,
            embedding_function=embedder,
            configuration=CARD_INDEX,
        )
        previous = _read_manifest(store)
        if previous.get("embedding") not in (None, embedder.name()):
            # Another model's vectors have another dimension: start this collection afresh.
            client.delete_collection(location.collection)
            store = client.create_collection(
                location.collection,
                embedding_function=embedder,
                configuration=CARD_INDEX,
            )
        index = card_index_path(location)
        if previous.get("state") == "complete" and previous.get("catalog_hash") == catalog_hash:
            # Same cards as the last complete build: nothing to read, embed or write.
            if indexed_hash(index) != catalog_hash:
                _write_index(index, source, catalog_hash)
            return BuildReport(0, 0, total, 0, time.perf_counter() - started)
        _write_manifest(store, state="building", embedding=embedder.name(), started=time.time())
        bar = tqdm(total=total, desc="catalog", unit="card", disable=not progress)
        try:
            with CardIndexWriter(index) as writer:
                done = _write_records(
                    source, store, embedder, client.get_max_batch_size(), writer, bar
                )
                stale = _stale_ids(store, writer) if store.count() > total else []
                for start in range(0, len(stale), client.get_max_batch_size()):
                    store.delete(ids=stale[start : start + client.get_max_batch_size()])
                writer.finish(catalog_hash)
        except OSError as error:
            raise _index_error(index, error) from None
        finally:
            bar.close()
        _write_manifest(
            store,
            state="complete",
            embedding=embedder.name(),
            count=total,
            catalog_hash=catalog_hash,
            finished=time.time(),
        )
    return BuildReport(
        done.embedded,
        done.updated,
        total - done.embedded - done.updated,
        len(stale),
        time.perf_counter() - started,
    )


def _catalog_hash(source: CardChunks, identity: tuple[str, str]) -> tuple[str, int]:
    """The hash of the embedder's identity and every card (its ``card_hash``s, sorted), and
    the number of cards; raises if two cards share an id (ids must ascend)."""
    hashes, last = [], None
    for chunk in source.chunks():
        for card in chunk:
            if last is not None and card.id <= last:
                raise CatalogError(
                    "Two cards share an id; build cards with vectorstore.cards, which merges them."
                )
            last = card.id
        hashes.append(
            np.asarray([_hash(card.model_dump_json(exclude={"text"})) for card in chunk], "S32")
        )
    ordered = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, "S32")
    # The same value as _hash(*identity, *sorted hashes), without their strings all at once.
    digest = hashlib.sha256("\x1f".join(identity).encode("utf-8"))
    for value in ordered:
        digest.update(b"\x1f" + bytes(value))
    return digest.hexdigest()[:32], len(ordered)


@dataclass
class _Written:
    embedded: int = 0
    updated: int = 0


def _write_records(
    source: CardChunks,
    store: Any,
    embedder: Embedder,
    batch: int,
    writer: CardIndexWriter,
    bar: tqdm,
) -> _Written:
    """Embed and write the records of every card whose embedding text (or embedder)
    changed, rewrite the metadata of cards that changed otherwise, and give every card to
    the index ``writer``; chunk by chunk, the next records embedded while these are
    written."""
    done = _Written()
    waiting: deque[list[tuple[EntityCard, dict[str, Any]]]] = deque()

    def to_embed() -> Iterator[list[str]]:
        for chunk in source.chunks():
            wanted = {card.id: (card, _metadata(card, embedder)) for card in chunk}
            existing = _stored_metadata(store, list(wanted), batch)
            fresh = sorted(
                (
                    record
                    for cid, record in wanted.items()
                    if existing.get(cid, {}).get("embed_hash") != record[1]["embed_hash"]
                ),
                # Similar lengths share a batch, so the model pads (and computes) little.
                key=lambda record: (len(record[0].embedding_text), record[0].id),
            )
            changed = [
                cid
                for cid, (_, meta) in wanted.items()
                if cid in existing
                and existing[cid].get("embed_hash") == meta["embed_hash"]
                and existing[cid].get("card_hash") != meta["card_hash"]
            ]
            _update_metadata(store, changed, wanted, existing, batch)
            writer.add(chunk)
            bar.update(len(chunk) - len(fresh))
            done.updated += len(changed)
            for start in range(0, len(fresh), min(batch, EMBED_CHUNK)):
                waiting.append(fresh[start : start + min(batch, EMBED_CHUNK)])
                yield [card.embedding_text for card, _ in waiting[-1]]

    for vectors in embedder.encode_ahead(to_embed()):
        records = waiting.popleft()
        store.upsert(
            ids=[card.id for card, _ in records],
            embeddings=vectors,
            metadatas=[meta for _, meta in records],
        )
        done.embedded += len(records)
        bar.update(len(records))
    return done


def _stored_metadata(store: Any, ids: list[str], batch: int) -> dict[str, dict[str, Any]]:
    """The stored metadata of those of ``ids`` the store holds."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), batch):
        page = store.get(ids=ids[start : start + batch], include=["metadatas"])
        found.update(zip(page["ids"], page["metadatas"], strict=True))
    return found


def _update_metadata(
    store: Any,
    ids: list[str],
    wanted: Mapping[str, tuple[EntityCard, dict[str, Any]]],
    existing: Mapping[str, dict[str, Any]],
    batch: int,
) -> None:
    """Rewrite the metadata of ``ids``, keeping their vectors."""
    for start in range(0, len(ids), batch):
        chosen = ids[start : start + batch]
        store.update(ids=chosen, metadatas=[_replaced(existing[i], wanted[i][1]) for i in chosen])


def _stale_ids(store: Any, writer: CardIndexWriter) -> list[str]:
    """Ids in the store that the build's cards no longer have."""
    stale, offset = [], 0
    while True:
        page = store.get(include=[], limit=READ_PAGE, offset=offset)
        kept = writer.has(page["ids"])
        stale += [i for i in page["ids"] if i not in kept]
        if len(page["ids"]) < READ_PAGE:
            return sorted(stale)
        offset += READ_PAGE


def threads_collection(location: StoreLocation) -> str:
    """The collection of the engine's thread records beside a catalog's cards."""
    return f"{location.collection}_threads"


def build_threads(
    records: Sequence[Any],
    path: str | os.PathLike[str] | None = None,
    *,
    collection: str | None = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Write the engine's thread records (:class:`vectorstore.engine.ThreadRecord`) beside
    the cards: id = thread, document and embedding = its request, metadata = the record as
    JSON. Incremental like the cards: only records whose request or content changed are
    re-embedded or rewritten; records no longer in the source are deleted."""
    started = time.perf_counter()
    location = store_location(path, collection)
    embedder = embedder or embedding_function_from_env()
    client = make_client(location)
    name = threads_collection(location)
    with chroma_errors(location, "building the thread records"):
        if name in [c if isinstance(c, str) else c.name for c in client.list_collections()]:
            store = client.get_collection(name, embedding_function=embedder)
            if _read_manifest(store).get("embedding") != embedder.name():
                client.delete_collection(name)
        store = client.get_or_create_collection(
            name, embedding_function=embedder, configuration={"hnsw": {"space": "cosine"}}
        )
        _write_manifest(store, state="building", embedding=embedder.name())
        existing = _existing_metadata(store)
        wanted = {}
        for record in records:
            text = record.to_json()
            wanted[record.thread] = (
                record,
                {
                    "community": record.community,
                    "record": text,
                    "embed_hash": _hash(record.request, embedder.name()),
                    "record_hash": _hash(text),
                },
            )
        changed = [
            thread
            for thread, (_, meta) in wanted.items()
            if existing.get(thread, {}).get("record_hash") != meta["record_hash"]
        ]
        batch = client.get_max_batch_size()
        embedded = 0
        for start in range(0, len(changed), batch):
            ids = changed[start : start + batch]
            fresh = [
                i
                for i in ids
                if existing.get(i, {}).get("embed_hash") != wanted[i][1]["embed_hash"]
            ]
            vectors = dict(
                zip(fresh, embedder.encode([wanted[i][0].request for i in fresh]), strict=True)
            )
            kept = [i for i in ids if i not in vectors]
            if kept:
                stored = store.get(ids=kept, include=["embeddings"])
                vectors.update(zip(stored["ids"], stored["embeddings"], strict=True))
            store.upsert(
                ids=ids,
                embeddings=[vectors[i] for i in ids],
                documents=[wanted[i][0].request for i in ids],
                metadatas=[wanted[i][1] for i in ids],
            )
            embedded += len(fresh)
        stale = sorted(set(existing) - set(wanted))
        for start in range(0, len(stale), batch):
            store.delete(ids=stale[start : start + batch])
        _write_manifest(store, state="complete", embedding=embedder.name(), count=len(wanted))
    return BuildReport(
        embedded,
        len(changed) - embedded,
        len(wanted) - len(changed),
        len(stale),
        time.perf_counter() - started,
    )


def read_threads(catalog: Catalog) -> tuple[list[str], np.ndarray]:
    """The thread records (as JSON) and request vectors stored beside ``catalog``."""
    name = threads_collection(catalog.location)
    with chroma_errors(catalog.location, "reading the thread records"):
        if name not in [
            c if isinstance(c, str) else c.name for c in catalog.client.list_collections()
        ]:
            raise CatalogError(
                f"The catalog at {catalog.location.where} has no thread records; run "
                "`python -m vectorstore build` with the MusiCRS data."
            )
        store = catalog.client.get_collection(name, embedding_function=catalog.embedder)
        if _read_manifest(store).get("state") != "complete":
            raise CatalogError(
                f"The thread records at {catalog.location.where} are incomplete; run "
                "`python -m vectorstore build` again to finish them."
            )
        found = store.get(include=["metadatas", "embeddings"])
    order = sorted(range(len(found["ids"])), key=lambda i: found["ids"][i])
    records = [found["metadatas"][i]["record"] for i in order]
    vectors = np.asarray([found["embeddings"][i] for i in order], dtype=np.float32)
    return records, vectors


def _replaced(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New metadata that also clears flags the old record had (Chroma merges metadata)."""
    return {**{key: None for key in old if key not in new}, **new}


class Catalog:
    """A complete catalog opened for search, lookup and get: Chroma answers the dense part,
    the card index (:mod:`vectorstore.card_index`) everything else, from disk."""

    def __init__(
        self,
        location: StoreLocation,
        client: Any,
        collection: Any,
        embedder: Embedder,
        cards: CardIndex,
    ):
        self.location, self.client, self.collection, self.embedder = (
            location,
            client,
            collection,
            embedder,
        )
        self.card_index = cards

    def __len__(self) -> int:
        return len(self.card_index)

    def get(self, entity_id: str) -> EntityCard | None:
        """The card whose id (or name, normalised) is ``entity_id``, else None."""
        position = self.card_index.position(entity_key(entity_id))
        return None if position is None else self.card_index.cards([position])[0]

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        kind: Kind | None = None,
        community: str | None = None,
        artist: str | None = None,
    ) -> list[SearchHit]:
        """The ``k`` best cards for ``query``: dense and BM25 rankings fused by reciprocal rank."""
        text = checked_query(query)
        mask = self.card_index.mask(kind, community, artist)
        fetch = max(4 * k, 50)
        lexical = lexical_ranks(self.card_index, text, fetch, mask)
        dense = self._dense_ranks(text, fetch, mask, kind, community, artist)
        best = fused_best(dense, lexical, k)
        cards = self.card_index.cards([i for i, _ in best])
        return [
            SearchHit(card, score, dense.get(i), lexical.get(i))
            for card, (i, score) in zip(cards, best, strict=True)
        ]

    def _dense_ranks(
        self,
        text: str,
        fetch: int,
        mask: np.ndarray,
        kind: str | None,
        community: str | None,
        artist: str | None,
    ) -> dict[int, int]:
        where: dict[str, Any] | None = None
        clauses = [{"kind": kind}] if kind else []
        clauses += [{f"community_{community_name(community)}": True}] if community else []
        if clauses:
            where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        ids = self.card_index.ids(np.flatnonzero(mask).tolist()) if artist else None
        if ids == [] or not mask.any():
            return {}
        with chroma_errors(self.location, "searching"):
            result = self.collection.query(
                query_embeddings=self.embedder.encode([text]),
                n_results=min(fetch, int(mask.sum())),
                where=where,
                ids=ids,
                include=["distances"],
            )
        positions = self.card_index.positions(result["ids"][0])
        found = [positions[i] for i in result["ids"][0] if i in positions and mask[positions[i]]]
        return {position: rank for rank, position in enumerate(found, start=1)}

    def lookup(self, name: str, k: int = 5) -> list[SearchHit]:
        """Cards whose name (or "name artist") matches ``name`` as typed, best first."""
        return index_lookup(self.card_index, name, k)


def lexical_ranks(index: CardIndex, text: str, fetch: int, mask: np.ndarray) -> dict[int, int]:
    """1-based ranks of the ``fetch`` best BM25 matches of ``text`` among the ``mask``ed cards."""
    return top_ranks(index.lexical.scores(tokenize(text), mask), fetch, mask, positive_only=True)


def index_lookup(index: CardIndex, name: str, k: int) -> list[SearchHit]:
    """:func:`fuzzy_ranked` over the cards of ``index`` whose letter pairs overlap most with
    ``name`` (see :mod:`vectorstore.card_index`)."""
    wanted = loose_key(checked_query(name))
    if not wanted:
        return []
    aliased = index.listed("alias", wanted).tolist()  # read once: candidates, then scores
    rows = index.lookup_candidates(wanted, aliased)
    merged = set(aliased)
    ranked = fuzzy_ranked(
        wanted,
        [r[1] for r in rows],
        [r[2] for r in rows],
        lambda i: rows[i][3],
        k,
        aliased=[i for i, row in enumerate(rows) if row[0] in merged],
    )
    cards = index.cards([rows[i][0] for i, _ in ranked])
    scores = [ratio / 100.0 for _, ratio in ranked]
    return [SearchHit(card, score) for card, score in zip(cards, scores, strict=True)]


def fuzzy_ranked(
    wanted: str,
    names: Sequence[str],
    credits: Sequence[str],
    mentions: Callable[[int], int],
    k: int,
    admitted: np.ndarray | None = None,
    aliased: Sequence[int] = (),
) -> list[tuple[int, float]]:
    """(index, ratio in 0-100) of the ``k`` best choices for the loose key ``wanted``: the
    better token-sort ratio against a name or its "name artist" (so word order and typos are
    forgiven but "radio" is not "Radiohead"), 100 for the ``aliased`` choices (``wanted`` is
    one of their other spellings); ties go to more ``mentions``, then the index."""
    best: dict[int, float] = {i: 100.0 for i in aliased if admitted is None or admitted[i]}
    for choices in (names, credits):
        for _, ratio, i in process.extract(
            wanted,
            choices,
            scorer=fuzz.token_sort_ratio,
            limit=8 * k + 20,
            score_cutoff=LOOKUP_FLOOR,
        ):
            if admitted is None or admitted[i]:
                best[i] = max(best.get(i, 0.0), ratio)
    ranked = sorted(best, key=lambda i: (-best[i], -mentions(i), i))[:k]
    return [(i, best[i]) for i in ranked]


def fuzzy_lookup(
    name: str,
    cards: Sequence[EntityCard],
    names: Sequence[str],
    credits: Sequence[str],
    k: int,
    admitted: np.ndarray | None = None,
) -> list[SearchHit]:
    """:func:`fuzzy_ranked` over cards held in memory (``names``/``credits`` their keys)."""
    wanted = loose_key(checked_query(name))
    if not wanted:
        return []
    # Most cards merged no spelling: skip them before computing any key.
    aliased = [i for i, card in enumerate(cards) if card.aliases and wanted in alias_keys(card)]
    ranked = fuzzy_ranked(wanted, names, credits, lambda i: cards[i].mentions, k, admitted, aliased)
    return [SearchHit(cards[i], ratio / 100.0) for i, ratio in ranked]


def open_catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    collection: str | None = None,
    embedder: Embedder | None = None,
) -> Catalog:
    """Open a complete catalog (embedded at ``path``, or the configured server)."""
    location = store_location(path, collection)
    if not location.host and not location.path.exists():
        raise CatalogError(
            f"No catalog at {location.path}; run `python -m vectorstore build` first."
        )
    embedder = embedder or embedding_function_from_env()
    client = make_client(location)
    with chroma_errors(location, "opening the catalog"):
        names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        if location.collection not in names:
            raise CatalogError(
                f"No catalog named {location.collection!r} at {location.where}; "
                "run `python -m vectorstore build` first."
            )
        store = client.get_collection(location.collection, embedding_function=embedder)
        manifest = _read_manifest(store)
    if manifest.get("state") != "complete":
        raise CatalogError(
            f"The catalog at {location.where} is incomplete (its last build was interrupted); "
            "run `python -m vectorstore build` again to finish it."
        )
    if manifest.get("embedding") != embedder.name():
        raise CatalogError(
            f"The catalog at {location.where} was built with "
            f"{manifest.get('embedding')} embeddings, "
            f"not {embedder.name()}; set CATALOG_EMBEDDINGS to match or rebuild."
        )
    path = card_index_path(location)
    if indexed_hash(path) != manifest.get("catalog_hash"):
        # Built by an older version, or served to this client for the first time.
        with chroma_errors(location, "reading the catalog to index it"):
            metadata = _existing_metadata(store)
        cards = [EntityCard.model_validate_json(meta["card"]) for meta in metadata.values()]
        cards.sort(key=lambda card: card.id)
        _write_index(path, _ListedCards(cards), manifest.get("catalog_hash", ""))
    return Catalog(location, client, store, embedder, CardIndex(path))


def card_index_path(location: StoreLocation) -> Path:
    """The card index of the catalog at ``location`` (beside an embedded store; for a server,
    in the local ``path`` folder)."""
    return index_file(location.path, location.collection, location.host, location.port)


def _write_index(path: Path, cards: CardChunks, catalog_hash: str) -> None:
    try:
        with CardIndexWriter(path) as writer:
            for chunk in cards.chunks():
                writer.add(chunk)
            writer.finish(catalog_hash)
    except OSError as error:
        raise _index_error(path, error) from None


def _index_error(path: Path, error: OSError) -> CatalogError:
    return CatalogError(
        f"Cannot write the catalog's card index in {path.parent} ({error.strerror}); "
        "make that folder writable or set CATALOG_PATH to one that is."
    )
