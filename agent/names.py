"""Names the grammar could not read as names, read against the catalog.

Conventions:

- The grammar (:mod:`agent.grammar`) takes capitalised word runs and quotes for names and
  never reads the catalog; a name typed in lower case or misspelt ("i like radiohed", "pink
  floyd") is only a phrase to it (:func:`agent.grammar.typed_names`).
- :func:`with_catalog_names` looks each phrase up in the catalog (its fuzzy name lookup) and
  makes it a seed, spelt as the catalog spells it, when the best match scores at least
  :data:`NAME_MATCH`; a one-word phrase only when that match is an artist ("radiohed" is
  Radiohead; "love" or "music" alone are words, whatever songs bear those titles). The
  phrase in the topic becomes that name, so the turn reads as if the name had been typed
  so. Phrases the catalog does not match closely stay words of the request; a work typed
  with its artist ("bohemian rhapsody by queen", "queen's bohemian rhapsody") is matched
  by its title.
- Two or more such words anywhere else ("recommend me some kendrick lamar",
  :func:`agent.grammar.loose_names`) are a seed only when the match is an artist: a
  song's title is too easily a phrase of a chat ("sunday morning", "so what").
- A name refused in lower case or misspelt ("not radiohed", "I already know daft punk")
  is refused as the catalog spells it, by the same rule.
- "play something by radiohead" (:func:`agent.grammar.typed_artists`) asks for an artist's
  own works: a close match that is an artist goes to ``more_by``, as "something by
  Radiohead" would.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from agent.grammar import (
    ParsedMessage,
    loose_names,
    read_as_names,
    typed_artists,
    typed_names,
)
from tools.catalog import CatalogLike
from vectorstore.engine import work_by_artist

#: The lowest lookup score (token-sort ratio, 0–1) that makes a typed phrase a name:
#: "radiohed" → Radiohead scores 0.94; "sad" → Sade 0.86 and "kanye" → Keane 0.80 do not.
NAME_MATCH = 0.9


def with_catalog_names(message: ParsedMessage, catalog: CatalogLike) -> ParsedMessage:
    """``message`` with the phrases the catalog knows as names added to its seeds, and the
    artist of "play something by radiohead" to its ``more_by``."""
    seeds, more_by, topic = list(message.seeds), list(message.more_by), message.topic
    names: list[str] = []
    typed, by = typed_names(message), typed_artists(message)
    for phrase, artists_only, found in [
        *((p, False, seeds) for p in typed),
        *((p, True, seeds) for p in loose_names(message, (*typed, *by))),
        *((p, True, more_by) for p in by),
    ]:
        card = _name_card(catalog, phrase, artists_only)
        if card is None:
            continue
        found.append(card.name)
        names.append(phrase)
        topic = re.sub(re.escape(phrase), card.name.replace("\\", r"\\"), topic, flags=re.I)
    # "not radiohed": refused as the catalog spells it, so the reply names what it leaves out.
    cards = {r: _name_card(catalog, r) for r in message.rejections if r == r.lower()}
    spelt = {typed: card.name for typed, card in cards.items() if card is not None}
    if not names and not spelt:
        return message
    return dataclasses.replace(
        read_as_names(message, names) if names else message,
        seeds=tuple(dict.fromkeys(seeds)),
        more_by=tuple(dict.fromkeys(more_by)),
        topic=topic,
        rejections=tuple(spelt.get(r, r) for r in message.rejections),
        known=tuple(spelt.get(k, k) for k in message.known),
    )


def _name_card(catalog: CatalogLike, phrase: str, artists_only: bool = False) -> Any:
    """The card a typed ``phrase`` names: its close match, which must be an artist when
    ``artists_only`` or when the phrase is one word ("love" alone names no song here)."""
    card = _close_match(catalog, phrase)
    if card is None or (card.kind != "artist" and (artists_only or " " not in phrase)):
        return None
    return card


def _close_match(catalog: CatalogLike, phrase: str) -> Any:
    """The catalog's card for ``phrase`` when its best match scores :data:`NAME_MATCH`; a
    work typed with its artist ("bohemian rhapsody by queen") is matched by its title."""
    by_artist = work_by_artist(phrase)
    for typed in (phrase, *(by_artist[:1] if by_artist else ())):
        hits = catalog.lookup(typed, 1)
        if hits and hits[0].score >= NAME_MATCH:
            return hits[0].card
    return None
