"""YouTube links to audio files: URL validation, yt-dlp download, a content-addressed cache.

Conventions
-----------
- Only single YouTube videos are fetched (youtube.com/watch, youtu.be, music.youtube.com,
  youtube.com/shorts, /live, /embed); no other host is ever contacted (docs/bad-input.md).
- A *section* is ``(start_s, duration_s)``; ``start_s`` defaults to the link's ``?t=``,
  ``duration_s=None`` means "to the end", capped at the duration limit (15 min). The
  result is a mono 16-bit WAV at 22050 Hz in the cache, named by video id and section, so
  a second request touches no network.
- Every failure raises :class:`tools.audio.AudioInputError` with one sentence that suggests
  uploading the clip instead; yt-dlp's own exceptions never escape.
- Downloads happen in a temporary directory that is always removed; cache files are
  written under a temporary name and renamed, so a half-written file never looks complete.

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

from pydantic import BaseModel

from tools.audio import DEFAULT_LIMITS, AudioInputError, AudioLimits, probe_audio

CACHE_ENV = "MUSICRS_AUDIO_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "musicrs-chat" / "youtube"
UPLOAD_HINT = "upload the audio file instead"
SOCKET_TIMEOUT_S = 15.0
# Where the no-network pre-flight check connects; one TCP connect, answered in milliseconds
# when there is no route or no DNS, so an offline machine fails fast instead of retrying.
YOUTUBE_ENDPOINT = ("www.youtube.com", 443)
_PREFLIGHT_TIMEOUT_S = 4.0
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com"}
_SHORT_HOSTS = {"youtu.be"}
_ID_PATHS = ("shorts", "live", "embed", "v")
_TIMESTAMP = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


class YouTubeRef(BaseModel):
    """A validated single-video link."""

    video_id: str
    start_s: float | None = None

    @property
    def url(self) -> str:
        """The canonical watch URL (no playlist, no time) that is handed to yt-dlp."""
        return f"https://www.youtube.com/watch?v={self.video_id}"


def _host(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1].split(":", 1)[0]
    return host.removeprefix("www.")


def looks_like_url(text: str) -> bool:
    """Whether ``text`` is meant as a web link rather than a file path."""
    text = text.strip().lower()
    return text.startswith(("http://", "https://", "www.")) or _host(text.split("/")[0]) in (
        _YOUTUBE_HOSTS | _SHORT_HOSTS
    )


def parse_timestamp(value: str) -> float | None:
    """YouTube's ``t=`` forms: ``214``, ``214s``, ``3m34s``, ``1h2m3s``, ``3:34``; else None."""
    value = value.strip().lower()
    if ":" in value:
        parts = value.split(":")
        if all(p.isdigit() for p in parts) and len(parts) <= 3:
            seconds = 0.0
            for p in parts:
                seconds = seconds * 60 + int(p)
            return seconds
        return None
    match = _TIMESTAMP.match(value)
    if not value or not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_youtube_url(url: str, *, lenient: bool = False) -> YouTubeRef:
    """Validate a single-video YouTube link and read its video id and ``t=`` start.

    Raises :class:`AudioInputError` for other hosts, playlists, channels and malformed links.
    ``lenient=True`` (bulk downloads of scraped links) also accepts a YouTube link whose id
    is followed by junk, e.g. Reddit's doubled ``...v=IDhttps://...`` or ``&ampv=ID``, by
    taking the first 11 id characters as yt-dlp's own URL pattern does.
    """
    try:
        return _parse_strict(url)
    except AudioInputError:
        salvaged = _salvage(url) if lenient else None
        if salvaged is None:
            raise
        return salvaged


_LOOSE_ID = re.compile(
    r"(?:[?&](?:amp;?)?v=|youtu\.be/|/shorts/|/embed/|/live/)([A-Za-z0-9_-]{11})"
)
_LOOSE_T = re.compile(r"t=((?:\d+h)?(?:\d+m)?(?:\d+s?)?)")  # may follow the id directly


def _salvage(url: str) -> YouTubeRef | None:
    host = _host(urlsplit(url.strip() if "://" in url else "https://" + url.strip()).netloc)
    match = _LOOSE_ID.search(url)
    if host not in _YOUTUBE_HOSTS | _SHORT_HOSTS or match is None:
        return None
    time_match = _LOOSE_T.search(url, match.end())
    start = parse_timestamp(time_match.group(1)) if time_match else None
    return YouTubeRef(video_id=match.group(1), start_s=start or None)


def _split(url: str) -> SplitResult:
    text = url.strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        text = "https://" + text
    return urlsplit(text)


def is_youtube_link(url: str) -> bool:
    """Whether ``url`` is a web link to a YouTube host, single video or not.

    Pure (no network). Together with :func:`parse_youtube_url` it tells a YouTube page that
    is not one video (playlist, channel, broken link: True here, but unparseable) from a
    link to another site (False), so a caller can decide which links are its business.
    """
    parts = _split(url)
    return parts.scheme.lower() in ("http", "https") and _host(parts.netloc) in (
        _YOUTUBE_HOSTS | _SHORT_HOSTS
    )


def _parse_strict(url: str) -> YouTubeRef:
    parts = _split(url)
    host = _host(parts.netloc)
    if not is_youtube_link(url):
        raise AudioInputError(
            "Only YouTube video links (youtube.com/watch, youtu.be, music.youtube.com or "
            f"youtube.com/shorts) can be fetched; {UPLOAD_HINT}."
        )
    query = parse_qs(parts.query)
    segments = [s for s in parts.path.split("/") if s]
    if host in _SHORT_HOSTS:
        video_id = segments[0] if segments else ""
    elif segments[:1] == ["watch"] and "v" in query:
        video_id = query["v"][0]
    elif len(segments) >= 2 and segments[0] in _ID_PATHS:
        video_id = segments[1]
    elif segments[:1] == ["playlist"] or "list" in query:
        raise AudioInputError(
            f"That link is a YouTube playlist; paste a link to a single video, or {UPLOAD_HINT}."
        )
    elif segments[:1] == ["watch"]:
        video_id = ""  # a watch page without ?v= is a broken link, reported as malformed
    else:
        raise AudioInputError(
            "That YouTube link is not a single video (channel, search or home page links "
            f"cannot be fetched); paste a video link, or {UPLOAD_HINT}."
        )
    if not _VIDEO_ID.match(video_id):
        raise AudioInputError(
            f"That YouTube link is malformed (no valid 11-character video id); copy the link "
            f"again from the video's Share button, or {UPLOAD_HINT}."
        )
    fragment = parse_qs(parts.fragment)
    raw_start = next((q[k][0] for q in (query, fragment) for k in ("t", "start") if k in q), None)
    start = parse_timestamp(raw_start) if raw_start is not None else None
    return YouTubeRef(video_id=video_id, start_s=start or None)


def cache_dir() -> Path:
    """Where fetched audio is cached (``$MUSICRS_AUDIO_CACHE`` or ~/.cache/musicrs-chat)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)


def cache_path(ref: YouTubeRef, start: float | None, duration: float | None, root: Path) -> Path:
    """Cache file for a video section: ``<id>_<start ms>_<duration ms or 'end'>.wav``."""
    start_ms = round((start or 0.0) * 1000)
    length = "end" if duration is None else str(round(duration * 1000))
    return root / f"{ref.video_id}_{start_ms}_{length}.wav"


def map_download_error(exc: BaseException) -> AudioInputError:
    """One user-facing sentence for any yt-dlp failure (DownloadError, ExtractorError, ...)."""
    causes = [exc]
    original = getattr(exc, "exc_info", None)
    if original and len(original) > 1 and original[1] is not None:
        causes.append(original[1])
    text = " ".join(str(c) for c in causes).lower()
    from yt_dlp.networking.exceptions import TransportError

    def sentence(problem: str) -> AudioInputError:
        return AudioInputError(f"{problem}; {UPLOAD_HINT}.")

    if "confirm your age" in text or "age-restricted" in text or "age restricted" in text:
        return sentence(
            "This YouTube video is age-restricted and cannot be fetched without an account"
        )
    if "not a bot" in text or "http error 429" in text or "too many requests" in text:
        return sentence("YouTube blocked the download from this server with a bot check")
    if "private video" in text:
        return sentence("This YouTube video is private")
    if "members-only" in text or "join this channel" in text:
        return sentence("This YouTube video is for channel members only")
    if "not available in your country" in text or "blocked it in your country" in text:
        return sentence("This YouTube video is not available in this server's region")
    if "video unavailable" in text or "removed" in text or "does not exist" in text:
        return sentence("This YouTube video is unavailable (removed, blocked or mistyped)")
    if "live event" in text or "is live" in text or "premieres in" in text:
        return sentence("This YouTube video is a live stream or premiere, which cannot be fetched")
    if "requested format is not available" in text or "no video formats" in text:
        return sentence("This YouTube video offers no downloadable audio")
    http_status = re.search(r"http error (\d{3})", text)
    if http_status and http_status.group(1) in ("404", "410"):
        return sentence("This YouTube video is unavailable (removed, blocked or mistyped)")
    if http_status:
        return sentence(f"YouTube refused the download (HTTP {http_status.group(1)})")
    if any(isinstance(c, TransportError | OSError | TimeoutError) for c in causes) or any(
        marker in text
        for marker in (
            "unable to download", "urlopen error", "name resolution", "name or service",
            "connection refused", "timed out", "network is unreachable", "failed to resolve",
            "connection reset", "no route to host",
        )
    ):  # fmt: skip
        return sentence("Could not reach YouTube (no network connection or it timed out)")
    reason = re.sub(r"\x1b\[[0-9;]*m|^error:\s*", "", str(exc).splitlines()[0], flags=re.I)
    reason = reason.strip().rstrip(".")[:120] or type(exc).__name__
    return sentence(f"The YouTube download failed ({reason})")


def check_network(
    endpoint: tuple[str, int] | None = None, timeout: float = _PREFLIGHT_TIMEOUT_S
) -> None:
    """Raise the no-network sentence unless a TCP connection to YouTube opens quickly."""
    host, port = endpoint or YOUTUBE_ENDPOINT
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise AudioInputError(
            f"Could not reach YouTube (no network connection); {UPLOAD_HINT}."
        ) from exc


class _Logger:
    """Keeps yt-dlp quiet; its errors still arrive as exceptions."""

    def debug(self, msg: str) -> None: ...

    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...

    def error(self, msg: str) -> None: ...


def js_runtimes() -> dict[str, dict]:
    """JavaScript runtimes on PATH for yt-dlp's YouTube challenges (with yt-dlp-ejs).

    yt-dlp enables only deno by default; any other installed runtime is just as good.
    """
    executables = {"deno": "deno", "node": "node", "bun": "bun", "quickjs": "qjs"}
    found = {name: {} for name, exe in executables.items() if shutil.which(exe)}
    return found or {"deno": {}}


def download_with_ytdlp(
    url: str,
    workdir: Path,
    *,
    start: float | None = None,
    duration: float | None = None,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> Path:
    """Download the best audio-only stream of ``url`` into ``workdir`` with yt-dlp.

    Works for any URL yt-dlp can read (the YouTube path passes a canonical watch URL; tests
    pass a local HTTP file through yt-dlp's generic extractor). A section is cut by yt-dlp's
    ``download_ranges`` so only that part is fetched; a video longer than the duration limit
    is cut to its first ``limits.max_duration_s`` from ``start``. Raises
    :class:`AudioInputError`.
    """
    import yt_dlp
    from yt_dlp.utils import download_range_func

    options: dict = {
        "format": "bestaudio/best",
        "outtmpl": str(workdir / "download.%(ext)s"),
        "paths": {"home": str(workdir), "temp": str(workdir)},
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _Logger(),
        "socket_timeout": SOCKET_TIMEOUT_S,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "cachedir": False,
        "max_filesize": int(limits.max_file_mb * 1e6),
        "js_runtimes": js_runtimes(),
    }
    if start or duration is not None:
        end = (start or 0.0) + (duration if duration is not None else limits.max_duration_s)
        options["download_ranges"] = download_range_func(None, [(start or 0.0, end)])
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
            if info.get("_type") in ("playlist", "multi_video"):
                raise AudioInputError(
                    f"That link is a playlist; paste a link to a single video, or {UPLOAD_HINT}."
                )
            if info.get("is_live"):
                raise AudioInputError(
                    f"That video is a live stream, which cannot be fetched; {UPLOAD_HINT}."
                )
            length, begin = info.get("duration"), start or 0.0
            if duration is None and length and length - begin > limits.max_duration_s:
                # A mix or an album: fetch only the first stretch the limits allow.
                ydl.params["download_ranges"] = download_range_func(
                    None, [(begin, begin + limits.max_duration_s)]
                )
            info = ydl.process_ie_result(info, download=True)
    except AudioInputError:
        raise
    except Exception as exc:  # yt-dlp raises many types; all become one sentence
        raise map_download_error(exc) from exc
    files = [p for p in workdir.iterdir() if p.is_file() and not p.name.endswith(".part")]
    if not files:
        raise AudioInputError(
            f"Nothing was downloaded (the audio is probably over the "
            f"{limits.max_file_mb:.0f} MB limit); {UPLOAD_HINT}."
        )
    return max(files, key=lambda p: p.stat().st_size)


def to_cached_wav(source: Path, target: Path, *, limits: AudioLimits = DEFAULT_LIMITS) -> Path:
    """Convert ``source`` to a mono 22050 Hz WAV at ``target`` atomically; capped at the limit."""
    probe_audio(source, limits=AudioLimits(max_file_mb=float("inf"), max_duration_s=float("inf")))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.partial.wav")
    try:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-vn", "-ac", "1",
             "-ar", str(limits.sample_rate), "-t", f"{limits.max_duration_s:.3f}",
             "-c:a", "pcm_s16le", str(partial)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        os.replace(partial, target)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise AudioInputError(
            f"The downloaded audio could not be converted (it may be damaged); {UPLOAD_HINT}."
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def fetch_youtube_audio(
    url: str,
    start: float | None = None,
    duration: float | None = None,
    *,
    cache_root: Path | None = None,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> Path:
    """The audio of one YouTube video (or a section of it) as a cached WAV file.

    ``start`` defaults to the link's ``?t=``; ``duration=None`` means to the end, at most
    ``limits.max_duration_s``. A cached section is returned without touching the network.
    Raises :class:`AudioInputError`.
    """
    ref = parse_youtube_url(url)
    start = ref.start_s if start is None else start
    if (start is not None and start < 0) or (duration is not None and duration <= 0):
        raise AudioInputError(
            "The start time must be 0 or more and the duration more than 0 seconds; "
            "check the numbers and try again."
        )
    target = cache_path(ref, start, duration, cache_root or cache_dir())
    if target.is_file():
        return target
    check_network()
    with tempfile.TemporaryDirectory(prefix="musicrs-yt-") as tmp:
        downloaded = download_with_ytdlp(
            ref.url, Path(tmp), start=start, duration=duration, limits=limits
        )
        return to_cached_wav(downloaded, target, limits=limits)
