"""The catalog's cards and its lexical, filter and name-lookup indexes, on disk in SQLite.

Conventions
-----------
- One file per catalog and place, ``<store folder>/<collection>[@host_port].cards.sqlite3``,
  written by :class:`CardIndexWriter` (cards in ascending id order, any number at a time)
  under a temporary name and renamed when finished (a killed build leaves no half file).
  It records the ``catalog_hash`` of the build it mirrors; the store rebuilds it from
  Chroma's records when it is missing or mirrors another build.
- Positions: cards sorted by id are numbered from 0; every array and posting list is
  indexed by position, and ties in every ranking are broken by position.
- Tables: ``cards`` (position, id, the card as JSON without its derived ``text``),
  ``names`` (position, the two forgiving keys lookup compares and ``mentions``),
  ``postings`` (one row per (kind, key): ``term`` → BM25 postings of a token with its
  counts; ``gram`` → lookup keys (2 × position for the name, + 1 for "name artist") holding
  a letter pair; ``alias`` → the cards that merged a spelling with that key; ``community``
  and ``credit`` → the cards a filter admits), ``arrays`` (``lengths``: BM25 document lengths;
  ``kinds``: one code of :data:`KINDS` per card; ``gram_counts``: letter pairs per lookup
  key) and ``meta``.
- Nothing is read at open beyond ``meta``: arrays load on first use, postings per query
  term, cards per hit. The process's own memory is a few bytes per card (lengths, kinds),
  not the cards; the file is read through a memory map, so the pages a query read count in
  RSS until the OS drops them.
- Lexical scores are exactly :class:`vectorstore.text.BM25Index`'s (same arithmetic on the
  same float64 numbers), over each card's text and all its related names.
- Lookup ranks cards by the same token-sort ratio as :func:`vectorstore.store.fuzzy_lookup`
  but only over the :data:`LOOKUP_CANDIDATES` cards whose letter pairs overlap the typed
  name's most (Dice; rarest pairs first, at most :data:`GRAM_BUDGET` postings read), so its
  cost does not grow with the catalog; a name sharing no letter pair with a card misses it.
  A name typed exactly as one of a card's other spellings (its ``alias`` key) finds it too.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from vectorstore.cards import KINDS, EntityCard, Kind
from vectorstore.search import community_name
from vectorstore.text import BM25Index, _Postings, entity_key, loose_key, tokenize

INDEX_FORMAT = "card-index-v3"  # bump when the tables or what they hold change
LOOKUP_CANDIDATES = 2000  # cards scored exactly per lookup; far above any k a caller asks
GRAM_BUDGET = 400_000  # postings read per lookup: a few ms; rarer pairs are read first
INSERT_BATCH = 10_000
MMAP_BYTES = 1 << 34  # address space only: the OS pages in what is read, and may drop it


def lookup_keys(card: EntityCard) -> tuple[str, str]:
    """The forgiving forms lookup compares a typed name with: the name, and "name artist"
    (empty when the card has no artist)."""
    credit = loose_key(f"{card.name} {card.artists[0]}") if card.artists else ""
    return loose_key(card.name), credit


def alias_keys(card: EntityCard) -> set[str]:
    """The forgiving forms of the other spellings ``card`` merged ("Chopin" for "Frédéric
    Chopin"): typed exactly, they find it as its name does."""
    return {loose_key(alias) for alias in card.aliases} - {loose_key(card.name), ""}


def lexical_tokens(card: EntityCard) -> list[str]:
    """What BM25 indexes for a card: its text and every related name."""
    return tokenize(" ".join([card.text, *card.related]))


def grams(text: str) -> set[str]:
    """Letter pairs of each word of ``text``, padded by spaces (word order is free). Pairs,
    not trigrams: a one-letter slip in a short name ("wait" for "what") leaves no trigram
    in common but still some pairs."""
    padded = [f" {word} " for word in text.split()]
    return {word[i : i + 2] for word in padded for i in range(len(word) - 1)}


def index_file(folder: Path, collection: str, host: str | None, port: int) -> Path:
    """Where a catalog's card index lives (see the module conventions)."""
    place = f"@{host}_{port}" if host else ""
    return folder / f"{collection}{place}.cards.sqlite3"


def write_card_index(path: Path, cards: Iterable[EntityCard], catalog_hash: str) -> int:
    """Write the index of ``cards`` (any order; positions follow ids) to ``path``; returns
    how many cards it holds."""
    with CardIndexWriter(path) as writer:
        writer.add(sorted(cards, key=lambda card: card.id))
        return writer.finish(catalog_hash)


class CardIndexWriter:
    """Writes a card index from cards given in ascending id order, any number at a time:
    cards go to the file as they come; postings and arrays, compact, are written by
    :meth:`finish`, which then puts the file in place. Leaving the ``with`` block without
    :meth:`finish` removes the unfinished file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.temporary.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.database = sqlite3.connect(self.temporary)
        self.database.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE cards (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, card TEXT);
            CREATE TABLE names (pos INTEGER PRIMARY KEY, name TEXT, credit TEXT, mentions INT);
            CREATE TABLE postings (kind TEXT, key TEXT, df INT, docs BLOB, counts BLOB,
                                   PRIMARY KEY (kind, key)) WITHOUT ROWID;
            CREATE TABLE arrays (name TEXT PRIMARY KEY, data BLOB);
            """
        )
        self.terms: defaultdict[str, tuple[array, array]] = defaultdict(
            lambda: (array("i"), array("i"))
        )
        self.lists: defaultdict[tuple[str, str], array] = defaultdict(lambda: array("i"))
        self.lengths = array("d")
        # Lookup keys are numbered 2 * position (the name) and 2 * position + 1 (the credit).
        self.gram_counts = array("H")
        self.kinds = array("B")
        self.last_id: str | None = None
        self.finished = False

    def __len__(self) -> int:
        return len(self.kinds)

    def add(self, cards: Sequence[EntityCard]) -> None:
        """Append ``cards``, whose ids must follow every id added before, ascending."""
        for start in range(0, len(cards), INSERT_BATCH):
            rows, names = [], []
            for card in cards[start : start + INSERT_BATCH]:
                if self.last_id is not None and card.id <= self.last_id:
                    raise ValueError(f"card ids must ascend: {card.id!r} after {self.last_id!r}")
                self.last_id, pos = card.id, len(self.kinds)
                rows.append((pos, card.id, card.model_dump_json(exclude={"text"})))
                name, credit = lookup_keys(card)
                names.append((pos, name, credit, card.mentions))
                tokens = lexical_tokens(card)
                self.lengths.append(len(tokens))
                self.kinds.append(KINDS.index(card.kind))
                for term, count in Counter(tokens).items():
                    docs, counts = self.terms[term]
                    docs.append(pos)
                    counts.append(count)
                for number, key in enumerate((name, credit), start=2 * pos):
                    held = grams(key)
                    self.gram_counts.append(min(len(held), np.iinfo(np.uint16).max))
                    for gram in held:
                        self.lists["gram", gram].append(number)
                for community in card.communities:
                    self.lists["community", community].append(pos)
                for alias in alias_keys(card):
                    self.lists["alias", alias].append(pos)
                for credited in {card.id, *map(entity_key, card.artists)}:
                    self.lists["credit", credited].append(pos)
            self.database.executemany("INSERT INTO cards VALUES (?, ?, ?)", rows)
            self.database.executemany("INSERT INTO names VALUES (?, ?, ?, ?)", names)

    def has(self, card_ids: Sequence[str]) -> set[str]:
        """Which of ``card_ids`` were added."""
        found: set[str] = set()
        for chunk in parameter_slices(list(card_ids)):
            marks = ",".join("?" * len(chunk))
            found.update(
                i
                for (i,) in self.database.execute(
                    f"SELECT id FROM cards WHERE id IN ({marks})", chunk
                )
            )
        return found

    def finish(self, catalog_hash: str) -> int:
        """Write postings, arrays and ``catalog_hash``, and put the file in place; returns
        how many cards it holds."""
        database = self.database
        database.executemany(
            "INSERT INTO postings VALUES ('term', ?, ?, ?, ?)",
            (
                (term, len(docs), docs.tobytes(), counts.tobytes())
                for term, (docs, counts) in self.terms.items()
            ),
        )
        database.executemany(
            "INSERT INTO postings VALUES (?, ?, ?, ?, NULL)",
            ((kind, key, len(docs), docs.tobytes()) for (kind, key), docs in self.lists.items()),
        )
        database.executemany(
            "INSERT INTO arrays VALUES (?, ?)",
            [
                ("lengths", np.asarray(self.lengths, dtype=np.float64).tobytes()),
                ("kinds", np.asarray(self.kinds, dtype=np.uint8).tobytes()),
                ("gram_counts", np.asarray(self.gram_counts, dtype=np.uint16).tobytes()),
            ],
        )
        database.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("format", INDEX_FORMAT),
                ("catalog_hash", catalog_hash),
                ("count", str(len(self))),
            ],
        )
        database.commit()
        database.close()
        os.replace(self.temporary, self.path)
        self.finished = True
        return len(self)

    def __enter__(self) -> CardIndexWriter:
        return self

    def __exit__(self, *_: object) -> None:
        if not self.finished:
            self.database.close()
            self.temporary.unlink(missing_ok=True)


def indexed_hash(path: Path) -> str | None:
    """The ``catalog_hash`` the index at ``path`` mirrors (None: missing, or another format)."""
    if not path.is_file():
        return None
    database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(database.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError:
        return None
    finally:
        database.close()
    return meta.get("catalog_hash") if meta.get("format") == INDEX_FORMAT else None


class _DiskPostings:
    """The ``postings`` mapping :meth:`BM25Index.scores` reads, fetched term by term."""

    def __init__(self, index: CardIndex) -> None:
        self.index = index

    def get(self, term: str) -> _Postings | None:
        row = self.index.row(
            "SELECT docs, counts FROM postings WHERE kind = 'term' AND key = ?", (term,)
        )
        if row is None:
            return None
        return _Postings(
            np.frombuffer(row[0], dtype=np.int32).astype(np.int64),
            np.frombuffer(row[1], dtype=np.int32).astype(np.float64),
        )


class DiskBM25(BM25Index):
    """:class:`BM25Index` whose lengths and postings stay on disk until a query needs them."""

    def __init__(self, index: CardIndex, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b, self.index = k1, b, index
        self.postings = _DiskPostings(index)  # type: ignore[assignment]

    @cached_property
    def lengths(self) -> np.ndarray:  # type: ignore[override]
        return self.index.array("lengths", np.float64)


class CardIndex:
    """Read access to one card index file (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._database = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        # Reads through a memory map instead of read() calls: a lookup touches ~2,000 rows
        # scattered over the file (measured at 300k tracks: 15 ms of 30 went to fetching).
        self._database.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        self._lock = threading.Lock()
        self.count = int(self.row("SELECT value FROM meta WHERE key = 'count'")[0])
        self.lexical = DiskBM25(self)

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self._database.close()

    def row(self, sql: str, parameters: Sequence[object] = ()) -> tuple | None:
        with self._lock:
            return self._database.execute(sql, parameters).fetchone()

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._database.execute(sql, parameters).fetchall()

    def array(self, name: str, dtype: type) -> np.ndarray:
        return np.frombuffer(self.row("SELECT data FROM arrays WHERE name = ?", (name,))[0], dtype)

    @cached_property
    def kinds(self) -> np.ndarray:
        return self.array("kinds", np.uint8)

    @cached_property
    def gram_counts(self) -> np.ndarray:
        return self.array("gram_counts", np.uint16)

    # ----- cards -------------------------------------------------------------------------

    def position(self, card_id: str) -> int | None:
        row = self.row("SELECT pos FROM cards WHERE id = ?", (card_id,))
        return None if row is None else int(row[0])

    def positions(self, card_ids: Sequence[str]) -> dict[str, int]:
        """Positions of the ids known here, by id."""
        found: dict[str, int] = {}
        for chunk in parameter_slices(list(card_ids)):
            marks = ",".join("?" * len(chunk))
            found.update(self.rows(f"SELECT id, pos FROM cards WHERE id IN ({marks})", chunk))
        return found

    def ids(self, positions: Sequence[int]) -> list[str]:
        by_position = self._by_position("SELECT pos, id FROM cards", positions)
        return [by_position[p] for p in positions]

    def cards(self, positions: Sequence[int]) -> list[EntityCard]:
        by_position = self._by_position("SELECT pos, card FROM cards", positions)
        return [EntityCard.model_validate_json(by_position[p]) for p in positions]

    def _by_position(self, select: str, positions: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for chunk in parameter_slices([int(p) for p in positions]):
            marks = ",".join("?" * len(chunk))
            found.update(self.rows(f"{select} WHERE pos IN ({marks})", chunk))
        return found

    # ----- filters -----------------------------------------------------------------------

    def listed(self, kind: str, key: str) -> np.ndarray:
        """The positions of a ``community``, ``credit`` or ``alias`` posting list (empty if
        none)."""
        row = self.row("SELECT docs FROM postings WHERE kind = ? AND key = ?", (kind, key))
        return np.frombuffer(row[0], dtype=np.int32) if row else np.zeros(0, dtype=np.int32)

    def mask(self, kind: Kind | None, community: str | None, artist: str | None) -> np.ndarray:
        """The cards the kind, community and artist filters admit (as
        :class:`vectorstore.search.CardFilters` does over cards in memory)."""
        mask = np.ones(self.count, dtype=bool)
        if kind is not None:
            mask &= self.kinds == KINDS.index(kind)
        for facet, value in (
            ("community", community_name(community) if community is not None else None),
            ("credit", entity_key(artist) if artist is not None else None),
        ):
            if value is not None:
                admitted = np.zeros(self.count, dtype=bool)
                admitted[self.listed(facet, value)] = True
                mask &= admitted
        return mask

    # ----- lookup ------------------------------------------------------------------------

    def lookup_candidates(
        self, wanted: str, aliased: Sequence[int] = ()
    ) -> list[tuple[int, str, str, int]]:
        """(position, name key, credit key, mentions) of the cards whose letter pairs overlap
        ``wanted`` (a :func:`loose_key`) most, and of the ``aliased`` positions (the cards
        with ``wanted`` as an alias: :meth:`listed`), by position."""
        aliased = list(aliased)
        query = sorted(grams(wanted))
        if not query:
            return self._names(aliased)
        marks = ",".join("?" * len(query))
        frequencies = self.rows(
            f"SELECT key, df FROM postings WHERE kind = 'gram' AND key IN ({marks})", query
        )
        chosen, budget = [], GRAM_BUDGET
        for gram, df in sorted(frequencies, key=lambda row: (row[1], row[0])):
            if chosen and df > budget:
                break
            chosen.append(gram)
            budget -= df
        if not chosen:
            return self._names(aliased)
        marks = ",".join("?" * len(chosen))
        lists = self.rows(
            f"SELECT docs FROM postings WHERE kind = 'gram' AND key IN ({marks})", chosen
        )
        shared = np.bincount(
            np.concatenate([np.frombuffer(docs, dtype=np.int32) for (docs,) in lists]),
            minlength=2 * self.count,
        )
        keys = np.flatnonzero(shared)
        # Dice overlap of letter pairs, the better of name and credit: the same shape as the
        # ratio lookup ranks by, so the cards it would rank first are among the candidates.
        dice = 2 * shared[keys] / (len(query) + self.gram_counts[keys])
        owners = keys >> 1  # sorted, a card's name and credit side by side
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best, hits = np.maximum.reduceat(dice, starts), owners[starts]
        if len(hits) > LOOKUP_CANDIDATES:
            # The highest overlaps; at the cut, ties go to the lower positions. Linear time:
            # a full sort of the ~10⁶ cards sharing some pair with a name cost 80 ms at 1M.
            cut = np.partition(best, len(best) - LOOKUP_CANDIDATES)[len(best) - LOOKUP_CANDIDATES]
            above = best > cut
            at_cut = np.flatnonzero(best == cut)[: LOOKUP_CANDIDATES - int(above.sum())]
            above[at_cut] = True
            hits = hits[above]
        return self._names(sorted({*hits.tolist(), *aliased}))

    def _names(self, positions: list[int]) -> list[tuple[int, str, str, int]]:
        rows = []
        for chunk in parameter_slices(positions):
            marks = ",".join("?" * len(chunk))
            rows += self.rows(
                f"SELECT pos, name, credit, mentions FROM names WHERE pos IN ({marks})", chunk
            )
        return sorted(rows)


def parameter_slices(values: list, size: int = 900) -> Iterable[list]:
    """Slices small enough for SQLite's limit on bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
