"""Reading MusiCRS threads into clean entity evidence: hygiene, mentions, attribution, aliases.

Conventions
-----------
- Hygiene (:func:`junk_reason`) looks at a name alone. A name is not an entity when it has
  no letter ("#1", "1999", "2+2=5": a letterless name cannot be told from a rank, a year or a
  score), is a rank or decade ("#3", "'93", "3rd", "80s", "top 10"), reads like a sentence
  (seven or more words, mostly lower case, with pronouns or auxiliaries: "He has 4 mixtapes out
  now…"; or any name of :data:`SENTENCE_WORDS_MAX`+ words), or is made only of genre, mood and
  descriptor words ("Hip Hop", "jazz band", "piano tunes", "techno", "Greatest Hits": a
  compilation title says nothing without its artist), or of at most two words that only
  point ("That", "It", "this one", "Any song", "All Songs": :data:`POINTING_WORDS`, with
  at most one form word; hedges aside: "Pretty Much Any Song"), or a possessive alone or
  before career words ("Their first album", "his best song": :data:`POSSESSIVES`,
  :data:`CAREER_WORDS`). An article or any other
  word makes a name ("The Band", "Some Rap Songs", "Blue in Green", "Love"). "Jazz" (also a
  Queen album) goes: by name alone it is the genre, and in MusiCRS it is only ever the genre.
  A name carrying the extractor's note that it guessed ("Metallica (assumed)", "Rush
  (implied)": :data:`GUESS_NOTE`) is no mention: the comment did not name it. An artist's
  other trailing parentheses are a note, not its name ("Jay-Z (Hov)" is Jay-Z).
- A :class:`Mention` is one naming of one entity in one thread: in the request (the
  submission, ``comment`` None, ``role`` "request", 0 votes) or in a reply (``comment`` the t1_
  id, ``role`` "recommended", the comment's votes). One mention per entity per comment.
- Attribution (:class:`Attribution`). The dataset keeps no comment text, only the entities
  each comment named, so the evidence that artist A made song S is: comments naming S also
  name A. Among one entity's co-named artists, spellings of one artist count as one ("taylor"
  and "taylor swift"; "pachebel" and "pachelbel"), the more often named standing for both
  ("Mingus" for "Mingus Sextet"). The leader A (most comments) is credited
  when, against every rival B, the comments naming A but not B are a majority of those
  naming exactly one of them with confidence: the Wilson lower bound (z = 1, one-sided 84 %)
  of that share is at least 1/2. So one comment naming S and A alone is enough (bound exactly
  1/2); one comment naming S with two artists is not (a tie); A in 2 comments against a rival
  in 1 other is not (0.39), 3 against 1 is (1/2), and a rival named in the same list comments
  as A does not count against it. An artist whose words begin or end the title itself
  ("Queen" for "Queen of the Reich", Queensrÿche's), or shares the title's edge word
  ("Whitney Houston" for "Feeling Whitney"), needs two comments: entity extraction
  echoes a title's edge words as artists. Otherwise the artist is unknown: unknown beats wrong, and
  list order never decides. A head-to-head test, not A's share of all comments, because
  MusiCRS comments are often lists of many artists that say nothing against A. A song's
  album follows the same rule over the albums named with it.
- Aliases: two works, or two artists, whose :func:`alias_key` (entity key without accents,
  punctuation, a leading "the") are equal are one entity; two songs or albums credited to
  the same artist are one entity when their alias keys are at least
  :data:`ALIAS_SIMILARITY` % similar (edit ratio), both at least :data:`ALIAS_MIN_CHARS`
  characters long, and carry the same numbers and one-letter words (so "Symphony No. 5"
  and "Symphony No. 6", "Part I" and "Part II", "Ballade in F Minor" and "Ballade in G
  Minor" stay apart). Nicknames, first names and surnames no spelling rule can join
  ("AnCo", "Biggie", "Britney", "Chopin") come from a curated list
  (:data:`vectorstore.nicknames.NICKNAMES`) and join an entity on the same
  side (an artist with an artist, a work with a work) only when the full name is in the data
  too. A group's canonical key is its most
  recommended member's (ties: key order), or a nickname's full name; its display name is
  the commonest spelling of that key.
- Everything is a pure function of the threads given, in any order of threads.
"""

from __future__ import annotations

import argparse
import html
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz

from vectorstore.nicknames import NICKNAMES
from vectorstore.text import canonical_spelling, entity_key, loose_key

Kind = Literal["song", "album", "artist"]
KINDS: tuple[Kind, ...] = ("song", "album", "artist")
Role = Literal["request", "recommended"]

WILSON_Z = 1.0
MIN_SHARE = 0.5
ALIAS_SIMILARITY = 85.0
ALIAS_MIN_CHARS = 8
SENTENCE_MIN_WORDS = 7  # shorter lower-case names are too often real titles typed casually
SENTENCE_WORDS_MAX = 14  # no real title in MusiCRS is this long; fragments of prose are

GENRE_WORDS = frozenset(
    """
    hip hop hiphop rap raps trap jazz jazzy blues rock pop metal punk folk indie emo soul
    funk funky disco house techno trance dubstep dnb ambient electronic electronica edm
    classical baroque opera country rnb r&b reggae ska grunge shoegaze synth synthwave
    vaporwave lofi lo-fi chillhop bap gospel orchestral instrumental instrumentals acoustic
    experimental progressive prog psychedelic psych alternative alt hardcore thrash sludge
    stoner noise drone industrial garage grime drill dance downtempo breakbeat jungle idm
    fusion bebop swing latin bossa electro kpop k-pop jpop j-pop rockabilly bluegrass americana
    hyperpop phonk neoclassical chamber choral avant-garde post-rock post-punk postrock
    metalcore deathcore djent screamo midwest mathrock math-rock new-wave darkwave
    """.split()
)
MOOD_WORDS = frozenset(
    """
    chill chilled sad happy upbeat mellow dark heavy soft hard slow fast calm relaxing
    energetic melancholic melancholy emotional aggressive atmospheric dreamy epic beautiful
    good great best nice cool fun underground mainstream classic old new modern contemporary
    early late live final first second third favorite favourite random obscure popular
    instrumental deep black death free dream smooth minimal avant garde post math wave old-school
    oldschool school boom female male underrated
    """.split()
)
FORM_WORDS = frozenset(
    """
    music musics song songs tune tunes track tracks album albums record records band bands
    artist artists singer singers rapper rappers mixtape mixtapes playlist playlists ep eps
    lp lps single singles stuff vibes vibe beats beat piano guitar violin cello drums bass
    orchestra choir quartet quartets trio trios quintet movement movements version versions
    remix remixes cover covers intro outro interlude skit genre genres sound sounds scene
    tape tapes discography catalog catalogue era stuff collection compilation soundtrack ost
    group groups duo vocals vocal voice lyrics hits hit greatest essential essentials anthology
    demo demos studio middle s/t self-titled
    """.split()
)
#: Words that point at something rather than name it; alone (or with one form word, "any
#: song") they are what a comment said, not a title. "Them" and "Us" are not here: bands
#: and albums are called that.
POINTING_WORDS = frozenset(
    "that this these those it its tha thats that's any every all one ones".split()
)
POINTING_NAME_WORDS = 2
#: Words that only hedge a pointing name ("Pretty Much Any Song", "Literally Anything"):
#: they do not count towards :data:`POINTING_NAME_WORDS`.
HEDGE_WORDS = frozenset(
    "pretty much basically literally almost nearly honestly probably definitely really".split()
)
#: A possessive alone, or before words that only place a record in a career ("Their first
#: album", "his best song", "her debut solo album"), refers to what the comment named
#: elsewhere. A title needs a word of its own: "Your Song", "His Latest Flame" stay.
POSSESSIVES = frozenset("my your his her its our their".split())
CAREER_WORDS = frozenset(
    """
    first second third last latest newest new newer debut early earlier later older old best
    worst solo next previous self-titled whole entire own other
    """.split()
)
CONNECTORS = frozenset("and & n or with / - + x".split())  # "of" makes a title: "Dance of Death"
DESCRIPTORS = GENRE_WORDS | MOOD_WORDS | FORM_WORDS
SENTENCE_WORDS = frozenset(
    """
    i i'm im i've i'd i'll you you're youre u he he's she she's we we're they they're it's
    is are was were am will would should could can can't cant just got gotta have has had
    do does did don't dont doesn't didn't isn't wasn't my your his her their our me him them
    lol lmao because if so but this that there here
    """.split()
)
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
RANK = re.compile(
    r"^(#\s*\d+|no\.?\s*\d+|top\s*\d+|'\d{2}s?|\d{2,4}'?s|\d+(st|nd|rd|th))$", re.IGNORECASE
)
ORDINAL = re.compile(r"^\d+(st|nd|rd|th)$")
WORD = re.compile(r"[\w'’&+/-]+", re.UNICODE)
# What tells numbered works apart: digits, roman numerals, number words, and one-letter
# words (the keys of "Ballade in F Minor" and "Ballade in G Minor").
NUMBERING = re.compile(
    r"\d+|\b([ivx]+|[a-z]|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|"
    r"fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b"
)


#: The extractor's note that it guessed the name ("Metallica (assumed)", "Rush (implied)",
#: "Kanye West (assuming Cudi refers to Kanye West)"): the comment did not name it.
GUESS_NOTE = re.compile(
    r"\((?:assum|presum|implied|inferred|likely|probably|possibly|maybe)[^()]*\)\s*$", re.IGNORECASE
)
#: A note after an artist's name: another name it goes by or a song ("Jay-Z (Hov)", "Solange
#: (Down with the Clique)"). A work's parentheses are part of its title ("Goodbye (live
#: version)", "Dexter (What's His Name?)").
ARTIST_NOTE = re.compile(r"(?<=\S)\s*\([^()]*\)\s*$")


def junk_reason(name: str) -> str | None:
    """Why ``name`` is not a music entity ("no letters", "rank", "sentence",
    "descriptor", "pointing", "guess"), or None for a real name. See the module conventions."""
    if GUESS_NOTE.search(name):
        return "guess"
    text = name.strip().strip("\"'“”‘’*_[]()").strip()
    if not LETTER.search(text):
        return "no letters"
    if RANK.match(text):
        return "rank"
    words = [w for w in WORD.findall(text.replace("’", "'")) if LETTER.search(w) or w.isdigit()]
    lowered = [w.lower() for w in words]
    if len(words) >= SENTENCE_WORDS_MAX or "http" in text.lower():
        return "sentence"
    if len(words) >= SENTENCE_MIN_WORDS and SENTENCE_WORDS.intersection(lowered):
        long_words = [w for w in words if len(w) > 2 and LETTER.match(w)]
        if sum(w[0].isupper() for w in long_words) < len(long_words) / 2:
            return "sentence"
    only_descriptors = all(w in DESCRIPTORS or w in CONNECTORS or ORDINAL.match(w) for w in lowered)
    if lowered and only_descriptors and not MOOD_WORDS.issuperset(lowered):
        return "descriptor"
    pointing = [w for w in lowered if w in POINTING_WORDS]
    unhedged = [w for w in lowered if w not in HEDGE_WORDS]
    if (
        pointing
        and len(unhedged) <= POINTING_NAME_WORDS
        and all(w in POINTING_WORDS or w in FORM_WORDS for w in unhedged)
    ):
        return "pointing"
    rest = lowered[1:]
    if (
        lowered
        and lowered[0] in POSSESSIVES
        and all(w in CAREER_WORDS or w in FORM_WORDS or w in POINTING_WORDS for w in rest)
        and (not rest or any(w in CAREER_WORDS for w in rest))
    ):
        return "pointing"
    return None


def alias_key(name: str) -> str:
    """The key aliases share: :func:`loose_key` without accents."""
    decomposed = unicodedata.normalize("NFKD", loose_key(name))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Mention:
    """One naming of one entity in one thread (see the module conventions)."""

    thread: str
    community: str
    key: str
    kind: Kind
    comment: str | None
    votes: int
    role: Role
    name: str  # as written there


@dataclass(frozen=True)
class Credit:
    """An attribution: the credited key (None = unknown) and the evidence behind it."""

    key: str | None
    support: int  # comments naming the entity and the credited key
    evidence: int  # comments naming the entity and any candidate
    lower_bound: float
    sources: tuple[str, ...] = ()  # threads of the supporting comments


def wilson_lower_bound(successes: int, trials: int, z: float = WILSON_Z) -> float:
    """The Wilson score interval's lower end for ``successes`` out of ``trials``."""
    if trials == 0:
        return 0.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials)


@dataclass
class Attribution:
    """For each entity, the candidate keys (artists, or albums) named in each comment that
    names it; :meth:`credit` decides, optionally as if some keys had never been named."""

    #: entity -> (thread, comment, candidates named with it) per comment naming it
    evidence: defaultdict[str, list[tuple[str, str, frozenset[str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: (thread, comment) -> the entities it names
    works: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    named: Counter[str] = field(default_factory=Counter)  # comments naming each candidate
    _plain: dict[str, Credit] = field(default_factory=dict)  # first-pass credits, no exclusion

    def add(
        self, source: str, comment: str, works: Iterable[str], candidates: Iterable[str]
    ) -> None:
        """Note one comment of thread ``source`` naming the entities ``works`` and the
        ``candidates`` that may have made them."""
        named, self.works[source, comment] = frozenset(candidates), frozenset(works)
        self.named.update(named)
        for key in self.works[source, comment]:
            if named - {key}:
                self.evidence[key].append((source, comment, named - {key}))

    def credit(self, key: str, excluded: Collection[str] = ()) -> Credit:
        """The key credited to ``key`` under the pairwise Wilson rule, over the comments
        naming it that are not mixed lists (:meth:`_mixes`), or an unknown credit."""
        kept = [
            (source, named)
            for source, comment, named in self.evidence.get(key, ())
            if not self._mixes((source, comment), key, named, excluded)
        ]
        return self._decided(key, kept, excluded)

    def _mixes(
        self, comment: tuple[str, str], key: str, named: frozenset[str], excluded: Collection[str]
    ) -> bool:
        """True when ``comment`` names another entity whose credit (before this rule) is an
        artist the comment does not name: its artists are not all named, so pairing ``key``
        with them proves nothing ("John Coltrane" beside "Kind of Blue" and "Bitches Brew")."""
        for other in self.works[comment]:
            if other == key or other in excluded:
                continue
            made_by = self._first(other, excluded).key
            if made_by is not None and not any(
                made_by == n or _one_name(made_by, n) for n in named
            ):
                return True
        return False

    def _first(self, key: str, excluded: Collection[str]) -> Credit:
        every = [(source, named) for source, _, named in self.evidence.get(key, ())]
        if excluded:
            return self._decided(key, every, excluded)
        if key not in self._plain:
            self._plain[key] = self._decided(key, every, ())
        return self._plain[key]

    def _decided(
        self, key: str, evidence: Sequence[tuple[str, frozenset[str]]], excluded: Collection[str]
    ) -> Credit:
        """The pairwise Wilson rule over ``evidence`` (thread, candidates) per comment."""
        comments = [
            (source, named - set(excluded) if excluded else named) for source, named in evidence
        ]
        comments = [(source, named) for source, named in comments if named]
        same = _same_names({candidate for _, named in comments for candidate in named}, self.named)
        comments = [(source, {same[c] for c in named}) for source, named in comments]
        counts = Counter(candidate for _, named in comments for candidate in named)
        if not counts:
            return Credit(None, 0, 0, 0.0)
        best, support = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        bound = min(
            (
                wilson_lower_bound(
                    sum(best in named and rival not in named for _, named in comments),
                    sum((best in named) != (rival in named) for _, named in comments),
                )
                for rival in counts
                if rival != best
            ),
            default=wilson_lower_bound(support, support),
        )
        if bound < MIN_SHARE or (support == 1 and _echoes_title(key, best)):
            return Credit(None, support, len(comments), bound)
        sources = tuple(sorted({s for s, named in comments if best in named}))
        return Credit(best, support, len(comments), bound, sources)


def _echoes_title(key: str, candidate: str) -> bool:
    """True when the title ``key`` starts or ends with the words of ``candidate`` ("queen of
    the reich" and "queen", "ghost reveries" and "ghost"), or the title's last word starts
    the candidate's name or its first word ends it ("feeling whitney" and "whitney
    houston"): entity extraction often reads a title's edge words as an artist, so one such
    comment credits nothing."""
    title, name = key.split(), candidate.split()
    longer = len(title) > len(name)
    return (longer and (title[: len(name)] == name or title[-len(name) :] == name)) or (
        len(title) > 1 and len(name) > 1 and (title[-1] == name[0] or title[0] == name[-1])
    )


def _same_names(candidates: Collection[str], named: Counter[str]) -> dict[str, str]:
    """Candidate -> the candidate standing for it among those co-named with one entity. Two
    candidates are one name when one is a lone word that begins or ends the other ("taylor"
    and "taylor swift", "barber" and "samuel barber") or they are near spellings
    ("pachebel" and "pachelbel"); the more often ``named`` stands for both (ties: the
    longer), so "Taylor Swift" for "Taylor" but "Mingus" for "Mingus Sextet", named once.
    Safe only this locally: among one song's co-named artists, "drake" is not "nick drake"
    by accident often enough to matter, whereas catalog-wide it would be."""
    ordered = sorted(candidates, key=lambda c: (-named[c], -len(c.split()), -len(c), c))
    target: dict[str, str] = {}
    for place, candidate in enumerate(ordered):
        if candidate in target:
            continue
        for other in ordered[place + 1 :]:
            if other not in target and _one_name(candidate, other):
                target[other] = candidate
    return {c: target.get(c, c) for c in candidates}


def _one_name(first: str, second: str) -> bool:
    """True when ``first`` and ``second`` are spellings of one name (see :func:`_same_names`)."""
    for lone, longer in ((first.split(), second.split()), (second.split(), first.split())):
        if len(lone) == 1 < len(longer) and len(lone[0]) > 2 and lone[0] in (longer[0], longer[-1]):
            return True
    folded = alias_key(first)
    return (
        len(folded) >= ALIAS_MIN_CHARS // 2 + 2
        and len(first.split()) == len(second.split())
        and fuzz.ratio(folded, alias_key(second)) >= ALIAS_SIMILARITY
    )


@dataclass
class ThreadEvidence:
    """Everything read from the threads: mentions by canonical key, and what decides
    names, kinds, credits and aliases."""

    mentions: list[Mention]
    names: dict[str, str]  # canonical key -> display spelling
    kinds: dict[str, Kind]
    aliases: dict[str, list[str]]  # canonical key -> other spellings merged into it
    canonical: dict[str, str]  # merged entity key -> its canonical key
    artists: Attribution
    albums: Attribution
    junk: Counter[tuple[str, str]]  # (name, reason) -> times dropped

    def artist_of(self, key: str, excluded: Collection[str] = ()) -> Credit:
        return self.artists.credit(key, excluded) if self.kinds.get(key) != "artist" else _NONE

    def album_of(self, key: str, excluded: Collection[str] = ()) -> Credit:
        return self.albums.credit(key, excluded) if self.kinds.get(key) == "song" else _NONE


_NONE = Credit(None, 0, 0, 0.0)


@dataclass(frozen=True)
class _Raw:
    """A mention before aliases are resolved: its raw entity key and tagged kind."""

    thread: str
    community: str
    key: str
    tagged: Kind | None
    comment: str | None
    votes: int
    name: str


WRAPPERS = {
    '"': '"',
    "\u201c": "\u201d",
    "'": "'",
    "\u2018": "\u2019",
    "*": "*",
    "_": "_",
    "[": "]",
}


def clean_name(name: str, artist: bool = False) -> str:
    """A name as the catalog shows it: trimmed, HTML entities read ("Armor &amp; Sword" is
    "Armor & Sword": Reddit's text escapes them), without wrapping quotes or emphasis
    ("*Kind of Blue*"); a lone leading apostrophe stays ("'Round Midnight"). An ``artist``'s
    trailing parentheses are a note, not its name (:data:`ARTIST_NOTE`)."""
    text = html.unescape(name).strip().strip('"\u201c\u201d').strip()
    while len(text) > 2 and WRAPPERS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return ARTIST_NOTE.sub("", text) if artist and not GUESS_NOTE.search(text) else text


def _raw_mentions(threads: Iterable[object], junk: Counter[tuple[str, str]]) -> list[_Raw]:
    """Every naming in the threads, without junk. A key is junk only when every spelling of
    it is ("so hot you're hurting my feelings" lives on as "So Hot You're Hurting My
    Feelings"), so hygiene never splits one entity key."""
    raw: list[_Raw] = []
    for thread in threads:
        source, community = thread.name, thread.source_subreddit  # type: ignore[attr-defined]
        for name in dict.fromkeys(thread.submission_entities):  # type: ignore[attr-defined]
            clean = clean_name(name)
            raw.append(_Raw(source, community, entity_key(clean), None, None, 0, clean))
        for comment in thread.comments:  # type: ignore[attr-defined]
            seen: set[str] = set()
            for kind, names in (
                ("artist", comment.artists),
                ("album", comment.albums),
                ("song", comment.songs),
            ):
                for name in names:
                    clean = clean_name(name, artist=kind == "artist")
                    key = entity_key(clean)
                    if key not in seen:
                        seen.add(key)
                        votes = int(comment.score)
                        raw.append(_Raw(source, community, key, kind, comment.name, votes, clean))  # type: ignore[arg-type]
    reasons = {m.name: junk_reason(m.name) for m in raw}
    kept = {m.key for m in raw if m.key and reasons[m.name] is None}
    junk.update((m.name, reasons[m.name] or "") for m in raw if m.key and m.key not in kept)
    return [m for m in raw if m.key in kept and reasons[m.name] is None]


def _kinds(raw: Sequence[_Raw], canonical: dict[str, str]) -> dict[str, Kind]:
    """Each key's most often tagged kind (ties: song, album, artist; untagged: song)."""
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for mention in raw:
        counts = votes[canonical.get(mention.key, mention.key)]
        if mention.tagged is not None:
            counts[mention.tagged] += 1
    return {
        key: max(KINDS, key=lambda k: (counts[k], -KINDS.index(k))) for key, counts in votes.items()
    }


def _attributions(
    raw: Sequence[_Raw], canonical: dict[str, str]
) -> tuple[Attribution, Attribution]:
    """Artist and album evidence per comment, over canonical keys."""
    by_comment: defaultdict[tuple[str, str], list[_Raw]] = defaultdict(list)
    for mention in raw:
        if mention.comment is not None:
            by_comment[(mention.thread, mention.comment)].append(mention)
    artists, albums = Attribution(), Attribution()
    for (thread, comment), mentions in by_comment.items():
        named = {(canonical.get(m.key, m.key), m.tagged) for m in mentions}
        tagged_as = {kind: {k for k, tagged in named if tagged == kind} for kind in KINDS}
        works = {k for k, tagged in named if tagged != "artist"}
        artists.add(thread, comment, works, tagged_as["artist"])
        albums.add(thread, comment, tagged_as["song"], tagged_as["album"])
    return artists, albums


def _alias_groups(raw: Sequence[_Raw]) -> dict[str, str]:
    """Raw key -> canonical key for every key merged into another (see conventions)."""
    recommended = Counter(m.key for m in raw if m.comment is not None)
    keys = sorted({m.key for m in raw})
    parent = {key: key for key in keys}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(a: str, b: str, prefer_first: bool = False) -> None:
        first, second = find(a), find(b)
        if first != second:
            by_use = sorted((first, second), key=lambda k: (-recommended[k], k))
            keep, drop = (first, second) if prefer_first else by_use
            parent[drop] = keep

    # Artists apart from works: the song "Impressions" is not the band "The Impressions"
    # (songs and albums do mix: the data often tags an album as a song).
    raw_kinds = _kinds(raw, {})
    by_alias: defaultdict[tuple[str, bool], list[str]] = defaultdict(list)
    for key in keys:
        by_alias[(alias_key(key), raw_kinds[key] == "artist")].append(key)
    for group in by_alias.values():
        for other in group[1:]:
            union(group[0], other)
    for nickname, full in NICKNAMES.items():
        for is_artist in (True, False):
            named, fully = (by_alias.get((alias_key(n), is_artist)) for n in (nickname, full))
            if named and fully:
                union(fully[0], named[0], prefer_first=True)  # "Chance the Rapper", not "Chance"
    kinds = _kinds(raw, {k: find(k) for k in keys})
    artists, _ = _attributions(raw, {k: find(k) for k in keys})
    works: defaultdict[str, list[str]] = defaultdict(list)
    for key in sorted({find(k) for k in keys}):
        if kinds.get(key) != "artist" and (artist := artists.credit(key).key):
            works[artist].append(key)
    for titles in works.values():
        aliased = [(t, alias_key(t)) for t in titles if len(alias_key(t)) >= ALIAS_MIN_CHARS]
        for i, (first, first_alias) in enumerate(aliased):
            for second, second_alias in aliased[i + 1 :]:
                if (
                    _numbering(first_alias) == _numbering(second_alias)
                    and fuzz.ratio(first_alias, second_alias) >= ALIAS_SIMILARITY
                ):
                    union(first, second)
    return {key: find(key) for key in keys if find(key) != key}


def _numbering(alias: str) -> list[str]:
    return [match.group(0) for match in NUMBERING.finditer(alias)]


def read_threads(threads: Iterable[object], merge_aliases: bool = True) -> ThreadEvidence:
    """Read MusiCRS threads (:class:`vectorstore.musicrs.Conversation`-like objects) into
    clean evidence. ``merge_aliases=False`` keeps every entity key apart (the leak-free
    views need that: a merge decided on evidence about an excluded entity would reveal it)."""
    junk: Counter[tuple[str, str]] = Counter()
    raw = _raw_mentions(threads, junk)
    canonical = _alias_groups(raw) if merge_aliases else {}
    kinds = _kinds(raw, canonical)
    artists, albums = _attributions(raw, canonical)
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for mention in raw:
        spellings[canonical.get(mention.key, mention.key)][mention.name] += 1
    names = {key: canonical_spelling(key, counts) for key, counts in spellings.items()}
    aliases = {
        key: sorted(set(counts) - {names[key]}, key=lambda s: (-counts[s], s))
        for key, counts in spellings.items()
        if any(entity_key(s) != key for s in counts)
    }
    mentions = [
        Mention(
            m.thread,
            m.community,
            canonical.get(m.key, m.key),
            kinds[canonical.get(m.key, m.key)],
            m.comment,
            m.votes,
            "request" if m.comment is None else "recommended",
            m.name,
        )
        for m in raw
    ]
    return ThreadEvidence(mentions, names, kinds, aliases, canonical, artists, albums, junk)


def thread_mentions(threads: Iterable[object], merge_aliases: bool = True) -> list[Mention]:
    """Every :class:`Mention` of the threads, junk names left out, aliases merged."""
    return read_threads(threads, merge_aliases).mentions


@dataclass(frozen=True)
class HygieneReport:
    """What reading the threads did to the names they hold."""

    names: int  # distinct keys of the names as the threads spell them (quotes stripped)
    removed: int  # of those, keys left with no entity: every spelling was junk
    merged: int  # of those, keys merged into another entity as an alias
    entities: int
    junk: dict[str, list[str]]  # reason -> junk spellings, sorted
    aliases: dict[str, list[str]]  # display name -> merged spellings


def hygiene_report(threads: Sequence[object]) -> HygieneReport:
    """Count and list what hygiene removed and what alias merging joined."""
    evidence = read_threads(threads)
    spellings: defaultdict[str, set[str]] = defaultdict(set)
    for thread in threads:
        comments = thread.comments  # type: ignore[attr-defined]
        for name in [
            *thread.submission_entities,  # type: ignore[attr-defined]
            *(n for c in comments for n in (*c.artists, *c.albums, *c.songs)),
        ]:
            spellings[entity_key(name.strip().strip('"\u201c\u201d'))].add(name)
    spellings.pop("", None)

    def fate(key: str) -> str:
        clean = {entity_key(clean_name(n, artist)) for n in spellings[key] for artist in (0, 1)}
        keys = {evidence.canonical.get(k, k) for k in clean} & evidence.names.keys()
        return "removed" if not keys else "kept" if key in keys else "merged"

    fates = Counter(fate(key) for key in spellings)
    junk: defaultdict[str, list[str]] = defaultdict(list)
    for name, reason in sorted(evidence.junk):
        junk[reason].append(name)
    return HygieneReport(
        len(spellings),
        fates["removed"],
        fates["merged"],
        len(evidence.names),
        dict(junk),
        {evidence.names[k]: v for k, v in sorted(evidence.aliases.items())},
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m vectorstore.entities --data FILE``: hygiene and alias figures."""
    from vectorstore.musicrs import load_conversations

    parser = argparse.ArgumentParser(
        prog="python -m vectorstore.entities", description="Catalog hygiene report."
    )
    parser.add_argument("--data", help="MusiCRS JSONL (default $MUSICRS_DATA)")
    parser.add_argument("--sample", type=int, default=12, help="names shown per list")
    args = parser.parse_args(argv)
    report = hygiene_report(load_conversations(args.data))
    print(
        f"{report.names} distinct names: {report.removed} removed as junk, {report.merged} "
        f"merged as aliases, {report.entities} entities"
    )

    def sample(items: Sequence[str]) -> list[str]:
        return list(items[:: max(1, len(items) // args.sample)][: args.sample])

    for reason, names in sorted(report.junk.items()):
        print(f"{reason} ({len(names)} spellings): " + " | ".join(sample(names)))
    print(f"alias groups ({len(report.aliases)}):")
    for name in sample(list(report.aliases)):
        print(f"  {name} <- {' | '.join(report.aliases[name])}")


if __name__ == "__main__":
    main()
