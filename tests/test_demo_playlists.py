"""The playlist writers (``demo.playlists``): each format parsed back with a real parser (the
csv module, json, M3U8 read line by line), links, 👍 marks and hostile names."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from demo.playlists import (
    CSV_COLUMNS,
    JSPF_EXTENSION,
    PlaylistEntry,
    to_csv,
    to_jspf,
    to_m3u8,
    write_playlists,
)

ENTRIES = [
    PlaylistEntry(
        "Alison",
        "Slowdive",
        "song",
        "https://youtu.be/zqNTltOGh5c?t=3",
        liked=True,
        turn=1,
        position=1,
        entity_id="alison",
    ),
    PlaylistEntry("Souvlaki", "Slowdive", "album", None, turn=1, position=2, entity_id="souvlaki"),
    # Not a YouTube video: never linked as given, searched for instead.
    PlaylistEntry("Loveless", None, "album", "https://evil.example/watch?v=zqNTltOGh5c", turn=2),
    PlaylistEntry('=HYPERLINK("x")\nnext', "-Artist, with comma", "song", None, turn=2),
]
WATCH = "https://www.youtube.com/watch?v=zqNTltOGh5c"


def parse_m3u8(text: str) -> list[tuple[str, str]]:
    """(``#EXTINF`` line, location) pairs; the header must come first."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "#EXTM3U"
    pairs = []
    for i, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            location = lines[i + 1]
            assert not location.startswith("#"), location
            pairs.append((line, location))
    return pairs


def test_m3u8_has_one_entry_per_item_with_a_link_and_the_liked_mark() -> None:
    pairs = parse_m3u8(to_m3u8(ENTRIES))
    assert len(pairs) == len(ENTRIES)
    assert pairs[0] == ('#EXTINF:-1 liked="true",Slowdive - Alison', WATCH)
    assert pairs[1][0] == "#EXTINF:-1,Slowdive - Souvlaki"
    assert pairs[1][1] == "https://www.youtube.com/results?search_query=Souvlaki+Slowdive"
    assert pairs[2][1] == "https://www.youtube.com/results?search_query=Loveless"
    # A newline in a name cannot start a line of its own (a fake directive or location).
    assert pairs[3][0].endswith('=HYPERLINK("x") next')


def test_csv_parses_back_with_the_liked_column_and_no_formulas() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(ENTRIES))))
    assert list(rows[0]) == list(CSV_COLUMNS) and len(rows) == len(ENTRIES)
    assert [r["liked"] for r in rows] == ["yes", "no", "no", "no"]
    assert rows[0]["link"] == WATCH and rows[0]["name"] == "Alison"
    assert rows[1]["link"].startswith("https://www.youtube.com/results?search_query=")
    assert rows[3]["name"].startswith("'=") and rows[3]["artist"] == "'-Artist, with comma"
    assert [r["number"] for r in rows] == ["1", "2", "3", "4"]


def test_jspf_is_a_json_playlist_with_locations_and_marks() -> None:
    playlist = json.loads(to_jspf(ENTRIES))["playlist"]
    tracks = playlist["track"]
    assert playlist["title"] and len(tracks) == len(ENTRIES)
    assert tracks[0]["title"] == "Alison" and tracks[0]["creator"] == "Slowdive"
    assert tracks[0]["location"] == [WATCH]
    assert tracks[0]["extension"][JSPF_EXTENSION][0]["liked"] is True
    assert tracks[1]["extension"][JSPF_EXTENSION][0]["liked"] is False
    assert "creator" not in tracks[2]


def test_files_are_written_and_replaced(tmp_path: Path) -> None:
    files = write_playlists(ENTRIES, tmp_path / "s1")
    assert [p.suffix for p in (files.m3u8, files.csv, files.jspf)] == [".m3u8", ".csv", ".jspf"]
    write_playlists(ENTRIES[:1], tmp_path / "s1")
    assert len(parse_m3u8(files.m3u8.read_text(encoding="utf-8"))) == 1
