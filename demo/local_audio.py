"""The user's own music on the page: cards of the indexed recordings a clip sounds like,
each playing its local file.

Conventions:

- Playable means one of the sound index's own files (every ``paths`` entry of its cards,
  resolved, so a link is judged by where it leads): never another file beside them, a path
  outside, or a link leading out. :meth:`LocalAudio.allowed_paths` is exactly that list and
  is what ``launch(allowed_paths=...)`` lets Gradio serve (:func:`demo.app.launch_options`),
  so the server refuses anything else even when asked for it directly. Files indexed after
  the page started play after a restart.
- A card plays its file from Gradio's file route (:data:`FILE_ROUTE` + the URL-quoted
  path) in an ``<audio>`` element's ``src``; text the page shows names the recording by its
  title, never its path (``demo.render.local_cards_html`` scrubs with ``public_text``).
- The recordings of a turn are those ``find_similar_sounding`` found in it: the same clip
  and ``k`` from the turn's trace, heard once (``tools.sound.heard_file`` remembers it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tools.sound import heard_file
from tools.sound_tools import MAX_SOUND_K, TOOL_NAME
from vectorstore.errors import CatalogError
from vectorstore.sound import SoundIndex, SoundInputError, find_sound_index

log = logging.getLogger(__name__)

FILE_ROUTE = "/gradio_api/file="


@dataclass(frozen=True)
class LocalCard:
    """One recording of the user's: ``url`` plays it, None when it cannot be played."""

    name: str
    artist: str | None
    why: str
    url: str | None


class LocalAudio:
    """The sound index's files, and the cards of the recordings a clip sounds like."""

    def __init__(self, index: SoundIndex | None) -> None:
        self.index = index
        cards = index.cards if index is not None else []
        self.files = frozenset(
            resolved for card in cards for p in card.paths if (resolved := _resolved(p))
        )

    @classmethod
    def beside(cls, catalog_path: str | None) -> LocalAudio:
        """The sound index beside the catalog at ``catalog_path`` (none: nothing plays)."""
        from vectorstore.store import store_location

        try:
            return cls(find_sound_index(store_location(catalog_path)))
        except CatalogError:
            return cls(None)

    def allowed_paths(self) -> list[str]:
        """The files Gradio may serve: exactly the indexed ones."""
        return sorted(self.files)

    def url(self, path: str) -> str | None:
        """Where the page plays ``path``, or None when it is not an indexed file."""
        resolved = _resolved(path)
        return FILE_ROUTE + quote(resolved) if resolved in self.files else None

    def sounds_like(self, trace: Sequence[object]) -> list[LocalCard]:
        """The cards of the recordings ``find_similar_sounding`` found in a turn's trace."""
        calls = [s for s in trace if getattr(s, "name", None) == TOOL_NAME and s.ok]  # type: ignore[attr-defined]
        if self.index is None or not calls:
            return []
        args = calls[-1].args
        try:
            heard = heard_file(str(args["path"]))
            # As the tool clamps k, so the cards are the hits it answered with.
            hits = self.index.search(heard, max(1, min(int(args.get("k", 5)), MAX_SOUND_K)))
        except (KeyError, TypeError, ValueError, SoundInputError, CatalogError) as error:
            log.info("no local cards for this turn: %s", error)
            return []
        return [LocalCard(h.card.name, h.card.artist, h.why, self.url(h.card.path)) for h in hits]


def _resolved(path: str) -> str | None:
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, or a loop of links
        return None
    return str(resolved) if resolved.is_file() else None
