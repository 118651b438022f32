"""Entity cards: what the catalog knows about one song, album or artist, and where from.

Conventions
-----------
- A card's ``id`` is :func:`vectorstore.text.entity_key` of its name; one card per id. Its
  ``kind`` is the kind it was most often mentioned as (ties: song, album, artist).
- Lists that carry counts (``artists``, ``albums``, ``communities``, ``related``) are most
  frequent first, ties by name, so a card never depends on input order.
- ``provenance`` maps each fact to the sorted sources it came from: ``"mention"``,
  ``"artist:<name>"``, ``"album:<name>"``, ``"community:<name>"``, ``"youtube:<url>"``,
  ``"related:<name>"``, ``"tag:<name>"``. A MusiCRS source is a thread id (``t3_…``); a user
  file's source is ``<file name>:<row>``.
- From MusiCRS: a comment's entities are recommendations; artists and albums named in the
  same comment are attributed to its songs (and artists to its albums); every entity of a
  thread (submission and comments) is ``related`` to the others; a submission's markdown
  ``[title](youtube url)`` gives ``title`` its YouTube link. ``mentions`` counts the
  comments recommending the entity; a name only ever seen in submissions has 0.
- ``text`` is derived from the other fields, so a redacted card re-renders itself.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from vectorstore.errors import CatalogError
from vectorstore.text import entity_key

Kind = Literal["song", "album", "artist"]
KINDS: tuple[Kind, ...] = ("song", "album", "artist")
TEXT_RELATED = 6  # related names shown in a card's text: enough context, still short
MARKDOWN_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]+)\)")
YOUTUBE = re.compile(r"^https?://(www\.|m\.|music\.)?(youtube\.com|youtu\.be)/", re.IGNORECASE)


class EntityCard(BaseModel):
    """One music entity with its facts and their sources."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    kind: Kind
    artists: list[str] = []
    albums: list[str] = []
    communities: list[str] = []
    tags: list[str] = []
    mentions: int = 0
    youtube_urls: list[str] = []
    related: list[str] = []
    provenance: dict[str, list[str]] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        """A one-line rendering for embedding into lexical search and for showing a model."""
        parts = [f"{self.name} ({self.kind})"]
        if self.artists:
            parts.append("by " + ", ".join(self.artists[:3]))
        if self.albums:
            parts.append("album " + ", ".join(self.albums[:2]))
        if self.tags:
            parts.append("tags " + ", ".join(self.tags[:5]))
        if self.communities:
            parts.append("in " + ", ".join(f"r/{c}" for c in self.communities[:3]))
        if self.related:
            parts.append("with " + ", ".join(self.related[:TEXT_RELATED]))
        return "; ".join(parts)

    @property
    def embedding_text(self) -> str:
        """What the dense index embeds: the name and its main artist. Kept this short on
        purpose: MiniLM on 2 CPU cores costs ~0.3 ms per token and the whole MusiCRS catalog
        (21k cards) must build in 90 s; the richer :attr:`text` goes to the lexical index."""
        if self.kind != "artist" and self.artists:
            return f"{self.name} by {self.artists[0]}"
        return self.name

    def with_related(self, related: Sequence[tuple[str, Sequence[str]]]) -> EntityCard:
        """This card with ``related`` replaced by (name, sources) pairs, provenance too."""
        provenance = {f: s for f, s in self.provenance.items() if not f.startswith("related:")}
        provenance |= {f"related:{name}": list(sources) for name, sources in related}
        return self.model_copy(
            update={
                "related": [name for name, _ in related],
                "provenance": dict(sorted(provenance.items())),
            }
        )

    def redacted(self, excluded: Collection[str]) -> EntityCard:
        """This card without any fact naming an entity whose key is in ``excluded``."""

        def keep(names: list[str]) -> list[str]:
            return [n for n in names if entity_key(n) not in excluded]

        artists, albums, related = keep(self.artists), keep(self.albums), keep(self.related)
        dropped = {
            f"{prefix}:{name}"
            for prefix, names in (
                ("artist", self.artists),
                ("album", self.albums),
                ("related", self.related),
            )
            for name in names
            if entity_key(name) in excluded
        }
        if not dropped:
            return self
        provenance = {
            fact: sources for fact, sources in self.provenance.items() if fact not in dropped
        }
        return self.model_copy(
            update={
                "artists": artists,
                "albums": albums,
                "related": related,
                "provenance": provenance,
            }
        )


@dataclass
class _Facts:
    """Counts gathered for one entity while reading sources."""

    spellings: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    mentions: int = 0
    artists: Counter[str] = field(default_factory=Counter)
    albums: Counter[str] = field(default_factory=Counter)
    communities: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    youtube: list[str] = field(default_factory=list)
    provenance: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def note(self, fact: str, source: str) -> None:
        self.provenance[fact].add(source)


@dataclass
class Cooccurrence:
    """Which entities share a source (a thread, or a user file's row): ``related`` facts.

    Kept apart from the cards so that a view can recompute an entity's related list without
    some entities, exactly as if they had never been in the sources."""

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source -> entity keys
    sources: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, source: str, keys: Iterable[str]) -> None:
        group = tuple(sorted(set(keys) | set(self.groups.get(source, ()))))
        for key in set(group) - set(self.groups.get(source, ())):
            self.sources[key].append(source)
        self.groups[source] = group

    def related(
        self, key: str, cap: int | None, excluded: Collection[str] = ()
    ) -> list[tuple[str, list[str]]]:
        """The entities sharing most sources with ``key``, with those sources; ties keep the
        order of first co-occurrence, which removing other entities cannot change."""
        counts: Counter[str] = Counter()
        for source in self.sources.get(key, ()):
            counts.update(self.groups[source])
        del counts[key]
        for other in excluded:
            counts.pop(other, None)
        ranked = counts.most_common(cap)
        mine = set(self.sources.get(key, ()))
        return [(other, sorted(mine.intersection(self.sources[other]))) for other, _ in ranked]


class _CardBuilder:
    """Accumulates facts by entity key, then renders cards."""

    def __init__(self) -> None:
        self.facts: defaultdict[str, _Facts] = defaultdict(_Facts)
        self.cooccurrence = Cooccurrence()
        self.display: dict[str, str] = {}  # key -> best spelling, filled by spelling()

    def entity(self, name: str, kind: Kind | None) -> str | None:
        """Register a spelling (and a kind vote); returns its key, or None for blank names."""
        clean = name.strip().strip('"\u201c\u201d').strip()
        key = entity_key(clean)
        if not key:
            return None
        facts = self.facts[key]
        facts.spellings[clean] += 1
        if kind is not None:
            facts.kinds[kind] += 1
        return key

    def name_of(self, key: str) -> str:
        spellings = self.facts[key].spellings
        return min(spellings, key=lambda s: (-spellings[s], s))

    def cards(self, related_cap: int | None) -> list[EntityCard]:
        """Render every entity; ``related`` keeps the ``related_cap`` most shared sources."""
        display = {key: self.name_of(key) for key in self.facts}

        def ordered(counts: Counter[str]) -> list[str]:
            return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

        cards = []
        for key in sorted(self.facts):
            facts = self.facts[key]
            kind = max(KINDS, key=lambda k: (facts.kinds[k], -KINDS.index(k)))
            related = self.cooccurrence.related(key, related_cap) if related_cap != 0 else []
            provenance = {
                fact: sources
                for fact, sources in facts.provenance.items()
                if not fact.startswith(("artist:", "album:"))
            }
            for prefix, keys in (("artist", facts.artists), ("album", facts.albums)):
                for other in keys:
                    provenance[f"{prefix}:{display[other]}"] = facts.provenance[f"{prefix}:{other}"]
            for other, sources in related:
                provenance[f"related:{display[other]}"] = sources
            cards.append(
                # Built from checked parts by this code: skip pydantic's validation, which
                # costs ~2 s over MusiCRS's 21k cards on every (re)build.
                EntityCard.model_construct(
                    id=key,
                    name=display[key],
                    kind=kind,
                    artists=[display[k] for k in ordered(facts.artists)],
                    albums=[display[k] for k in ordered(facts.albums)],
                    communities=ordered(facts.communities),
                    tags=ordered(facts.tags),
                    mentions=facts.mentions,
                    youtube_urls=list(dict.fromkeys(facts.youtube)),
                    related=[display[k] for k, _ in related],
                    provenance={fact: sorted(provenance[fact]) for fact in sorted(provenance)},
                )
            )
        return cards


def cards_from_threads(threads: Iterable[object], related_cap: int | None = 40) -> list[EntityCard]:
    """Cards from MusiCRS conversations (:class:`vectorstore.musicrs.Conversation`-like objects);
    ``related`` keeps the ``related_cap`` entities sharing most threads (None keeps all)."""
    return _read_threads(threads).cards(related_cap)


def facts_from_threads(threads: Iterable[object]) -> tuple[list[EntityCard], Cooccurrence]:
    """Cards without ``related``, and the co-occurrences to compute it on demand (the
    leak-free views need that: a capped list computed before excluding some entities would
    let the exclusion promote others into it)."""
    builder = _read_threads(threads)
    return builder.cards(related_cap=0), builder.cooccurrence


def _read_threads(threads: Iterable[object]) -> _CardBuilder:
    builder = _CardBuilder()
    for thread in threads:
        source, community = thread.name, thread.source_subreddit  # type: ignore[attr-defined]
        in_thread: set[str] = set()
        for name in thread.submission_entities:  # type: ignore[attr-defined]
            key = builder.entity(name, None)
            if key:
                in_thread.add(key)
        for comment in thread.comments:  # type: ignore[attr-defined]
            named = [
                (key, kind)
                for kind, names in (
                    ("artist", comment.artists),
                    ("album", comment.albums),
                    ("song", comment.songs),
                )
                for key in (builder.entity(n, kind) for n in names)
                if key
            ]
            artists = {k for k, kind in named if kind == "artist"}
            albums = {k for k, kind in named if kind == "album"}
            for key, kind in dict.fromkeys(named):
                facts = builder.facts[key]
                facts.mentions += 1
                facts.communities[community] += 1
                facts.note("mention", source)
                facts.note(f"community:{community}", source)
                attributed = [] if kind == "artist" else [("artist", a) for a in artists]
                attributed += [("album", a) for a in albums] if kind == "song" else []
                for prefix, other in attributed:
                    if other != key:
                        (facts.artists if prefix == "artist" else facts.albums)[other] += 1
                        facts.note(f"{prefix}:{other}", source)
                in_thread.add(key)
        builder.cooccurrence.add(source, in_thread)
        for title, url in MARKDOWN_LINK.findall(thread.combined_text):  # type: ignore[attr-defined]
            key = entity_key(title.strip().strip('"'))
            if YOUTUBE.match(url) and key in builder.facts:
                builder.facts[key].youtube.append(url)
                builder.facts[key].note(f"youtube:{url}", source)
    return builder


USER_FIELDS = {
    "title": ("title", "name", "track", "song"),
    "artist": ("artist", "artists"),
    "album": ("album",),
    "tags": ("tags", "genre", "genres"),
    "youtube_url": ("youtube_url", "youtube", "url"),
}


@dataclass(frozen=True)
class TrackRow:
    """One validated row of a user's track file."""

    source: str
    title: str
    artists: tuple[str, ...] = ()
    album: str = ""
    tags: tuple[str, ...] = ()
    youtube_url: str = ""


def read_user_tracks(path: str | Path) -> list[TrackRow]:
    """Read a user's CSV or JSONL of tracks (``title`` required; ``artist``, ``album``,
    ``genre``/``tags``, ``youtube_url`` optional), or raise :class:`CatalogError` naming the row."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"Track file {path} does not exist; pass a CSV or JSONL file of tracks.")
    if path.suffix.lower() not in {".csv", ".jsonl", ".json"}:
        raise CatalogError(f"Track file {path} should end in .csv or .jsonl.")
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            raw = list(_user_records(handle, path))
    except UnicodeDecodeError:
        raise CatalogError(
            f"Track file {path} is not UTF-8 text; save it as UTF-8 and retry."
        ) from None
    rows = [_track_row(record, f"{path.name}:{number}") for number, record in raw]
    if not rows:
        raise CatalogError(f"Track file {path} holds no tracks.")
    return rows


def _user_records(handle: Iterable[str], path: Path) -> Iterable[tuple[int, object]]:
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {f.strip().lower() for f in reader.fieldnames} & set(
            USER_FIELDS["title"]
        ):
            raise CatalogError(f"Track file {path} needs a header row with a 'title' column.")
        for record in reader:
            if None in record:
                raise CatalogError(
                    f"{path.name}:{reader.line_num}: the row has more cells than the header; "
                    "quote commas inside values."
                )
            yield reader.line_num, {k.strip().lower(): v for k, v in record.items() if k}
        return
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise CatalogError(f"{path.name}:{number}: not valid JSON ({error.msg}).") from None


def _track_row(record: object, source: str) -> TrackRow:
    if not isinstance(record, dict):
        raise CatalogError(f"{source}: a track must be an object with at least a 'title'.")

    def value(field_name: str) -> object:
        return next(
            (record[k] for k in USER_FIELDS[field_name] if record.get(k) not in (None, "")), None
        )

    def strings(field_name: str, separators: str) -> tuple[str, ...]:
        raw = value(field_name)
        if raw is None:
            return ()
        items = re.split(f"[{separators}]", raw) if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise CatalogError(f"{source}: '{field_name}' should be text or a list of text.")
        return tuple(i.strip() for i in items if i.strip())

    title = value("title")
    if not isinstance(title, str) or not title.strip():
        raise CatalogError(f"{source}: 'title' is missing or empty; every track needs a title.")
    url = value("youtube_url")
    if url is not None and (not isinstance(url, str) or not YOUTUBE.match(url.strip())):
        raise CatalogError(f"{source}: 'youtube_url' {url!r} is not a YouTube link.")
    album = value("album")
    if album is not None and not isinstance(album, str):
        raise CatalogError(f"{source}: 'album' should be text.")
    # Artist names contain commas ("Earth, Wind & Fire"), so only ";" and "|" separate them.
    artists, tags = strings("artist", ";|"), strings("tags", ";,|")
    return TrackRow(
        source, title.strip(), artists, (album or "").strip(), tags, (url or "").strip()
    )


def cards_from_tracks(rows: Sequence[TrackRow]) -> list[EntityCard]:
    """Cards from a user's tracks: one per song, artist and album named in the rows."""
    builder = _CardBuilder()
    for row in rows:
        song = builder.entity(row.title, "song")
        artists = [k for k in (builder.entity(a, "artist") for a in row.artists) if k]
        album = builder.entity(row.album, "album") if row.album else None
        if song is None:
            continue
        named = [song, *artists, *([album] if album else [])]
        builder.cooccurrence.add(row.source, named)
        for key in named:
            facts = builder.facts[key]
            facts.mentions += 1
            facts.note("mention", row.source)
            for tag in row.tags:
                facts.tags[tag] += 1
                facts.note(f"tag:{tag}", row.source)
        for key in (song, *([album] if album else [])):
            for artist in artists:
                builder.facts[key].artists[artist] += 1
                builder.facts[key].note(f"artist:{artist}", row.source)
        if album:
            builder.facts[song].albums[album] += 1
            builder.facts[song].note(f"album:{album}", row.source)
        if row.youtube_url:
            builder.facts[song].youtube.append(row.youtube_url)
            builder.facts[song].note(f"youtube:{row.youtube_url}", row.source)
    return builder.cards(related_cap=40)
