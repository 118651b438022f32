"""YouTube links (tools.youtube): parsing, yt-dlp's download path, cache, error sentences.

No test touches YouTube: downloads go through yt-dlp's generic extractor against a local
HTTP server, and failures use yt-dlp's real exception classes.
"""

from __future__ import annotations

import functools
import http.server
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from yt_dlp.networking.exceptions import TransportError
from yt_dlp.utils import DownloadError, ExtractorError

from tests import audio_fixtures as fx
from tests.test_audio_ingest import assert_one_sentence
from tools import youtube
from tools.audio import AudioInputError, load_audio
from tools.youtube import (
    YouTubeRef,
    cache_path,
    download_with_ytdlp,
    fetch_youtube_audio,
    map_download_error,
    parse_timestamp,
    parse_youtube_url,
)


@pytest.mark.parametrize(
    ("url", "video_id", "start"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ", None),
        ("https://youtu.be/VCLxJd1d84s?t=214", "VCLxJd1d84s", 214.0),
        ("youtu.be/VCLxJd1d84s", "VCLxJd1d84s", None),
        ("https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=1m30s", "dQw4w9WgXcQ", 90.0),
        ("https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM", "dQw4w9WgXcQ", None),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ", None),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=1h2m3s", "dQw4w9WgXcQ", 3723.0),
        ("https://www.youtube.com/embed/dQw4w9WgXcQ?start=42", "dQw4w9WgXcQ", 42.0),
        ("  https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ  ", "dQw4w9WgXcQ", None),
    ],
)
def test_single_video_links(url: str, video_id: str, start: float | None) -> None:
    ref = parse_youtube_url(url)
    assert (ref.video_id, ref.start_s) == (video_id, start)
    assert ref.url == f"https://www.youtube.com/watch?v={video_id}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://vimeo.com/76979871", "Only YouTube video links"),
        ("https://example.com/song.mp3", "Only YouTube video links"),
        ("ftp://youtube.com/watch?v=dQw4w9WgXcQ", "Only YouTube video links"),
        ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "Only YouTube video links"),
        ("https://www.youtube.com/playlist?list=PL1234567890", "playlist"),
        ("https://www.youtube.com/watch?list=PL1234567890", "playlist"),
        ("https://www.youtube.com/@milesdavis", "not a single video"),
        ("https://www.youtube.com/watch?v=short", "malformed"),
        ("https://www.youtube.com/watch?feature=share", "malformed"),
        ("https://youtu.be/", "malformed"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQhttps://www.youtube.com", "malformed"),
    ],
)
def test_bad_links_get_one_sentence_suggesting_an_upload(url: str, expected: str) -> None:
    with pytest.raises(AudioInputError) as caught:
        parse_youtube_url(url)
    message = str(caught.value)
    assert expected in message and "upload the audio file instead" in message
    assert_one_sentence(message)


def test_lenient_parsing_salvages_scraped_links_but_not_other_hosts() -> None:
    salvage = functools.partial(parse_youtube_url, lenient=True)
    doubled = "https://www.youtube.com/watch?v=jvUego50gVghttps://www.youtube.com/watch?v=jvU"
    assert salvage(doubled).video_id == "jvUego50gVg"
    assert salvage("https://www.youtube.com/watch?v=7MqrBauptrEt=11m22s") == YouTubeRef(
        video_id="7MqrBauptrE", start_s=682.0
    )
    amp = "http://www.youtube.com/watch?feature=player_detailpage&ampv=0QvJ3dXqmvw"
    assert salvage(amp).video_id == "0QvJ3dXqmvw"
    with pytest.raises(AudioInputError):
        salvage("http://en.wikipedia.org/wiki/Namor?v=0QvJ3dXqmvw")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", True),
        ("https://www.youtube.com/playlist?list=PL123", True),
        ("https://www.youtube.com/@somechannel", True),
        ("youtu.be/dQw4w9WgXcQ", True),
        ("HTTPS://Music.YouTube.com/watch?list=PL123", True),
        ("https://example.com/song.mp3", False),
        ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", False),
        ("ftp://youtube.com/watch?v=dQw4w9WgXcQ", False),
        ("clips/song.mp3", False),
    ],
)
def test_is_youtube_link_tells_youtube_pages_from_other_hosts(url: str, expected: bool) -> None:
    assert youtube.is_youtube_link(url) is expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("214", 214.0), ("214s", 214.0), ("3m34s", 214.0), ("1h", 3600.0), ("3:34", 214.0),
     ("1:00:01", 3601.0), ("abc", None), ("", None)],
)  # fmt: skip
def test_timestamps(value: str, seconds: float | None) -> None:
    assert parse_timestamp(value) == seconds


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            DownloadError(
                "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you're not a bot. "
                "Use --cookies-from-browser or --cookies for the authentication."
            ),
            "bot check",
        ),
        (DownloadError("ERROR: [youtube] dQw4w9WgXcQ: Private video. Sign in if..."), "private"),
        (DownloadError("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable"), "unavailable"),
        (
            DownloadError(
                "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm your age. This video may be "
                "inappropriate for some users."
            ),
            "age-restricted",
        ),
        (
            DownloadError(
                "ERROR: [youtube] dQw4w9WgXcQ: Unable to download API page: <urlopen error "
                "[Errno -3] Temporary failure in name resolution>",
                exc_info=(TransportError, TransportError("name resolution"), None),
            ),
            "no network",
        ),
        (TransportError("Connection refused"), "no network"),
        (ExtractorError("Requested format is not available"), "no downloadable audio"),
        (DownloadError("ERROR: something new and strange happened"), "download failed"),
    ],
)
def test_yt_dlp_errors_become_one_sentence(exc: Exception, expected: str) -> None:
    message = str(map_download_error(exc))
    assert expected in message and "upload the audio file instead" in message
    assert_one_sentence(message)


@pytest.fixture(scope="module")
def served_clip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a generated 20 s mp3 on a local HTTP server (yt-dlp's generic extractor)."""
    folder = tmp_path_factory.mktemp("served")
    fx.encode(fx.piano_melody(folder / "clip.wav", seconds=20), folder / "clip.mp3", "-b:a", "64k")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None: ...

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_yt_dlp_downloads_a_whole_file(served_clip: str, tmp_path: Path) -> None:
    downloaded = download_with_ytdlp(f"{served_clip}/clip.mp3", tmp_path)
    assert load_audio(downloaded).duration_s == pytest.approx(20.0, abs=0.3)


def test_yt_dlp_downloads_only_the_section(served_clip: str, tmp_path: Path) -> None:
    downloaded = download_with_ytdlp(f"{served_clip}/clip.mp3", tmp_path, start=5, duration=8)
    assert load_audio(downloaded).duration_s == pytest.approx(8.0, abs=0.3)


def test_yt_dlp_http_404_is_one_sentence(served_clip: str, tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="unavailable"):
        download_with_ytdlp(f"{served_clip}/missing.mp3", tmp_path)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_network_fails_fast_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(youtube, "YOUTUBE_ENDPOINT", ("127.0.0.1", closed_port()))
    with pytest.raises(AudioInputError) as caught:
        fetch_youtube_audio("https://youtu.be/VCLxJd1d84s?t=214", cache_root=tmp_path)
    assert "no network" in str(caught.value)
    assert_one_sentence(str(caught.value))


def test_yt_dlp_connection_failure_maps_to_no_network(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no network"):
        download_with_ytdlp(f"http://127.0.0.1:{closed_port()}/clip.mp3", tmp_path)


@pytest.fixture()
def offline_youtube(
    served_clip: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, float | None, float | None]]:
    """fetch_youtube_audio with the watch URL swapped for the local clip; records calls."""
    calls: list[tuple[str, float | None, float | None]] = []
    real = youtube.download_with_ytdlp

    def fake(url: str, workdir: Path, *, start=None, duration=None, limits=None):
        calls.append((url, start, duration))
        return real(f"{served_clip}/clip.mp3", workdir, start=start, duration=duration)

    monkeypatch.setattr(youtube, "download_with_ytdlp", fake)
    monkeypatch.setattr(youtube, "check_network", lambda *args, **kwargs: None)
    return calls


def test_fetch_caches_by_video_and_section(offline_youtube: list, tmp_path: Path) -> None:
    url = "https://youtu.be/VCLxJd1d84s?t=4"
    first = fetch_youtube_audio(url, duration=6, cache_root=tmp_path)
    assert offline_youtube == [("https://www.youtube.com/watch?v=VCLxJd1d84s", 4.0, 6)]
    assert first == cache_path(YouTubeRef(video_id="VCLxJd1d84s"), 4.0, 6, tmp_path)
    decoded = load_audio(first)
    assert decoded.duration_s == pytest.approx(6.0, abs=0.3)
    assert (decoded.source.channels, decoded.source.sample_rate) == (1, 22050)
    # Same video and section: served from the cache, no download at all.
    assert fetch_youtube_audio(url, duration=6, cache_root=tmp_path) == first
    assert len(offline_youtube) == 1
    # Another section is another file.
    other = fetch_youtube_audio(url, start=0, duration=3, cache_root=tmp_path)
    assert other != first and len(offline_youtube) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])


def test_failed_fetch_leaves_no_temp_files_and_no_cache_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(youtube, "check_network", lambda *args, **kwargs: None)

    def broken(url: str, workdir: Path, **kwargs: object) -> Path:
        (workdir / "download.webm.part").write_bytes(b"half a download")
        raise map_download_error(DownloadError("ERROR: [youtube] x: Video unavailable"))

    monkeypatch.setattr(youtube, "download_with_ytdlp", broken)
    with pytest.raises(AudioInputError, match="unavailable"):
        fetch_youtube_audio("https://youtu.be/VCLxJd1d84s", cache_root=cache)
    assert list(private_tmp.iterdir()) == []
    assert not cache.exists() or list(cache.iterdir()) == []


def test_negative_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="start time"):
        fetch_youtube_audio("https://youtu.be/VCLxJd1d84s", start=-1, cache_root=tmp_path)


class FakeYoutubeDL:
    """Stands in for yt_dlp.YoutubeDL: canned metadata, records the download ranges."""

    info: ClassVar[dict] = {}
    ranges: ClassVar[list | None] = None

    def __init__(self, params: dict) -> None:
        self.params = params

    def __enter__(self) -> FakeYoutubeDL:
        return self

    def __exit__(self, *exc: object) -> None: ...

    def extract_info(self, url: str, download: bool) -> dict:
        return dict(self.info)

    def process_ie_result(self, info: dict, download: bool) -> dict:
        ranges = self.params.get("download_ranges")
        FakeYoutubeDL.ranges = ranges.ranges if ranges else None
        workdir = Path(self.params["paths"]["home"])
        fx.click_track(workdir / "download.wav", seconds=1)
        return info


@pytest.mark.parametrize(
    ("info", "start", "duration", "ranges"),
    [
        ({"duration": 3 * 3600}, None, None, [(0.0, 900.0)]),  # a 3 h mix: first 15 min
        ({"duration": 3 * 3600}, 600.0, None, [(600.0, 1500.0)]),
        ({"duration": 240}, None, None, None),  # a song: all of it
        ({"duration": 240}, 30.0, 10.0, [(30.0, 40.0)]),
    ],
)
def test_long_videos_are_cut_to_the_duration_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, info, start, duration, ranges
) -> None:
    import yt_dlp

    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYoutubeDL)
    monkeypatch.setattr(FakeYoutubeDL, "info", info)
    downloaded = download_with_ytdlp("https://www.youtube.com/watch?v=dQw4w9WgXcQ", tmp_path,
                                     start=start, duration=duration)  # fmt: skip
    assert downloaded.name == "download.wav"
    assert FakeYoutubeDL.ranges == ranges


@pytest.mark.parametrize(
    ("info", "expected"),
    [({"_type": "playlist", "entries": []}, "playlist"), ({"is_live": True}, "live stream")],
)
def test_playlists_and_live_streams_found_by_yt_dlp_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, info: dict, expected: str
) -> None:
    import yt_dlp

    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYoutubeDL)
    monkeypatch.setattr(FakeYoutubeDL, "info", info)
    with pytest.raises(AudioInputError, match=expected):
        download_with_ytdlp("https://www.youtube.com/watch?v=dQw4w9WgXcQ", tmp_path)
    assert list(tmp_path.iterdir()) == []
