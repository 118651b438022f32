"""Entity cards: what the catalog knows about one song, album or artist, and where from.

Conventions
-----------
- A card's ``id`` is :func:`vectorstore.text.entity_key` of its name; one card per id. Its
  ``kind`` is the kind it was most often mentioned as (ties: song, album, artist).
- Lists that carry counts (``artists``, ``albums``, ``communities``, ``related``) are most
  frequent first, ties by name, so a card never depends on input order. ``communities``
  counts the threads recommending the entity there (not the comments); its ties go first
  to the community of the better-voted recommending comment.
- ``provenance`` maps each fact to the sorted sources it came from: ``"mention"``,
  ``"artist:<name>"``, ``"album:<name>"``, ``"community:<name>"``, ``"youtube:<url>"``,
  ``"related:<name>"``, ``"tag:<name>"``. A MusiCRS source is a thread id (``t3_…``); a user
  file's source is ``<file name>:<row>``.
- From MusiCRS (read by :mod:`vectorstore.entities`: junk names dropped, aliases merged): a
  comment's entities are recommendations; ``artists`` (and a song's ``albums``) hold the one
  credit the evidence supports, or nothing (see the attribution rule there; never list
  order); ``aliases`` are the other spellings merged in; ``threads`` cite every thread
  naming the entity: recommended there (best comment votes) or only mentioned in the request,
  recommended first, most votes first; every entity of a thread (submission and comments) is
  ``related`` to the others; a submission's markdown ``[title](youtube url)`` gives ``title``
  its YouTube link. ``mentions`` counts the comments recommending the entity; a name only
  ever seen in submissions has 0.
- ``text`` is derived from the other fields, so a redacted card re-renders itself.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from vectorstore.entities import (
    KINDS,
    Attribution,
    Kind,
    ThreadEvidence,
    clean_name,
    read_threads,
)
from vectorstore.errors import CatalogError
from vectorstore.text import canonical_spelling, entity_key

__all__ = ["KINDS", "Kind"]  # re-exported: the catalog's kinds live with the evidence
TEXT_RELATED = 6  # related names shown in a card's text: enough context, still short
TRACK_RELATED = 40  # related names a user file's card keeps
MARKDOWN_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]+)\)")
YOUTUBE = re.compile(r"^https?://(www\.|m\.|music\.)?(youtube\.com|youtu\.be)/", re.IGNORECASE)


class ThreadRef(BaseModel):
    """A thread that named an entity: where a reply can point."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    community: str
    role: Literal["recommended", "mentioned"]
    votes: int = 0  # best votes of the comments recommending it there (0 if only mentioned)


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
    aliases: list[str] = []
    threads: list[ThreadRef] = []
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

    def with_credits(
        self, artist: tuple[str, Sequence[str]] | None, album: tuple[str, Sequence[str]] | None
    ) -> EntityCard:
        """This card crediting ``artist`` and ``album`` ((name, sources) or None), only."""
        provenance = {
            f: s for f, s in self.provenance.items() if not f.startswith(("artist:", "album:"))
        }
        for prefix, credit in (("artist", artist), ("album", album)):
            if credit:
                provenance[f"{prefix}:{credit[0]}"] = list(credit[1])
        return self.model_copy(
            update={
                "artists": [artist[0]] if artist else [],
                "albums": [album[0]] if album else [],
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
    aliases: list[str] = field(default_factory=list)
    threads: dict[str, ThreadRef] = field(default_factory=dict)
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


def recommended_mostly_in(threads_in: Mapping[str, int], refused: Collection[str]) -> bool:
    """True when one of ``refused`` recommended an entity in as many threads as any other
    community (``threads_in``: community → threads recommending it there). A tie counts:
    what r/indieheads recommends as often as anyone is not "nothing indie"."""
    most = max(threads_in.values(), default=0)
    return most > 0 and any(threads_in.get(community, 0) == most for community in refused)


def spelling(name: str) -> tuple[str, str]:
    """A name as written (outer spaces and quotes dropped) and its key ("" if blank)."""
    clean = name.strip().strip('"\u201c\u201d').strip()
    return clean, entity_key(clean)


class _CardBuilder:
    """Accumulates facts by entity key, then renders cards."""

    def __init__(self) -> None:
        self.facts: defaultdict[str, _Facts] = defaultdict(_Facts)
        self.cooccurrence = Cooccurrence()
        self.display: dict[str, str] = {}  # key -> best spelling, filled by spelling()

    def entity(self, name: str, kind: Kind | None) -> str | None:
        """Register a spelling (and a kind vote); returns its key, or None for blank names."""
        return self.counted(*spelling(name), kind)

    def counted(self, clean: str, key: str, kind: Kind | None) -> str | None:
        """:meth:`entity` for a name :func:`spelling` already split into its parts."""
        if not key:
            return None
        facts = self.facts[key]
        facts.spellings[clean] += 1
        if kind is not None:
            facts.kinds[kind] += 1
        return key

    def name_of(self, key: str) -> str:
        return canonical_spelling(key, self.facts[key].spellings)

    def cards(
        self,
        related_cap: int | None,
        keys: Iterable[str] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> list[EntityCard]:
        """Render every entity (or only ``keys``, each of whose sources was read), by key;
        ``related`` keeps the ``related_cap`` most shared sources. ``names`` gives the
        display name of entities whose every spelling this builder did not see."""
        display = {key: self.name_of(key) for key in self.facts} | dict(names or {})

        def ordered(counts: Counter[str]) -> list[str]:
            return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

        cards = []
        for key in sorted(self.facts if keys is None else keys):
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
                    communities=_by_threads_then_votes(facts.communities, facts.threads),
                    tags=ordered(facts.tags),
                    mentions=facts.mentions,
                    youtube_urls=list(dict.fromkeys(facts.youtube)),
                    related=[display[k] for k, _ in related],
                    aliases=facts.aliases,
                    threads=sorted(
                        facts.threads.values(),
                        key=lambda t: (t.role != "recommended", -t.votes, t.id),
                    ),
                    provenance={fact: sorted(provenance[fact]) for fact in sorted(provenance)},
                )
            )
        return cards


def _by_threads_then_votes(
    communities: Counter[str], threads: Mapping[str, ThreadRef]
) -> list[str]:
    """Communities by threads recommending the entity there; a tie goes to the one whose
    best recommending comment has more votes ("Happy", one thread in each of four
    communities, is first r/indieheads', +19), then by name."""
    votes: Counter[str] = Counter()
    for thread in threads.values():
        if thread.role == "recommended":
            votes[thread.community] = max(votes[thread.community], thread.votes)
    return sorted(communities, key=lambda c: (-communities[c], -votes[c], c))


def cards_from_threads(threads: Iterable[object], related_cap: int | None = 40) -> list[EntityCard]:
    """Cards from MusiCRS conversations (:class:`vectorstore.musicrs.Conversation`-like objects);
    ``related`` keeps the ``related_cap`` entities sharing most threads (None keeps all)."""
    return _read_threads(threads, merge_aliases=True)[0].cards(related_cap)


@dataclass
class CatalogFacts:
    """What a leak-free view needs to serve cards as if some entities had never been named:
    cards without ``related`` or credits' exclusions, the co-occurrences and the credit
    evidence to recompute them."""

    cards: list[EntityCard]
    cooccurrence: Cooccurrence
    artists: Attribution
    albums: Attribution

    def credited(
        self, card: EntityCard, excluded: Collection[str], names: dict[str, str]
    ) -> EntityCard:
        """``card`` with its artist and album credited from the evidence without ``excluded``
        (``names`` maps keys to display names)."""
        credits = []
        for evidence, applies in (
            (self.artists, card.kind != "artist"),
            (self.albums, card.kind == "song"),
        ):
            credit = evidence.credit(card.id, excluded) if applies else None
            credits.append((names[credit.key], credit.sources) if credit and credit.key else None)
        return card.with_credits(*credits)


def facts_from_threads(threads: Iterable[object]) -> CatalogFacts:
    """Cards without ``related``, and the evidence to compute ``related`` and credits on
    demand (the leak-free views need that: a list or a credit computed before excluding some
    entities would let the exclusion show). Aliases stay apart: a merge is decided on artist
    evidence, which may name an excluded entity."""
    builder, evidence = _read_threads(threads, merge_aliases=False)
    return CatalogFacts(
        builder.cards(related_cap=0), builder.cooccurrence, evidence.artists, evidence.albums
    )


def _read_threads(
    threads: Iterable[object], merge_aliases: bool
) -> tuple[_CardBuilder, ThreadEvidence]:
    threads = list(threads)
    evidence = read_threads(threads, merge_aliases)
    builder = _CardBuilder()
    for key, name in evidence.names.items():
        facts = builder.facts[key]
        facts.spellings[name] = 1
        facts.kinds[evidence.kinds[key]] = 1
        facts.aliases = evidence.aliases.get(key, [])
    urls = {t.name: t.url for t in threads}  # type: ignore[attr-defined]
    in_thread: defaultdict[str, set[str]] = defaultdict(set)
    for mention in evidence.mentions:
        source, community = mention.thread, mention.community
        facts = builder.facts[mention.key]
        in_thread[source].add(mention.key)
        recommended = mention.role == "recommended"
        known = facts.threads.get(source)
        if recommended and not (known and known.role == "recommended"):
            # Threads, not comments: one thread of fans naming a singer five times does not
            # make the singer that community's more than four threads elsewhere.
            facts.communities[community] += 1
        if recommended:
            best = known.votes if known and known.role == "recommended" else mention.votes
            facts.threads[source] = ThreadRef(
                id=source,
                url=urls[source],
                community=community,
                role="recommended",
                votes=max(best, mention.votes),
            )
        elif known is None:
            facts.threads[source] = ThreadRef(
                id=source, url=urls[source], community=community, role="mentioned"
            )
        if recommended:
            facts.mentions += 1
            facts.note("mention", source)
            facts.note(f"community:{community}", source)
    for key, facts in builder.facts.items():
        for counts, credit, prefix in (
            (facts.artists, evidence.artist_of(key), "artist"),
            (facts.albums, evidence.album_of(key), "album"),
        ):
            if credit.key is not None:
                counts[credit.key] = credit.support
                facts.provenance[f"{prefix}:{credit.key}"].update(credit.sources)
    for thread in threads:
        source = thread.name  # type: ignore[attr-defined]
        builder.cooccurrence.add(source, in_thread.get(source, ()))
        for title, url in MARKDOWN_LINK.findall(thread.combined_text):  # type: ignore[attr-defined]
            key = entity_key(clean_name(title))
            key = evidence.canonical.get(key, key)
            if YOUTUBE.match(url) and key in builder.facts:
                builder.facts[key].youtube.append(url)
                builder.facts[key].note(f"youtube:{url}", source)
    return builder, evidence


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
    return list(iter_user_tracks(path))


def iter_user_tracks(path: str | Path) -> Iterator[TrackRow]:
    """:func:`read_user_tracks` one row at a time (a bad row raises when it is reached)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"Track file {path} does not exist; pass a CSV or JSONL file of tracks.")
    if path.suffix.lower() not in {".csv", ".jsonl", ".json"}:
        raise CatalogError(f"Track file {path} should end in .csv or .jsonl.")
    empty = True
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for number, record in _user_records(handle, path):
                empty = False
                yield _track_row(record, f"{path.name}:{number}")
    except UnicodeDecodeError:
        raise CatalogError(
            f"Track file {path} is not UTF-8 text; save it as UTF-8 and retry."
        ) from None
    if empty:
        raise CatalogError(f"Track file {path} holds no tracks.")


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


def cards_from_tracks(rows: Iterable[TrackRow]) -> list[EntityCard]:
    """Cards from a user's tracks: one per song, artist and album named in the rows."""
    builder = _CardBuilder()
    for row in rows:
        add_track(builder, row)
    return builder.cards(related_cap=TRACK_RELATED)


def add_track(builder: _CardBuilder, row: TrackRow, rendered: Container[str] | None = None) -> None:
    """The facts one track gives its song, artists and album; with ``rendered``, only those
    of the entities among these keys (a track file's cards are rendered a chunk of keys at
    a time, :mod:`vectorstore.track_stream`: the other entities' facts would be thrown
    away, and their keys still count as co-occurring)."""

    def kept(key: str) -> bool:
        return rendered is None or key in rendered

    def key_of(name: str, kind: Kind) -> str | None:
        clean, key = spelling(name)
        return builder.counted(clean, key, kind) if kept(key) else key or None

    song = key_of(row.title, "song")
    artists = [k for k in (key_of(a, "artist") for a in row.artists) if k]
    album = key_of(row.album, "album") if row.album else None
    if song is None:
        return
    named = [song, *artists, *([album] if album else [])]
    builder.cooccurrence.add(row.source, named)
    for key in filter(kept, named):
        facts = builder.facts[key]
        facts.mentions += 1
        facts.note("mention", row.source)
        for tag in row.tags:
            facts.tags[tag] += 1
            facts.note(f"tag:{tag}", row.source)
    for key in filter(kept, (song, *([album] if album else []))):
        for artist in artists:
            builder.facts[key].artists[artist] += 1
            builder.facts[key].note(f"artist:{artist}", row.source)
    if not kept(song):
        return
    if album:
        builder.facts[song].albums[album] += 1
        builder.facts[song].note(f"album:{album}", row.source)
    if row.youtube_url:
        builder.facts[song].youtube.append(row.youtube_url)
        builder.facts[song].note(f"youtube:{row.youtube_url}", row.source)
