"""A user's track file turned into cards chunk by chunk, never all of them in memory.

Conventions
-----------
- :class:`TrackFileCards` stages the file once, on first use, in a SQLite file of its own
  (``.tracks-<pid>.sqlite3`` in the folder it is given, deleted by :meth:`close`): every
  validated row, every name a row gives (key, spelling, row), then every card as JSON. A
  bad row raises the :class:`vectorstore.errors.CatalogError`
  :func:`vectorstore.cards.read_user_tracks` raises, before any card is made.
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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vectorstore.card_index import parameter_slices
from vectorstore.cards import (
    TRACK_RELATED,
    EntityCard,
    TrackRow,
    _CardBuilder,
    add_track,
    best_spelling,
    iter_user_tracks,
    spelling,
)

CHUNK_CARDS = 5000  # cards rendered at a time: a few MB of rows and facts
_INSERT_ROWS = 10_000


class TrackFileCards:
    """The cards of the track file at ``path``, staged in ``folder`` (see the module)."""

    def __init__(self, path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> None:
        self.path, self.folder = Path(path), Path(folder)
        self._database: sqlite3.Connection | None = None
        self._file = self.folder / f".tracks-{os.getpid()}.sqlite3"

    def chunks(self) -> Iterator[list[EntityCard]]:
        """The cards, by id, :data:`CHUNK_CARDS` at a time."""
        database = self._staged()
        last = ""
        while True:
            rows = database.execute(
                "SELECT id, card FROM cards WHERE id > ? ORDER BY id LIMIT ?", (last, CHUNK_CARDS)
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

    def __enter__(self) -> TrackFileCards:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _staged(self) -> sqlite3.Connection:
        if self._database is not None:
            return self._database
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file.unlink(missing_ok=True)
        database = sqlite3.connect(self._file)
        try:
            database.executescript(
                """
                PRAGMA journal_mode = OFF;
                PRAGMA synchronous = OFF;
                CREATE TABLE rows (number INTEGER PRIMARY KEY, row TEXT);
                CREATE TABLE names (key TEXT, spelling TEXT, number INTEGER);
                CREATE TABLE cards (id TEXT PRIMARY KEY, card TEXT) WITHOUT ROWID;
                """
            )
            rows, names = [], []
            for number, row in enumerate(iter_user_tracks(self.path)):
                rows.append((number, json.dumps(_fields(row))))
                for name in (row.title, *row.artists, *([row.album] if row.album else [])):
                    clean, key = spelling(name)
                    if key:
                        names.append((key, clean, number))
                if len(rows) >= _INSERT_ROWS:
                    _insert(database, rows, names)
            _insert(database, rows, names)
            database.execute("CREATE INDEX names_by_key ON names (key, number)")
            for cards in self._rendered(database):
                database.executemany(
                    "INSERT INTO cards VALUES (?, ?)",
                    [(card.id, card.model_dump_json(exclude={"text"})) for card in cards],
                )
            database.commit()
        except BaseException:
            database.close()
            self._file.unlink(missing_ok=True)
            raise
        self._database = database
        return database

    def _rendered(self, database: sqlite3.Connection) -> Iterator[list[EntityCard]]:
        """Every card, :data:`CHUNK_CARDS` entities at a time, by key."""
        last = ""
        while True:
            keys = [
                key
                for (key,) in database.execute(
                    "SELECT DISTINCT key FROM names WHERE key > ? ORDER BY key LIMIT ?",
                    (last, CHUNK_CARDS),
                )
            ]
            if not keys:
                return
            yield self._render(database, keys)
            last = keys[-1]

    def _render(self, database: sqlite3.Connection, keys: list[str]) -> list[EntityCard]:
        numbers = sorted(
            {
                number
                for (number,) in database.execute(
                    "SELECT number FROM names WHERE key BETWEEN ? AND ?", (keys[0], keys[-1])
                )
            }
        )
        builder = _CardBuilder()
        for chunk in parameter_slices(numbers):
            marks = ",".join("?" * len(chunk))
            for (row,) in database.execute(
                f"SELECT row FROM rows WHERE number IN ({marks}) ORDER BY number", chunk
            ):
                add_track(builder, TrackRow(*_row_fields(row)))
        mine = set(keys)
        others = sorted(key for key in builder.facts if key not in mine)
        return builder.cards(TRACK_RELATED, keys, _display_names(database, others))


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
