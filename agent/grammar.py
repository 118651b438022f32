"""A small grammar that reads one chat message into a typed :class:`ParsedMessage`.

It recognises what a conversation about music keeps coming back to, and nothing more:

- rejections: "not X", "no X", "other than X", "except X", "without X", "I already know X",
  "no more X", "nothing by X", "X is not for me", "I don't like X", "enough X";
- references to earlier recommendations: "the second one", "the 2nd", "#2", "number 2",
  "the first/last one", "more like that" / "more like those" (the whole last list); a
  reference in a question ("why the first one?", "how come #2?") asks for the reason
  (``asks_why``), not for more, and "who sings the third one?" who made it (``asks_who``);
  one after a rejecting word ("not that first one", "skip #2", "I don't like the third")
  refuses that pick (``refused_references``);
- questions about a name ("what is Slowdive like?", "who are Boards of Canada", "tell me
  about Kind of Blue": ``asks_about``; the name is a seed too), or about a pick ("tell me
  more about the first one": ``asks_about_pick``, explained as "why" is); a bare "why?"
  after picks asks about the whole list;
- a wish for something else ("other bands", "something different", "not that", "nah, not
  those": ``wants_others``);
- refused styles: "not pop", "no more metal", "nothing indie" (``refused_communities``, by
  genre word);
- "surprise me", "dealer's choice", "something random" (``surprise``): a community's most
  recommended names, the community chosen in turn (:data:`SURPRISE_COMMUNITIES`);
- "more by X" / "other songs by X" / "something by X" (the seed's own artist is then allowed back);
- the kind asked for: albums, artists (bands, singers), songs (tracks); a kind after
  "rather than", "instead of" or "not" is the one *not* wanted;
- mood, tempo and instrument descriptors ("darker", "more upbeat", "slower", "chill",
  "with piano"); one after a negation ("isn't too heavy", "less dark") is not asked for
  and takes back the same mood asked before (``refused_descriptors``), and the reply says
  that what a record does not sound like is not checked;
- wishes the catalog cannot check (vocals, a record's age or decade, "early Radiohead",
  how well known it is: "less mainstream", its length: "something shorter"): named by
  :func:`unchecked_wishes` and no topic of their own, so "something more modern" adjusts
  the request it follows;
- genre words that name one of the catalog's communities ("jazz" → ``jazz``); styles no
  request of the data names ("shoegaze") also have the names they are best known by
  (:data:`STYLE_EXAMPLES`);
- prompt injection: sentences that ask for the prompt, instructions or a key are set apart
  (``injection``) and left out of ``music``, so a mixed message still has its music part;
- seeds: names the user likes (quoted titles and capitalised word runs that are not
  rejections), plus what "I already know X" names (a taste, though never recommended);
  a genre or mood word inside a name is the name's ("MF DOOM" asks for no doom metal);
- phrases that may be names typed in lower case, for the catalog to decide
  (:mod:`agent.names`): after "I like" and the like, or alone (:func:`typed_names`),
  anywhere else (:func:`loose_names`), after "something by" (:func:`typed_artists`).

Conventions: pure functions, no catalog access (names are resolved later, by the engine
and the guard); the same text always gives the same result; rejection and seed names keep
the user's spelling; descriptors and kinds are lower-case canonical words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from vectorstore.engine import typed_parts
from vectorstore.entities import RANK

Kind = Literal["song", "album", "artist"]

#: Sentences that try to steer the model rather than ask for music.
INJECTION = re.compile(
    r"(ignore (all |any |your |the |previous |prior |above |earlier )*"
    r"(instructions|rules|prompts?|messages)|system prompt|developer (message|prompt)|"
    r"api[ _-]?key|reveal your|(print|show|repeat|tell me) (me )?(your|the) "
    r"(prompt|instructions|rules|system)|you are now|jailbreak)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")

KIND_WORDS: dict[str, Kind] = {
    "album": "album",
    "albums": "album",
    "lp": "album",
    "lps": "album",
    "records": "album",
    "record": "album",
    "artist": "artist",
    "artists": "artist",
    "band": "artist",
    "bands": "artist",
    "musician": "artist",
    "musicians": "artist",
    "singer": "artist",
    "singers": "artist",
    "groups": "artist",
    "song": "song",
    "songs": "song",
    "track": "song",
    "tracks": "song",
    "tune": "song",
    "tunes": "song",
    "single": "song",
    "singles": "song",
}
_KIND = re.compile(r"\b(" + "|".join(sorted(KIND_WORDS, key=len, reverse=True)) + r")\b", re.I)
_KIND_REFUSED = re.compile(
    r"\b(rather than|instead of|not|no more|no|fewer|less|enough)\s+(any\s+|the\s+)?("
    + "|".join(sorted(KIND_WORDS, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)

#: Mood and tempo words, as the canonical descriptor each spelling maps to.
DESCRIPTORS: dict[str, str] = {
    "darker": "darker",
    "dark": "dark",
    "moodier": "moodier",
    "heavier": "heavier",
    "heavy": "heavy",
    "lighter": "lighter",
    "softer": "softer",
    "gentler": "gentler",
    "calmer": "calmer",
    "calm": "calm",
    "chill": "chill",
    "chiller": "chill",
    "mellow": "mellow",
    "mellower": "mellow",
    "upbeat": "upbeat",
    "happier": "happier",
    "happy": "happy",
    "sadder": "sadder",
    "sad": "sad",
    "faster": "faster",
    "fast": "fast",
    "slower": "slower",
    "slow": "slow",
    "energetic": "energetic",
    "aggressive": "aggressive",
    "angrier": "aggressive",
    "dreamy": "dreamy",
    "dreamier": "dreamy",
    "weirder": "weirder",
    "experimental": "experimental",
    "acoustic": "acoustic",
    "modern": "modern",
    "newer": "modern",
    "older": "older",
    "classic": "classic",
    "danceable": "danceable",
    "groovier": "groovier",
    "groovy": "groovy",
    "louder": "louder",
    "quieter": "quieter",
    "atmospheric": "atmospheric",
    "melancholic": "melancholic",
    "uplifting": "uplifting",
    "hopeful": "uplifting",
    "melodic": "melodic",
    "cheerful": "happy",
    "romantic": "romantic",
    # Instruments refine a request as moods do: "something with piano" after jazz picks.
    "piano": "piano",
    "guitar": "guitar",
    "acoustic guitar": "acoustic guitar",
    "saxophone": "saxophone",
    "sax": "saxophone",
    "trumpet": "trumpet",
    "strings": "strings",
    "violin": "violin",
    "cello": "cello",
    "organ": "organ",
    "synth": "synths",
    "synths": "synths",
    "harp": "harp",
}
_DESCRIPTOR = re.compile(
    r"\b(" + "|".join(sorted(DESCRIPTORS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
#: Before a descriptor, a negation that takes it back ("isn't too heavy", "less dark").
_NEGATION = (
    r"\b(?:not|isn't|isnt|aren't|arent|never|no|less|without|nothing)"
    r"(?:\s+(?:too|so|very|that|overly|being|as|all that))?"
)
_NEGATED = re.compile(_NEGATION + r"\s*$", re.IGNORECASE)

#: Genre words and the catalog community (subreddit) where such requests are answered.
GENRES: dict[str, str] = {
    "jazz": "jazz",
    "jazzier": "jazz",  # "like Radiohead but jazzier" ("jazzy hip hop" stays hip hop)
    "bebop": "jazz",
    "hard bop": "jazz",
    "modal jazz": "jazz",
    "fusion": "jazz",
    "swing": "jazz",
    "metal": "metal",
    "doom": "metal",
    "sludge": "metal",
    "thrash": "metal",
    "black metal": "metal",
    "death metal": "metal",
    "metalcore": "metal",
    "hip hop": "hiphopheads",
    "hip-hop": "hiphopheads",
    "hiphop": "hiphopheads",
    "rap": "hiphopheads",
    "rapper": "hiphopheads",
    "rappers": "hiphopheads",
    "trap": "hiphopheads",
    "classical": "classicalmusic",
    "baroque": "classicalmusic",
    "symphony": "classicalmusic",
    "symphonies": "classicalmusic",
    "concerto": "classicalmusic",
    "opera": "classicalmusic",
    "orchestral": "classicalmusic",
    "chamber music": "classicalmusic",
    "post-rock": "postrock",
    "post rock": "postrock",
    "postrock": "postrock",
    "ambient": "ambientmusic",
    "drone": "ambientmusic",
    "electronic": "electronicmusic",
    "techno": "electronicmusic",
    "house music": "electronicmusic",
    "idm": "electronicmusic",
    "edm": "electronicmusic",
    "synthwave": "electronicmusic",
    "synthpop": "popheads",
    "synth-pop": "popheads",
    "synth pop": "popheads",
    "britpop": "indieheads",
    "new wave": "indieheads",
    "indie": "indieheads",
    "indie rock": "indieheads",
    "pop": "popheads",
    "k-pop": "popheads",
    "kpop": "popheads",
    # Styles named by no request of the data, mapped to where their bands are recommended
    # (Slowdive, My Bloody Valentine and Beach House mostly in r/indieheads).
    "shoegaze": "indieheads",
    "dream pop": "indieheads",
    "dream-pop": "indieheads",
    "post-punk": "indieheads",
    "math rock": "postrock",
    "r&b": "hiphopheads",
    "rnb": "hiphopheads",
    "boom bap": "hiphopheads",
    "lo-fi hip hop": "hiphopheads",  # Nujabes, J Dilla
    "instrumental hip hop": "hiphopheads",
    "jazz piano": "jazz",
    "lofi hip hop": "hiphopheads",
    "lofi": "hiphopheads",
    "trip hop": "electronicmusic",  # Portishead, Massive Attack, Tricky
    "trip-hop": "electronicmusic",
    "triphop": "electronicmusic",
    "downtempo": "electronicmusic",  # Bonobo, Emancipator
    "dubstep": "electronicmusic",
    "drum and bass": "electronicmusic",
    "dnb": "electronicmusic",
    "trance": "electronicmusic",
    "power metal": "metal",
    "stoner metal": "metal",
    "deathcore": "metal",
    "grindcore": "metal",
    "big band": "jazz",
    "free jazz": "jazz",
    "bossa nova": "jazz",
    "string quartet": "classicalmusic",
    "choral": "classicalmusic",
}
#: Styles no request of the data names, and the names each is best known by (general
#: knowledge; each checked in the MusiCRS catalog by tests/test_agent_probes.py): what
#: those were recommended with stands for the style, and they may be picks themselves.
_STYLE_NAMES: dict[str, tuple[str, ...]] = {
    "shoegaze": ("My Bloody Valentine", "Slowdive"),
    "dream pop": ("Beach House", "Cocteau Twins", "Mazzy Star", "Alvvays"),
    "trip hop": ("Portishead", "Massive Attack", "Tricky"),
    "post-punk": ("Joy Division", "Interpol", "The Cure", "Wire", "Television"),
    "math rock": ("Battles", "American Football", "Toe"),
    "downtempo": ("Bonobo", "Emancipator", "Tycho"),
    "lo-fi hip hop": ("Nujabes", "J Dilla"),
    "instrumental hip hop": ("DJ Shadow", "J Dilla", "Madlib", "Nujabes"),
    "jazz piano": ("Bill Evans", "Herbie Hancock", "Ahmad Jamal", "Brad Mehldau"),
    "k-pop": ("BTS", "Blackpink", "Twice", "Red Velvet"),
    "black metal": ("Bathory", "Emperor", "Darkthrone", "Wolves in the Throne Room"),
    "opera": ("Puccini", "Verdi", "Richard Wagner", "Rossini"),
}
_STYLE_SPELLINGS = {
    "kpop": "k-pop",
    "dream-pop": "dream pop",
    "trip-hop": "trip hop",
    "triphop": "trip hop",
    "lofi hip hop": "lo-fi hip hop",
    "lofi": "lo-fi hip hop",
}
STYLE_EXAMPLES: dict[str, tuple[str, ...]] = _STYLE_NAMES | {
    spelling: _STYLE_NAMES[style] for spelling, style in _STYLE_SPELLINGS.items()
}
#: The communities a surprise draws from, in the order it goes through them.
SURPRISE_COMMUNITIES: tuple[str, ...] = tuple(sorted(set(GENRES.values())))
#: "surprise me", "dealer's choice": nothing to go on but a wish to be surprised.
_SURPRISE = re.compile(
    r"\b(?:surprise me|dealer'?s choice|you (?:pick|choose|decide)|something random|"
    r"anything random|random (?:music|stuff|songs?|picks?|albums?|artists?))\b",
    re.IGNORECASE,
)
_GENRE_WORDS = "|".join(re.escape(g) for g in sorted(GENRES, key=len, reverse=True))
_GENRE = re.compile(r"(?<![\w-])(" + _GENRE_WORDS + r")(?![\w-])", re.IGNORECASE)
#: "nothing indie", "no jazz please": "no" refuses a style word as it refuses a capitalised
#: name (see _REJECT_BEFORE, which reads it only before names, so "no idea" is no rejection).
_NO_GENRE = re.compile(
    r"\b(?:no|nothing|zero)\s+(?:more\s+)?(" + _GENRE_WORDS + r")(?![\w-])", re.IGNORECASE
)

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
    "6th": 6, "7th": 7, "8th": 8, "9th": 9, "10th": 10,
}  # fmt: skip
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "2": 2, "3": 3, "4": 4, "5": 5}
#: "not the first two", "more like the top three": the first N picks.
_FIRST_N = re.compile(
    r"\b(?:the\s+)?(?:first|top)\s+(" + "|".join(_COUNTS) + r")\b"
    r"(?:\s+(?:ones|picks|songs|albums|artists|tracks|bands))?",
    re.IGNORECASE,
)
_ORDINAL_REF = re.compile(
    r"\b(?:the\s+)?(" + "|".join(_ORDINALS) + r"|last)\s+(one|pick|suggestion|recommendation"
    r"|song|album|artist|track|band|card)\b|\b(?:the\s+)?("
    + "|".join(_ORDINALS)
    + r")\b(?=\s*[,.!?]|\s*$)",
    re.IGNORECASE,
)
#: Words that, just before a reference, refuse the pick rather than ask for more like it.
_REFUSING_LEAD = re.compile(
    r"\b(?:not|no|nope|drop|skip|remove|lose|without|except|besides|other than|anything but|"
    r"hate|dislike|(?:do not|don't|dont) (?:like|want|care for))\s+"
    r"(?:(?:that|this|the|those|these|about|to)\s+)*$",
    re.IGNORECASE,
)
_NUMBER_REF = re.compile(r"(?:#\s?|\bnumber\s+|\bno\.\s?|\bpick\s+|\boption\s+)(\d{1,2})\b", re.I)
#: "other bands", "something else": with a rejection and nothing else, the rejected name is
#: the taste to depart from (see :meth:`agent.state.SessionState.begin_turn`).
_WANTS_OTHERS = re.compile(r"\b(?:other|others|else|different|instead|alternatives?)\b", re.I)
#: "not that", "nah, not those": the last picks are not it (they are never offered again
#: anyway), something else is wanted.
_NOT_THAT = re.compile(
    r"\b(?:(?:nah|nope|no)\W+)?not\s+(?:that|those|these|this|it|them)\b(?=\s*(?:[,.!?;]|$))",
    re.IGNORECASE,
)
#: "why the first one?", "how come #2?": a question about an earlier pick, not a request.
_WHY = re.compile(r"^\W*(?:why|how come|what makes|what's special about|explain)\b", re.I)
#: "who sings the third one?", "who made #2", "the second one, who is it by?": a question
#: about who made an earlier pick.
_WHO = re.compile(
    r"(?:^\W*|[,;:.!?-]\s*|\b(?:and|so|but)\s+)"  # opening the message or a clause
    r"(?:who(?:'s|\s+is|\s+are)?\s+(?:sings?|sang|made|makes|plays?|played|performs?|"
    r"performed|wrote|writes|did|does|recorded|behind|it\s+by|by)|who(?:'s|\s+is|\s+are)\s+"
    r"(?=the\s+\w+\s+(?:one|pick|song|album|track)|#|number)|what\s+(?:band|artist|group|"
    r"singer|rapper|composer)\b)",
    re.IGNORECASE,
)
#: "what is Slowdive like?", "who are Boards of Canada", "tell me about Kind of Blue": a
#: question about a name (the first one named after it), answered from its card.
_ABOUT = re.compile(
    r"\b(?:what(?:'s|\s+is|\s+are)(?=[^?.!]*\blike\b)|who(?:'s|\s+is|\s+are|\s+was|\s+were)"
    r"|tell\s+me\s+(?:more\s+)?about|what\s+do\s+you\s+know\s+about"
    r"|(?:have|did)\s+you\s+(?:ever\s+)?heard\s+(?:of|about))\s+(?P<rest>[^?.!]+)",
    re.IGNORECASE,
)
_THAT_REF = re.compile(
    r"\b(more|something|anything|stuff|others?)\s+(like|similar to)\s+(that|those|these|them|it)\b"
    r"|\bmore of (that|those|these|them)\b",
    re.IGNORECASE,
)
#: "something by …", "songs from …": an artist's own works follow.
_WORKS_BY = r"\b(?:something|anything|songs?|albums?|tracks?|stuff|music)\s+(?:by|from)\s+"
_MORE_BY = re.compile(
    r"\b(?:more|other|another|different|else)\s+(?:\w+\s+)?(?:by|from)\s+(?P<name>[^,.;!?]+)"
    # "something by Radiohead", "songs by Daft Punk" (a name: "songs from the 80s" is none).
    r"|" + _WORKS_BY + r"(?P<own>(?-i:[A-Z\"“])[^,.;!?]+)"
    # "where do I start with Bach?", "a good starting point for Bach": Bach's own works.
    r"|\b(?:start(?:ing)?\s+point|entry\s+point|where\s+(?:do\s+i\s+|should\s+i\s+|to\s+)?"
    r"start|introduction|get(?:ting)?\s+into)\s+(?:for|with|to|into|on)?\s*"
    r"(?P<start>[^,.;!?]+)"
    # "the best Beatles album", "Radiohead's best songs": the artist's own (the kind word
    # stays to be read).
    r"|\b(?:best|favou?rite|greatest|top|essential)\s+(?P<best>(?-i:[A-Z])[^,.;!?]*?)"
    r"(?=\s+(?:albums?|songs?|tracks?|records?)\b)"
    r"|(?P<whose>(?-i:[A-Z])[^,.;!?]*?)['’]s\s+(?=(?:best|greatest|top|essential)\s+"
    r"(?:albums?|songs?|tracks?|records?)\b)"
    # "their best album?", "his songs": the works of the artist the request goes by.
    r"|\b(?P<their>their|his|her|its)\s+(?=(?:(?:best|greatest|top|essential|favou?rite|"
    r"other|own)\s+)?(?:albums?|songs?|tracks?|records?)\b)",
    re.IGNORECASE,
)
#: What points at a taste: "I like …", "I'm into …", "songs like …" (the names after it
#: may be typed in lower case, which the capitalised-run reading misses).
_TASTE = re.compile(
    r"\b(?:i\s+(?:really\s+|also\s+)?(?:like|love|dig|enjoy|adore)|i'?m\s+(?:really\s+)?"
    r"(?:into|a\s+(?:big\s+|huge\s+)?fan\s+of|obsessed\s+with)|(?:big\s+)?fan\s+of|"
    r"(?:something|anything|songs?|music|stuff|artists?|bands?|albums?|more)\s+"
    r"(?:like|similar\s+to))\s+(?P<taste>[^,.;!?]+)",
    re.IGNORECASE,
)
#: Where a taste's names end: "radiohead but jazzier", "bjork for a rainy day".
_TASTE_END = re.compile(
    r"\s+(?:but|for|with|because|though|although|when|while|that|who|which|if|so|please|"
    r"lately|recently|a lot|too|as well)\b.*$",
    re.IGNORECASE,
)
#: "play something by radiohead": an artist's own works, the name in lower case.
_BY_TYPED = re.compile(
    _WORKS_BY + r"(?P<name>[^,.;!?]+)",
    re.IGNORECASE,
)
#: A message this short with nothing else in it may be a name alone ("radiohead").
LONE_NAME_WORDS = 4
#: When to listen, not whom: never read as a name when typed in lower case ("rain" is a
#: mood here, not the singer Rain).
_OCCASIONS = frozenset(
    """
    rain rainy storm snow summer winter autumn fall spring night nights morning evening
    sunday weekend party parties gym workout running run study studying sleep sleeping work
    working driving drive road trip beach coffee dinner cooking reading focus travel
    """.split()
)

#: Words of a chat that join no lower-case name ("what should I play at a party").
_CHAT_WORDS = frozenset("play playing put at as should would will need".split())

#: "more by them", "something else by that band": the artist the request goes by.
_SAME_ARTIST = re.compile(
    r"^(?:them|him|her|it|their|his|its|(?:that|this|the same) (?:artist|band|singer|rapper|"
    r"group|guy|guys|composer))$",
    re.IGNORECASE,
)

# Phrases that reject what follows them. "no" alone only before a capitalised name or a
# quote, so "no idea" or "no problem" are not rejections.
_REJECT_BEFORE = re.compile(
    r"(?:(?i:\b(?:not|other than|except(?: for)?|besides|apart from|anything but|without|"
    r"nothing (?:by|from)|no more(?: of)?|enough(?: of)?|skip|avoid|"
    r"(?:i|i've|i have|i'm|im)\s+(?:already\s+(?:have|own)|(?:already\s+)?(?:know|heard|"
    r"have heard|tired of|sick of))|"
    r"i (?:do not|don't|dont) (?:like|want|care for)|i (?:hate|dislike))\s+)"
    r"|\b(?i:no)\s+(?=[\"“A-Z]))"
    r"(?!(?i:sure|really|too|very|so|quite|that|this|much|bad|into|a|an|just|only|"
    r"my (?:thing|taste|style|cup|jam|favou?rite)|"
    r"yet|even|now|at all|like|for|in|exactly|necessarily|what|as|more|less)\b"
    # "not the fast ones" or "not their later stuff" is no name; "not The Beatles" is.
    r"|(?i:the|their|his|her|its|your|our)\s+[a-z])"
    r"(?P<name>[^,.;!?]+)",
)
_KNOWN = re.compile(r"\b(?:already\s+(?:know|heard|have|own)|know|heard|tired of|sick of)\b", re.I)
_REJECT_AFTER = re.compile(
    r"(?P<name>[\"“]?[A-Z][^,.;!?]*?)\s+(?:is|are|was|were)\s+(?:not for me|not my thing|too \w+|"
    r"boring|overrated|not what i want)",
)
#: Words that end a rejected name ("not Radiohead please" → "Radiohead").
_ITSELF = re.compile(r"\b(?:itself|himself|herself|themselves)\b", re.IGNORECASE)
_NAME_STOP = re.compile(
    r"\s+(?:please|pls|anymore|any more|again|though|thanks|either|but|and then|as well|"
    r"songs?|albums?|tracks?|stuff|music|or anything|for now|i want|give me|something|"
    r"anything|instead|this time|itself|himself|herself|themselves)\b.*$",
    re.IGNORECASE,
)

#: "nothing by Miles Davis or Coltrane" rejects two names.
_ALTERNATIVES = re.compile(r"\s+(?:or|nor)\s+|\s*/\s*", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")
# A run of capitalised words (allowing short joiners), e.g. "Boards of Canada", "OK Computer",
# "Bohemian Rhapsody by Queen" (the engine reads a work by its artist).
_TITLE_RUN = re.compile(
    r"\b([A-Z0-9À-Þ][\w'’.&-]*(?:\s+(?:of|the|&|de|la|in|on|a|and|y|du|des|to|by)?\s*"
    r"[A-Z0-9À-Þ][\w'’.&-]*)*)"
)
#: Capitalised words that start sentences or ask for things, never names on their own.
NOT_NAMES = frozenset(
    "i i'm im i've looking recommend recommendations please any some what which who can "
    "could something songs song music album albums artist artists tracks track hi hello hey "
    "thanks also but and or so if when my the a an is are it this that give find suggest "
    "need want like love just youtube api more these those ignore print show tell not no "
    "nothing other anything anyway now then maybe how "
    "let me you your we our got new old bands band stuff tunes lps records singers "
    "actually really well hmm oh rather instead except without besides by".split()
)
#: Words that are no name on their own but may start one ("OK Computer", "Nice Guys").
SOLO_NOT_NAMES = frozenset("ok okay yes sure great cool nice".split())
#: Words that thank or praise: filler in a request, and a whole message of them (with no
#: "more") is a thank-you (:func:`only_thanks`).
_THANKING = frozenset(
    "thanks thank thx cheers cool great nice awesome perfect lovely amazing".split()
)
_FILLER = _THANKING | frozenset(
    "a an the any some something anything more less other others another please pls me us "
    "give show find get recommend suggest want would like love i i'd im i'm can could you "
    "rather than instead of what about how maybe else different new ones one stuff music "
    "and or but so too also just now then still ok okay yes no not to for with am "
    "sure think guess maybe either neither "
    "in on it that this those these them is are be by from of similar "
    "been listening listen lot lately into enjoy enjoying fan dig about "
    "hey hi hello yo hiya howdy there help do does who what's whats wow "
    # "the best album?", "his greatest songs": the best of what is asked for already
    "best greatest favourite favorite his her their its your "
    "nothing very "  # "nothing too heavy", "not very sad": a mood taken back
    "looking searching recommendation recommendations suggestion suggestions".split()
)
#: Words that name nothing typed in lower case: around a name, or between two.
_NO_NAME_WORDS = NOT_NAMES | _FILLER | _OCCASIONS | _CHAT_WORDS | frozenset(DESCRIPTORS)

_WORD = re.compile(r"[\w'-]+", re.UNICODE)


#: Wishes the catalog holds no facts for, and how a reply names what it cannot check.
_UNCHECKABLE = (
    (
        re.compile(
            r"\b(?:no|without|nothing with|zero|minus)\s+(?:the\s+)?(?:vocals?|singing|lyrics)\b"
            r"|\binstrumental\b",
            re.IGNORECASE,
        ),
        "whether a record has vocals",
    ),
    (
        re.compile(
            r"\b(?:modern|recent|newer|contemporary|older|vintage|trending|latest)\b"
            r"|\bnew (?:releases?|music|stuff|songs|albums)\b|\b(?:this|last) year\b"
            r"|\b(?:early|earlier|later|late)\s+(?:stuff|work|albums?|records?|songs?|"
            r"material|years|period|days|era|(?-i:[A-Z]))"
            r"|(?:\B'|\b)(?:\d{2}|1\d{3}|20\d{2})'?s\b|\b(?:sixties|seventies|eighties|nineties)\b",
            re.IGNORECASE,
        ),
        "how old a record is",
    ),
    (
        re.compile(
            r"\b(?:(?:less|more|not so|not too)\s+(?:mainstream|popular|known|famous)|"
            r"mainstream|obscure|underground|lesser[- ]known|little[- ]known|well[- ]known|"
            r"deep(?:er)? cuts?|hidden gems?|niche|underrated)\b",
            re.IGNORECASE,
        ),
        "how well known a record is",
    ),
    (
        re.compile(
            r"\b(?:shorter|longer)\b|\b(?:short|long)\s+(?:songs?|tracks?|pieces?|albums?|"
            r"ones?)\b",
            re.IGNORECASE,
        ),
        "how long a record is",
    ),
    (
        # "nothing too heavy": a mood taken back leaves the request, it filters nothing.
        re.compile(_NEGATION + r"\s*" + _DESCRIPTOR.pattern, re.IGNORECASE),
        "what a record does not sound like",
    ),
)


def unchecked_wishes(text: str) -> list[str]:
    """What ``text`` asks for that the catalog cannot check (it knows who recommended what,
    not how a record sounds or when it came out), each as a phrase for the reply."""
    return [phrase for pattern, phrase in _UNCHECKABLE if pattern.search(text)]


def _without_wishes(text: str) -> str:
    """``text`` without the unchecked wishes: "something more modern" asks for no new topic."""
    for pattern, _ in _UNCHECKABLE:
        text = pattern.sub(" ", text)
    return text


_MORE = re.compile(r"\b(?:more|another|again|keep going|next)\b", re.IGNORECASE)


def only_thanks(text: str) -> bool:
    """True for a thank-you that asks for nothing more ("thanks!", "cool, nice ones")."""
    return (
        only_filler(text)
        and any(w.lower() in _THANKING for w in _WORD.findall(text))
        and not (_MORE.search(text) or _WANTS_OTHERS.search(text))
    )


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without punctuation."""
    return [w.lower() for w in _WORD.findall(text)]


def only_filler(text: str) -> bool:
    """True when ``text`` holds no word that could describe music: only requests, pronouns
    and filler ("I've been listening to … a lot, what else would I like?" minus the names)."""
    return not set(words_of(text)) - NOT_NAMES - _FILLER


@dataclass(frozen=True)
class ParsedMessage:
    """What one message says, in the grammar's terms.

    ``music`` is the message without injection sentences; ``topic`` is what is left of it
    once rejections, references and kinds are taken out, or empty when only descriptors
    and filler words would be left: a pure follow-up ("the second one, but albums").
    ``references`` are 1-based positions in the last list of recommendations; ``-1``
    means its last item and ``0`` the whole list ("more like those").
    """

    text: str
    music: str
    injection: bool = False
    seeds: tuple[str, ...] = ()
    rejections: tuple[str, ...] = ()
    known: tuple[str, ...] = ()  # rejected because already known: still a taste signal
    refused_communities: tuple[str, ...] = ()  # "not pop", "no more metal"
    references: tuple[int, ...] = ()
    refused_references: tuple[int, ...] = ()  # "not that first one": picks to leave out
    asks_why: bool = False  # "why the second one?": explain those picks, recommend nothing
    asks_who: bool = False  # "who sings the third one?": say who made those picks, and why
    asks_about: tuple[str, ...] = ()  # "what is Slowdive like?": what the threads say of it
    asks_about_pick: bool = False  # "tell me about the first one": its card, and why
    wants_others: bool = False  # "other bands", "something else"
    surprise: bool = False  # "surprise me": a community's most recommended, chosen for them
    more_by: tuple[str, ...] = ()
    more_by_reference: bool = False  # "more by the second one": by the referenced pick's artist
    more_by_same: bool = False  # "more by them": by the artist the request already goes by
    kind: Kind | None = None
    refused_kinds: tuple[Kind, ...] = ()
    descriptors: tuple[str, ...] = ()
    refused_descriptors: tuple[str, ...] = ()  # "less dark", "nothing too heavy"
    genres: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    topic: str = ""

    @property
    def is_follow_up(self) -> bool:
        """True when the message only adjusts the previous request (nothing new to search)."""
        return not self.topic and not self.seeds and not self.more_by and not self.genres


@dataclass
class _Cursor:
    """The message with the parts already read blanked out, so each is read once."""

    text: str
    taken: list[tuple[int, int]] = field(default_factory=list)

    def take(self, start: int, end: int) -> None:
        self.taken.append((start, end))

    def rest(self) -> str:
        chars = list(self.text)
        for start, end in self.taken:
            for i in range(start, min(end, len(chars))):
                chars[i] = " "
        return "".join(chars)


def split_injection(text: str) -> tuple[str, bool]:
    """``text`` without the sentences that try to steer the model, and whether any did."""
    kept, injected = [], False
    for sentence in _SENTENCE.findall(text):
        if INJECTION.search(sentence):
            injected = True
        else:
            kept.append(sentence.strip())
    music = " ".join(s for s in kept if s)
    # "Anyway, I like Björk." → "I like Björk."
    music = re.sub(r"^(anyway|anyhow|also|but|so|ok|okay)\b[,\s]*", "", music, flags=re.I)
    return music.strip(), injected


def clean_name(raw: str) -> str:
    """A rejected or liked name as typed, without quotes, fillers and a trailing "'s"."""
    name = _NAME_STOP.sub("", raw.strip())
    name = name.strip(" \"“”'’-:").removesuffix("'s").removesuffix("’s")
    name = re.sub(r"^(the music of|music by|anything by|songs by|albums by|stuff by)\s+", "",
                  name, flags=re.I)  # fmt: skip
    return name.strip()


def _not_part_of_a_name(word: str) -> bool:
    """A filler word, or a decade or rank ("80s", "#1": never a name on its own), at the
    edge of a capitalised run."""
    return word.lower().strip(".'") in NOT_NAMES or bool(RANK.match(word))


def _ends_a_title(words: list[str]) -> bool:
    """A capital letter after a capitalised word ends a title ("Kid A", "Plan B"); "I" is
    the speaker ("Radiohead I think")."""
    last = words[-1]
    return len(words) > 1 and len(last) == 1 and last.isupper() and last != "I"


def named_entities(text: str, limit: int = 4) -> list[str]:
    """Names a text mentions: quoted strings, then capitalised word runs (not filler)."""
    found: list[str] = [m.strip() for m in _QUOTED.findall(text)]
    for match in _TITLE_RUN.finditer(text):
        words = match.group(1).replace("’", "'").split()
        if len(words) == 2 and words[0] == "The" and words[1].isdigit():
            found.append(" ".join(words))  # a band named by a number: "The 1975"
            continue
        while words and _not_part_of_a_name(words[0]):
            words.pop(0)
        while words and _not_part_of_a_name(words[-1]) and not _ends_a_title(words):
            words.pop()
        name = " ".join(words).removesuffix("'s").strip(" .-'")
        lowered = name.lower()
        if len(name) > 1 and lowered not in NOT_NAMES | SOLO_NOT_NAMES and not name.isdigit():
            found.append(name)
    unique: list[str] = []
    for name in found:
        if name.lower() not in {u.lower() for u in unique}:
            unique.append(name)
    return unique[:limit]


def _is_kind_or_genre(name: str) -> bool:
    """Whether ``name`` is only genre ("indie rock"), mood, kind and filler words."""
    words = _GENRE.sub(" ", name.lower()).split()
    return bool(name.strip()) and all(
        w in KIND_WORDS or w in DESCRIPTORS or w in _FILLER for w in words
    )


@dataclass(frozen=True)
class _Wishes:
    """The moods and genres a text asks for, and the moods it takes back ("less dark")."""

    descriptors: tuple[str, ...]
    refused_descriptors: tuple[str, ...]
    genres: tuple[str, ...]


def _wishes_outside(text: str, names: list[str]) -> _Wishes:
    """The wishes of ``text`` outside ``names``: a genre or mood word inside a name is the
    name's ("MF DOOM" asks for no doom metal, "Dark Tranquillity" for nothing dark)."""
    for name in names:
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    asked: list[str] = []
    refused: list[str] = []
    for match in _DESCRIPTOR.finditer(text):
        negated = _NEGATED.search(text[: match.start()])
        (refused if negated else asked).append(DESCRIPTORS[match.group(1).lower()])
    genres = (m.group(1).lower() for m in _GENRE.finditer(text))
    return _Wishes(
        tuple(dict.fromkeys(asked)), tuple(dict.fromkeys(refused)), tuple(dict.fromkeys(genres))
    )


def same_mood(descriptor: str, other: str) -> bool:
    """Whether two descriptors are one mood, plain or comparative ("sad", "sadder"): a
    mood taken back ("less sad") takes both back."""
    return descriptor[:4] == other[:4]


def read_as_names(message: ParsedMessage, phrases: list[str]) -> ParsedMessage:
    """``message`` once ``phrases`` it typed are known to be names ("i love mf doom"): their
    genre and mood words are no longer wishes of the request."""
    outside = _wishes_outside(message.music, phrases)
    kept = tuple(g for g in message.genres if g in outside.genres)
    return replace(
        message,
        descriptors=tuple(d for d in message.descriptors if d in outside.descriptors),
        genres=kept,
        communities=tuple(dict.fromkeys(GENRES[g] for g in kept)),
    )


def typed_names(message: ParsedMessage) -> tuple[str, ...]:
    """Phrases that may be names the grammar could not read as such (typed in lower case,
    or misspelt): what follows "I like", "I'm into", "songs like" (split at "and", "or" and
    commas, cut at "but", "for", …), or a short message that is nothing else; never one
    already read as a seed, nor one made only of genre, mood, kind or filler words. The
    catalog decides which are names (:mod:`agent.names`)."""
    seeds = {s.lower() for s in message.seeds}
    found = [m.group("taste") for m in _TASTE.finditer(message.music)]
    bare = not (message.seeds or message.genres or message.descriptors or message.kind)
    short = len(words_of(message.music)) <= LONE_NAME_WORDS
    if not found and bare and short and message.topic and not message.references:
        # "hotline bling" alone; "what about sufjan stevens" is left to loose_names
        alone = _as_phrase(message.music)
        found = [message.music] if _without_edge_words(alone) == alone else []
    phrases: list[str] = []
    for taste in found:
        if _ORDINAL_REF.search(taste) or _NUMBER_REF.search(taste) or _SAME_ARTIST.match(taste):
            continue  # "I like the first one", "I like them": a pick, not a name
        for part in _ALTERNATIVES.split(_TASTE_END.sub("", taste)):
            for piece in typed_parts(part):
                name = _without_edge_words(_as_phrase(piece))
                read = any(name.lower() in seed for seed in seeds)  # "Radiohead and Low"
                if not name or read or _is_kind_or_genre(name):
                    continue
                phrases.append(name)
    return tuple(dict.fromkeys(phrases))


def _as_phrase(text: str) -> str:
    """``text`` as a phrase to look up: no emoji or punctuation a name does not use."""
    return clean_name(re.sub(r"[^\w\s'’&.-]", " ", text))


def _without_edge_words(phrase: str) -> str:
    """``phrase`` without the words around a name that name nothing ("what about sufjan
    stevens", "play some daft punk"): empty when no word is left."""
    words = phrase.split()
    while words and words[0].lower() in _NO_NAME_WORDS:
        words.pop(0)
    while words and words[-1].lower() in _NO_NAME_WORDS:
        words.pop()
    return " ".join(words)


def loose_names(message: ParsedMessage, typed: Sequence[str]) -> tuple[str, ...]:
    """Runs of two or more words anywhere in what is left of the message (the words of its
    ``topic``, not across punctuation) that are no filler, occasion, mood, genre or kind
    word, and not read already as a seed or among the ``typed`` phrases (its
    :func:`typed_names` and :func:`typed_artists`): names typed in lower case where no "I
    like" says so ("recommend me some kendrick lamar"). The catalog takes them only as
    artists (:mod:`agent.names`): a song title is too easily a phrase of a chat."""
    left = set(words_of(message.topic))
    read = " | ".join([*message.seeds, *typed]).lower()
    runs: list[str] = []
    for clause in re.split(r"[,.;:!?()\[\]\"“”]", message.music.lower()):
        run: list[str] = []
        for word in [*_WORD.findall(clause), ""]:
            if word in left and word not in _NO_NAME_WORDS and word not in KIND_WORDS:
                run.append(word)
                continue
            name = " ".join(run)
            named = len(run) >= 2 and not _is_kind_or_genre(name)  # "daft punk", not "indie rock"
            if named and name not in read and not any(w.isdigit() for w in run):
                runs.append(name)
            run = []
    return tuple(dict.fromkeys(runs))


def typed_artists(message: ParsedMessage) -> tuple[str, ...]:
    """Lower-case phrases that may name the artist whose own works are asked for ("play
    something by radiohead"), when the grammar read none; the catalog decides."""
    if message.more_by or message.more_by_same:
        return ()
    typed = _BY_TYPED.finditer(message.music)
    found = [clean_name(_TASTE_END.sub("", m.group("name"))) for m in typed]
    names = [n for n in found if n and not all(_not_part_of_a_name(w) for w in n.split())]
    return tuple(dict.fromkeys(names))


def parse_message(text: str) -> ParsedMessage:
    """Read one user message (see the module docstring for what is recognised)."""
    music, injection = split_injection(text)
    cursor = _Cursor(music)

    rejections: list[str] = []
    known: list[str] = []
    refused_genres: list[str] = []
    refused_kinds: list[Kind] = []
    for match in _KIND_REFUSED.finditer(music):
        refused_kinds.append(KIND_WORDS[match.group(3).lower()])
        cursor.take(*match.span())
    for match in _NO_GENRE.finditer(music):
        refused_genres.append(match.group(1).lower())
        cursor.take(*match.span())
    not_that = [match.span() for match in _NOT_THAT.finditer(music)]
    for span in not_that:
        cursor.take(*span)
    for pattern in (_REJECT_BEFORE, _REJECT_AFTER):
        for match in pattern.finditer(cursor.rest()):
            if _NUMBER_REF.match(match.group("name").strip()):
                continue  # "skip #2" refuses a pick: read with the references below
            lead = match.group(0)[: match.start("name") - match.start()]
            for part in _ALTERNATIVES.split(match.group("name")):
                name = clean_name(part)
                if not name or _is_kind_or_genre(name):
                    refused_genres += [m.group(1).lower() for m in _GENRE.finditer(name)]
                    continue
                rejections.append(name)
                # "not Daft Punk itself": a taste to go by, without its own records.
                if _KNOWN.search(lead) or _ITSELF.search(part):
                    known.append(name)
            cursor.take(*match.span())

    more_by: list[str] = []
    more_by_reference = more_by_same = False
    for match in _MORE_BY.finditer(cursor.rest()):
        groups = ("name", "start", "own", "best", "whose", "their")
        group = next(g for g in groups if match.group(g))
        name = clean_name(match.group(group))
        if _ORDINAL_REF.fullmatch(name) or _NUMBER_REF.fullmatch(name):
            more_by_reference = True  # "more by the first one": read with the references
            continue
        if _SAME_ARTIST.match(name):
            more_by_same = True  # "more by them": by the artist already asked about
            cursor.take(*match.span())
        elif all(_not_part_of_a_name(word) for word in name.split()):
            continue  # "more from the 80s": a decade, no artist
        elif name and not _is_kind_or_genre(name):
            more_by.append(name)
            cursor.take(*(match.span(group) if group in ("best", "whose") else match.span()))

    references: list[int] = []
    refused_references: list[int] = []

    def note_reference(match: re.Match[str], position: int, text: str) -> None:
        refused = _REFUSING_LEAD.search(text[: match.start()])
        (refused_references if refused else references).append(position)
        cursor.take(refused.start() if refused else match.start(), match.end())

    rest = cursor.rest()
    for match in _FIRST_N.finditer(rest):
        for position in range(1, _COUNTS[match.group(1).lower()] + 1):
            note_reference(match, position, rest)
    rest = cursor.rest()
    for match in _ORDINAL_REF.finditer(rest):
        word = (match.group(1) or match.group(3)).lower()
        note_reference(match, -1 if word == "last" else _ORDINALS[word], rest)
    rest = cursor.rest()
    for match in _NUMBER_REF.finditer(rest):
        note_reference(match, int(match.group(1)), rest)
    for match in _THAT_REF.finditer(cursor.rest()):
        if not references:  # "the second one …, more like that": that is the second one
            references.append(0)
        cursor.take(*match.span())

    why, who = _WHY.match(music), _WHO.search(music)
    if why and not references and only_filler(cursor.rest()[why.end() :]):
        references.append(0)  # a bare "why?" / "why those?" after picks: the whole list
        cursor.take(*why.span())
    # "tell me more about the first one": a question about a pick, answered from its card.
    about_pick = (
        bool(references)
        and not who
        and any(not named_entities(m.group("rest"), 1) for m in _ABOUT.finditer(music))
    )

    surprises = list(_SURPRISE.finditer(cursor.rest()))
    for match in surprises:
        cursor.take(*match.span())

    rest = cursor.rest()
    kinds = [KIND_WORDS[m.group(1).lower()] for m in _KIND.finditer(rest)]
    kind = next((k for k in kinds if k not in refused_kinds), None)
    if kind is None and refused_kinds:
        # "no more songs" alone: albums are the natural other choice of a listener
        others = [k for k in ("album", "artist", "song") if k not in refused_kinds]
        kind = others[0] if len(refused_kinds) == 1 and refused_kinds[0] == "song" else None
    rejected = {r.lower() for r in rejections}
    seeds = [n for n in named_entities(rest) if n.lower() not in rejected]
    seeds = [s for s in seeds if not _is_kind_or_genre(s)]
    wishes = _wishes_outside(rest, seeds)
    asked = (named_entities(m.group("rest"), 1) for m in _ABOUT.finditer(rest))
    asks_about = [names[0] for names in asked if names and names[0] in seeds]
    topic_words = [
        w
        for w in _WORD.findall(_without_wishes(rest))
        if w.lower() not in _FILLER
        and w.lower() not in KIND_WORDS
        and w.lower() not in DESCRIPTORS
        and not w.isdigit()
    ]
    return ParsedMessage(
        text=text,
        music=music,
        injection=injection,
        seeds=tuple(dict.fromkeys(seeds)),
        rejections=tuple(dict.fromkeys(rejections)),
        known=tuple(dict.fromkeys(known)),
        refused_communities=tuple(dict.fromkeys(GENRES[g] for g in refused_genres)),
        references=tuple(dict.fromkeys(references)),
        refused_references=tuple(dict.fromkeys(refused_references)),
        asks_why=bool(references) and bool(why or who or about_pick),
        asks_who=bool(references) and bool(who),
        asks_about=tuple(dict.fromkeys(asks_about)),
        asks_about_pick=about_pick,
        wants_others=bool(not_that) or bool(_WANTS_OTHERS.search(music)),
        surprise=bool(surprises),
        more_by=tuple(dict.fromkeys(more_by)),
        more_by_reference=more_by_reference,
        more_by_same=more_by_same,
        kind=kind,
        refused_kinds=tuple(dict.fromkeys(refused_kinds)),
        descriptors=wishes.descriptors,
        refused_descriptors=wishes.refused_descriptors,
        genres=wishes.genres,
        communities=tuple(dict.fromkeys(GENRES[g] for g in wishes.genres)),
        # The words as typed (names keep their "of"), once something beyond filler is left.
        topic=" ".join(_WORD.findall(rest)) if topic_words else "",
    )
