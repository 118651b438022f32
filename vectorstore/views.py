"""Leak-free catalog views for evaluation (docs/evaluation.md).

Conventions
-----------
- Five fold catalogs: fold ``f`` is built from every thread whose
  ``int(sha256(name), 16) % 5 != f``. Ranking thread T uses the catalog of T's fold, so
  nothing T contains (comments, gold, submission, links) is in it.
- A view also excludes every entity of T's candidate pool, by :func:`entity_key` (a
  coarsening of the paper's normalisation): such cards are never returned, and are removed
  from every fact of the cards that are (artists, albums, related). ``related`` is recomputed
  without them, so the cards served equal those built from sources never naming the pool.
- To keep *rankings* equally blind, a view scores only what excluding entities cannot
  change: dense similarity to each card's name embedding and BM25 over names (statistics over
  the admitted cards only), fused by reciprocal rank; ties by key order. Hence: editing T, or
  deleting T's candidates from the other threads, cannot change any result a view serves
  (tests/test_catalog_leakfree.py proves it).
- :meth:`LeakFreeView.recommended_in` says what one thread of the view's catalog recommended
  (admitted cards only): the audio modes score a pool by what the threads whose clips sound
  like T's recommended (evals/systems/sound_neighbours.py).
- Fold catalogs are cached under ``<cache_dir>/catalog-views/<content hash>/`` (pickled cards
  and co-occurrences, plus one shared name-vector cache), built on first use, reused after;
  the hash covers the threads, the embedder and the text of the modules whose rules make
  the cards (:data:`RULE_SOURCES`), so edited rules never read an older catalog back;
  files are written to a temporary name and renamed, so a killed build leaves no half file.
- Search is exact (numpy over a few thousand vectors), not Chroma's approximate HNSW:
  an approximate index's answers depend on the other vectors it holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore.cards import CatalogFacts, EntityCard, Kind, facts_from_threads
from vectorstore.embeddings import embedding_function_from_env
from vectorstore.errors import CatalogError
from vectorstore.musicrs import fold_of
from vectorstore.search import CardFilters, SearchHit, checked_query, fused_best
from vectorstore.store import Embedder, fuzzy_lookup
from vectorstore.text import (
    BM25Index,
    entity_key,
    loose_key,
    tokenize,
    top_ranks,
)

VIEW_FORMAT = "views-v5"  # bump when the cached layout changes
#: The code whose rules make a fold catalog's cards: the cache key holds its text, so a
#: catalog cached by other rules is never read back.
RULE_SOURCES = tuple(
    Path(__file__).with_name(name)
    for name in ("entities.py", "cards.py", "nicknames.py", "text.py", "musicrs.py")
)
RELATED_CAP = 40
MENTION_WORDS = 6
_OPENERS = "\"'(“‘*_["
DEFAULT_CACHE = Path(".cache")


def _atomic_write(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


class NameVectors:
    """Embeddings of names, computed once and kept on disk in one ``names.npz`` (names and
    vectors together, replaced atomically, so they can never disagree)."""

    def __init__(self, directory: Path, embedder: Embedder) -> None:
        self.directory, self.embedder = directory, embedder
        self.file = directory / "names.npz"
        self.names: list[str] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        if self.file.is_file():
            with np.load(self.file) as stored:
                self.names, self.vectors = stored["names"].tolist(), stored["vectors"]
        self.row = {name: i for i, name in enumerate(self.names)}

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """One row per name, embedding (and saving) the names not seen before."""
        missing = sorted(set(names) - self.row.keys())
        if missing:
            fresh = self.embedder.encode(missing)
            self.vectors = fresh if not len(self.vectors) else np.vstack([self.vectors, fresh])
            self.row.update((name, len(self.names) + i) for i, name in enumerate(missing))
            self.names += missing
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = self.directory / f".names.{os.getpid()}.npz"
            np.savez(temporary, names=np.array(self.names, dtype=str), vectors=self.vectors)
            os.replace(temporary, self.file)
        return self.vectors[[self.row[name] for name in names]]


@dataclass
class FoldCatalog:
    """The catalog of one fold: its facts (cards without ``related``, co-occurrences, credit
    evidence) and name vectors."""

    fold: int
    facts: CatalogFacts
    vectors: np.ndarray

    def __post_init__(self) -> None:
        self.cards, self.cooccurrence = self.facts.cards, self.facts.cooccurrence
        self.index = {card.id: i for i, card in enumerate(self.cards)}
        self.names = {card.id: card.name for card in self.cards}
        self.lexical = BM25Index(tokenize(card.name) for card in self.cards)
        self.filters = CardFilters(self.cards)
        self.lookup_names = [loose_key(card.name) for card in self.cards]
        self.by_loose_name: dict[str, list[int]] = {}
        for position, name in enumerate(self.lookup_names):
            self.by_loose_name.setdefault(name, []).append(position)
        # Thread -> the cards its comments recommended: each card's own thread references,
        # so what one thread recommended never depends on which other entities exist.
        self.recommended_by_thread: dict[str, list[int]] = {}
        for position, card in enumerate(self.cards):
            for ref in card.threads:
                if ref.role == "recommended":
                    self.recommended_by_thread.setdefault(ref.id, []).append(position)


class FoldCatalogs:
    """The five fold catalogs of one dataset, built on first use and cached on disk."""

    def __init__(
        self,
        threads: Sequence[object],
        cache_dir: str | os.PathLike[str] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.threads = list(threads)
        self.embedder = embedder or embedding_function_from_env()
        digest = hashlib.sha256()
        for part in (
            VIEW_FORMAT,
            self.embedder.name(),
            json.dumps(self.embedder.get_config(), sort_keys=True),
        ):
            digest.update(part.encode())
        for source in RULE_SOURCES:
            digest.update(source.read_bytes())
        for thread in self.threads:
            digest.update(_thread_fingerprint(thread).encode("utf-8"))
        self.directory = (
            Path(cache_dir or DEFAULT_CACHE) / "catalog-views" / digest.hexdigest()[:20]
        )
        self.names = NameVectors(self.directory, self.embedder)
        self.loaded: dict[int, FoldCatalog] = {}

    def fold(self, fold: int) -> FoldCatalog:
        """The catalog built without fold ``fold``'s threads (loaded or built once)."""
        if fold not in self.loaded:
            path = self.directory / f"fold-{fold}.pkl"
            if path.is_file():
                facts = pickle.loads(path.read_bytes())
            else:
                facts = facts_from_threads(t for t in self.threads if fold_of(t.name) != fold)  # type: ignore[attr-defined]
                self.directory.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
            vectors = self.names.matrix([card.name for card in facts.cards])
            self.loaded[fold] = FoldCatalog(fold, facts, vectors)
        return self.loaded[fold]

    def view(self, thread_name: str, candidate_pool: Iterable[str]) -> LeakFreeView:
        """What may be known while ranking ``thread_name`` with this candidate pool."""
        return LeakFreeView(
            self.fold(fold_of(thread_name)),
            self.embedder,
            frozenset(map(entity_key, candidate_pool)),
        )


def _thread_fingerprint(thread: object) -> str:
    """Everything of a thread the fold catalogs read, as text (the cache key's input)."""
    comments = [(c.name, c.artists, c.albums, c.songs) for c in thread.comments]  # type: ignore[attr-defined]
    return json.dumps(
        [
            thread.name,
            thread.source_subreddit,
            thread.submission_entities,
            comments,
            thread.combined_text,
        ],  # type: ignore[attr-defined]
        default=list,
    )


class LeakFreeView:
    """The candidate-blind catalog for one thread: same ``search``/``lookup``/``get`` as
    :class:`vectorstore.store.Catalog`, over the thread's fold catalog minus its pool."""

    def __init__(self, catalog: FoldCatalog, embedder: Embedder, excluded: frozenset[str]) -> None:
        self.catalog, self.embedder, self.excluded = catalog, embedder, excluded
        self.admitted = np.array([card.id not in excluded for card in catalog.cards], dtype=bool)

    def __len__(self) -> int:
        return int(self.admitted.sum())

    def card(self, position: int) -> EntityCard:
        """The served form of a card: no excluded entity anywhere; ``related`` and the
        artist and album credits recomputed as if the excluded entities were never named."""
        base = self.catalog.facts.credited(
            self.catalog.cards[position], self.excluded, self.catalog.names
        )
        related = self.catalog.cooccurrence.related(base.id, RELATED_CAP, self.excluded)
        names = [
            (self.catalog.cards[self.catalog.index[key]].name, sources) for key, sources in related
        ]
        return base.redacted(self.excluded).with_related(names)

    def get(self, entity_id: str) -> EntityCard | None:
        position = self.catalog.index.get(entity_key(entity_id))
        return None if position is None or not self.admitted[position] else self.card(position)

    def recommended_in(self, thread_name: str) -> list[int]:
        """Positions of the admitted cards recommended in the comments of ``thread_name`` (a
        thread of the view's catalog; any other thread, T's included, has none)."""
        found = self.catalog.recommended_by_thread.get(thread_name, ())
        return [position for position in found if self.admitted[position]]

    def mask(self, kind: Kind | None, community: str | None, artist: str | None) -> np.ndarray:
        """Admitted cards passing the filters (an excluded artist admits nothing)."""
        if artist is not None and entity_key(artist) in self.excluded:
            return np.zeros_like(self.admitted)
        return self.admitted & self.catalog.filters.mask(kind, community, artist)

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        kind: Kind | None = None,
        community: str | None = None,
        artist: str | None = None,
    ) -> list[SearchHit]:
        """The ``k`` best admitted cards for ``query`` (name similarity and name BM25, fused)."""
        text = checked_query(query)
        mask = self.mask(kind, community, artist)
        fetch = max(4 * k, 50)
        dense_scores = self.catalog.vectors @ self.embedder.encode([text])[0]
        dense = top_ranks(dense_scores, fetch, mask)
        lexical = top_ranks(
            self.catalog.lexical.scores(tokenize(text), mask), fetch, mask, positive_only=True
        )
        return [
            SearchHit(self.card(i), score, dense.get(i), lexical.get(i))
            for i, score in fused_best(dense, lexical, k)
        ]

    def mentioned(self, text: str, longest: int = MENTION_WORDS) -> list[SearchHit]:
        """Admitted cards whose whole name occurs in ``text`` as a phrase of up to
        ``longest`` words, longest phrases first (score 1). A one-word name counts only
        when capitalised in the text, so "love" the word is not "Love" the band."""
        words = text.split()
        found: list[int] = []
        for size in range(min(longest, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                span = words[start : start + size]
                if size == 1 and not span[0].lstrip(_OPENERS)[:1].isupper():
                    continue
                for position in self.catalog.by_loose_name.get(loose_key(" ".join(span)), ()):
                    if self.admitted[position] and position not in found:
                        found.append(position)
        return [SearchHit(self.card(i), 1.0) for i in found]

    def lookup(self, name: str, k: int = 5) -> list[SearchHit]:
        """Admitted cards whose name matches ``name`` as typed."""
        hits = fuzzy_lookup(
            name, self.catalog.cards, self.catalog.lookup_names, [], k, self.admitted
        )
        return [SearchHit(self.card(self.catalog.index[h.card.id]), h.score) for h in hits]


_FOLD_CATALOGS: dict[tuple[str, str], FoldCatalogs] = {}


def leak_free_catalog(
    thread_name: str,
    candidate_pool: Sequence[str],
    *,
    data: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    embedder: Embedder | None = None,
) -> LeakFreeView:
    """The candidate-blind view for ranking ``thread_name``: its fold's catalog (built
    without its fold) minus every entity of ``candidate_pool``. Fold catalogs of a dataset
    are loaded once per process and cached on disk."""
    from vectorstore.musicrs import DatasetError, load_conversations, resolve_data_path

    try:
        source = resolve_data_path(data)
    except DatasetError as error:
        raise CatalogError(str(error)) from None
    key = (source, str(cache_dir or DEFAULT_CACHE))
    if key not in _FOLD_CATALOGS:
        try:
            threads = load_conversations(source)
        except DatasetError as error:
            raise CatalogError(str(error)) from None
        _FOLD_CATALOGS[key] = FoldCatalogs(threads, cache_dir, embedder)
    return _FOLD_CATALOGS[key].view(thread_name, candidate_pool)
