"""A conversation's recommendations as playlists to take away: M3U8, CSV and JSPF.

Conventions:

- Pure text writers over :class:`PlaylistEntry` (one per recommendation, in the order the
  session showed them); :func:`write_playlists` only saves the three texts in a folder.
- Every entry has a link to listen: its YouTube video when the catalog knows one (only an
  id :func:`tools.youtube.parse_youtube_url` accepts, re-written as a plain watch URL), else
  a YouTube search for its name and artist.
- Liked (👍) entries are marked: an ``liked="true"`` attribute on M3U8's ``#EXTINF`` line,
  a ``liked`` column in CSV, ``"liked": true`` in the JSPF track's extension.
- Text from the catalog is data: M3U8 titles are one line, CSV cells that a spreadsheet
  would run as a formula (``=``, ``+``, ``-``, ``@``) start with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

from tools.audio import AudioInputError
from tools.youtube import parse_youtube_url

PLAYLIST_TITLE = "musicrs-chat recommendations"
#: The JSPF extension key (an application URI) our own track fields go under.
JSPF_EXTENSION = "urn:musicrs-chat:track"
CSV_COLUMNS = ("number", "turn", "name", "artist", "kind", "liked", "link", "entity_id")
_FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class PlaylistEntry:
    """One recommendation the conversation showed (``turn`` and 1-based ``position`` as shown)."""

    name: str
    artist: str | None = None
    kind: str | None = None
    youtube_url: str | None = None
    liked: bool = False
    turn: int = 0
    position: int = 0
    entity_id: str | None = None

    @property
    def title(self) -> str:
        """``Artist - Name`` (or the name alone), on one line."""
        text = f"{self.artist} - {self.name}" if self.artist else self.name
        return " ".join(text.split())

    @property
    def link(self) -> str:
        video = youtube_id(self.youtube_url)
        if video:
            return watch_url(video)
        return youtube_search_url(self.name, self.artist)


@dataclass(frozen=True)
class PlaylistFiles:
    m3u8: Path
    csv: Path
    jspf: Path


def youtube_id(url: str | None) -> str | None:
    """The video id of a single-video YouTube link, else ``None``."""
    if not url:
        return None
    try:
        return parse_youtube_url(url).video_id
    except AudioInputError:
        return None


def watch_url(video_id: str) -> str:
    """The plain watch link of a video id :func:`youtube_id` returned."""
    return f"https://www.youtube.com/watch?v={video_id}"


def youtube_search_url(name: str, artist: str | None) -> str:
    query = quote_plus(" ".join(p for p in (name, artist) if p))
    return f"https://www.youtube.com/results?search_query={query}"


def to_m3u8(entries: Sequence[PlaylistEntry], title: str = PLAYLIST_TITLE) -> str:
    lines = ["#EXTM3U", f"#PLAYLIST:{' '.join(title.split())}"]
    for entry in entries:
        liked = ' liked="true"' if entry.liked else ""
        lines += [f"#EXTINF:-1{liked},{entry.title}", entry.link]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(entries: Sequence[PlaylistEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, entry in enumerate(entries, 1):
        row = (
            number,
            entry.turn,
            entry.name,
            entry.artist,
            entry.kind,
            "yes" if entry.liked else "no",
            entry.link,
            entry.entity_id,
        )
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def to_jspf(entries: Sequence[PlaylistEntry], title: str = PLAYLIST_TITLE) -> str:
    """JSPF (XSPF as JSON, https://xspf.org/jspf): one track per entry."""
    tracks = []
    for entry in entries:
        track: dict[str, object] = {"title": entry.name, "location": [entry.link]}
        if entry.artist:
            track["creator"] = entry.artist
        track["extension"] = {
            JSPF_EXTENSION: [
                {
                    "liked": entry.liked,
                    "kind": entry.kind,
                    "entity_id": entry.entity_id,
                    "turn": entry.turn,
                    "position": entry.position,
                }
            ]
        }
        tracks.append(track)
    playlist = {"playlist": {"title": title, "creator": "musicrs-chat", "track": tracks}}
    return json.dumps(playlist, ensure_ascii=False, indent=2) + "\n"


def write_playlists(entries: Sequence[PlaylistEntry], folder: Path) -> PlaylistFiles:
    """The three playlists saved in ``folder`` (created if needed), replacing older ones."""
    folder.mkdir(parents=True, exist_ok=True)
    files = PlaylistFiles(
        folder / "musicrs-playlist.m3u8",
        folder / "musicrs-playlist.csv",
        folder / "musicrs-playlist.jspf",
    )
    files.m3u8.write_text(to_m3u8(entries), encoding="utf-8")
    files.csv.write_text(to_csv(entries), encoding="utf-8")
    files.jspf.write_text(to_jspf(entries), encoding="utf-8")
    return files
