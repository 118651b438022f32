"""A user's track file turned into cards chunk by chunk, never all of them in memory.

Conventions
-----------
- :class:`TrackFileCards` stages the file once, on first use, in two SQLite files of its
  own in the folder it is given (``.tracks-<pid>.sqlite3`` and ``.tracks-<pid>.cards.sqlite3``,
  deleted by :meth:`close`): every validated row and every name a row gives (key,
  spelling, row) in the first, then every card as JSON in the second. A bad row raises
  the :class:`vectorstore.errors.CatalogError` :func:`vectorstore.cards.read_user_tracks`
  raises, before any card is made.
- Rendering is spread over one process per core (:func:`vectorstore.workers.worker_count`)
  once the file has at least :data:`PARALLEL_FROM` chunks of entities: each reads the rows
  file (so the cards go to a file of their own, which the build process writes
  meanwhile), and the chunks come back in key order. Cards are the same either way.
- Cards equal :func:`vectorstore.cards.cards_from_tracks` over the whole file: they are
  rendered :data:`CHUNK_CARDS` entities at a time, each chunk from every row naming one of
  them (so their own facts, kinds and related lists are complete), with the display names
  of the other entities they name counted over the whole file.
- :meth:`TrackFileCards.chunks` yields them in ascending id order, :data:`CHUNK_CARDS` at a
  time, read back from the staging file: iterating again is cheap (the build reads them
  twice: its catalog hash, then its work).
- Memory: the rows of one chunk and their builder, whatever the file's size.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from vectorstore.card_index import parameter_slices
from vectorstore.cards import (
    TRACK_RELATED,
    EntityCard,
    TrackRow,
    _CardBuilder,
    add_track,
    iter_user_tracks,
    spelling,
)
from vectorstore.text import best_spelling
from vectorstore.workers import WorkerProcesses, serve, worker_count

CHUNK_CARDS = 5000  # cards rendered at a time: a few MB of rows and facts
PARALLEL_FROM = 3  # chunks: below it, starting the render processes costs more than it saves
_INSERT_ROWS = 10_000


class TrackFileCards:
    """The cards of the track file at ``path``, staged in ``folder`` (see the module);
    ``progress``: bars while the file is read and its cards rendered (minutes at 1M)."""

    def __init__(
        self, path: str | os.PathLike[str], folder: str | os.PathLike[str], progress: bool = False
    ) -> None:
        self.path, self.folder, self.progress = Path(path), Path(folder), progress
        self._database: sqlite3.Connection | None = None
        self._file = self.folder / f".tracks-{os.getpid()}.sqlite3"
        self._cards_file = self._file.with_suffix(".cards.sqlite3")

    def chunks(self) -> Iterator[list[EntityCard]]:
        """The cards, by id, :data:`CHUNK_CARDS` at a time."""
        database = self._staged()
        last = ""
        while True:
            rows = database.execute(
                "SELECT id, card FROM staged.cards WHERE id > ? ORDER BY id LIMIT ?",
                (last, CHUNK_CARDS),
            ).fetchall()
            if not rows:
                return
            yield [EntityCard.model_validate_json(card) for _, card in rows]
            last = rows[-1][0]

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None
        self._file.unlink(missing_ok=True)
        self._cards_file.unlink(missing_ok=True)

    def __enter__(self) -> TrackFileCards:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _staged(self) -> sqlite3.Connection:
        if self._database is not None:
            return self._database
        self.folder.mkdir(parents=True, exist_ok=True)
        self.close()
        database = sqlite3.connect(self._file)
        try:
            database.execute("ATTACH DATABASE ? AS staged", (str(self._cards_file),))
            database.executescript(
                """
                PRAGMA journal_mode = OFF;
                PRAGMA synchronous = OFF;
                PRAGMA staged.journal_mode = OFF;
                PRAGMA staged.synchronous = OFF;
                CREATE TABLE rows (number INTEGER PRIMARY KEY, row TEXT);
                CREATE TABLE names (key TEXT, spelling TEXT, number INTEGER);
                CREATE TABLE staged.cards (id TEXT PRIMARY KEY, card TEXT) WITHOUT ROWID;
                """
            )
            rows, names = [], []
            reading = tqdm(desc="reading tracks", unit=" tracks", disable=not self.progress)
            with reading:
                for number, row in enumerate(iter_user_tracks(self.path)):
                    rows.append((number, json.dumps(_fields(row))))
                    for name in (row.title, *row.artists, *([row.album] if row.album else [])):
                        clean, key = spelling(name)
                        if key:
                            names.append((key, clean, number))
                    if len(rows) >= _INSERT_ROWS:
                        reading.update(len(rows))
                        _insert(database, rows, names)
                reading.update(len(rows))
                _insert(database, rows, names)
            database.execute("CREATE INDEX names_by_key ON names (key, number)")
            database.commit()  # the render processes read the rows from here on
            ranges, entities = _key_ranges(database)
            rendering = tqdm(
                total=entities, desc="rendering cards", unit=" cards", disable=not self.progress
            )
            with rendering:
                for cards in _rendered(self._file, ranges, database):
                    database.executemany("INSERT INTO staged.cards VALUES (?, ?)", cards)
                    rendering.update(len(cards))
            database.commit()
        except BaseException:
            database.close()
            self.close()
            raise
        self._database = database
        return database


def _key_ranges(database: sqlite3.Connection) -> tuple[list[tuple[str, str]], int]:
    """The first and last key of every chunk of :data:`CHUNK_CARDS` entities, in order, and
    the number of entities."""
    ranges, chunk, entities = [], [], 0
    for (key,) in database.execute("SELECT DISTINCT key FROM names ORDER BY key"):
        chunk.append(key)
        entities += 1
        if len(chunk) == CHUNK_CARDS:
            ranges.append((chunk[0], chunk[-1]))
            chunk = []
    return ([*ranges, (chunk[0], chunk[-1])] if chunk else ranges), entities


def _rendered(
    rows_file: Path, ranges: list[tuple[str, str]], database: sqlite3.Connection
) -> Iterator[list[tuple[str, str]]]:
    """The (id, card JSON) of every chunk, in key order: in this process (on ``database``)
    for a few chunks, else from worker processes reading ``rows_file``."""
    if len(ranges) < PARALLEL_FROM:
        for bounds in ranges:
            yield _render_range(database, bounds)
        return
    died = "A card render process died (out of memory?); run the build again."
    with WorkerProcesses(__name__, [str(rows_file)], worker_count(), died) as workers:
        jobs = ([bounds] for bounds in ranges)
        # Few rendered chunks held: two per worker waiting.
        for (cards,) in workers.pipelined(jobs, 2 * len(workers.processes)):
            yield cards


def _render_range(database: sqlite3.Connection, bounds: tuple[str, str]) -> list[tuple[str, str]]:
    """The (id, card JSON) of the entities whose keys lie within ``bounds``, each card
    rendered from every row naming it (so its facts, kind and related list are complete),
    with the display names of the other entities they name counted over the whole file."""
    keys = [
        key
        for (key,) in database.execute(
            "SELECT DISTINCT key FROM names WHERE key BETWEEN ? AND ? ORDER BY key", bounds
        )
    ]
    numbers = sorted(
        {
            number
            for (number,) in database.execute(
                "SELECT number FROM names WHERE key BETWEEN ? AND ?", bounds
            )
        }
    )
    builder, mine = _CardBuilder(), set(keys)
    for chunk in parameter_slices(numbers):
        marks = ",".join("?" * len(chunk))
        for (row,) in database.execute(
            f"SELECT row FROM rows WHERE number IN ({marks}) ORDER BY number", chunk
        ):
            add_track(builder, TrackRow(*_row_fields(row)), rendered=mine)
    named = {key for group in builder.cooccurrence.groups.values() for key in group}
    cards = builder.cards(TRACK_RELATED, keys, _display_names(database, sorted(named - mine)))
    return [(card.id, card.model_dump_json(exclude={"text"})) for card in cards]


def _display_names(database: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    """Each key's display name, over the whole file."""
    spellings: dict[str, Counter[str]] = {}
    for chunk in parameter_slices(keys):
        marks = ",".join("?" * len(chunk))
        for key, written, count in database.execute(
            f"SELECT key, spelling, COUNT(*) FROM names WHERE key IN ({marks}) "
            "GROUP BY key, spelling",
            chunk,
        ):
            spellings.setdefault(key, Counter())[written] = count
    return {key: best_spelling(counts) for key, counts in spellings.items()}


def _fields(row: TrackRow) -> list[object]:
    return [row.source, row.title, row.artists, row.album, row.tags, row.youtube_url]


def _row_fields(text: str) -> tuple[object, ...]:
    source, title, artists, album, tags, url = json.loads(text)
    return source, title, tuple(artists), album, tuple(tags), url


def _insert(database: sqlite3.Connection, rows: list, names: list) -> None:
    database.executemany("INSERT INTO rows VALUES (?, ?)", rows)
    database.executemany("INSERT INTO names VALUES (?, ?, ?)", names)
    rows.clear()
    names.clear()


def _serve_renders(rows_file: str) -> None:
    """A render worker: each task is the bounds of a chunk of keys, each result its cards."""

    def start() -> Callable[[tuple[str, str]], list[tuple[str, str]]]:
        rows = sqlite3.connect(f"file:{rows_file}?mode=ro", uri=True)
        return lambda bounds: _render_range(rows, bounds)

    serve(start)


if __name__ == "__main__":
    _serve_renders(sys.argv[1])
