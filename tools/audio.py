"""Audio ingest: probe a file, enforce limits, decode it to mono float32 at a fixed rate.

Conventions
-----------
- Every bad input raises :class:`AudioInputError`, whose message is ONE sentence a user
  can act on (docs/bad-input.md). Nothing else escapes :func:`load_audio` for bad files.
- Samples are mono ``float32`` in [-1, 1] at ``limits.sample_rate`` (22050 Hz by default);
  times are seconds, sizes bytes, levels dBFS.
- Limits are checked cheapest first: file size, then the container's declared duration
  (``ffprobe``, no decoding), then the decoded signal. A 3-hour file is therefore rejected
  in milliseconds, and the decoder is also capped so a lying header cannot make it run on.
- Decoding pipes ffmpeg's raw output through memory: no temporary files are ever written.
  (pydub wraps the same ffmpeg but buffers a 16-bit WAV copy and has no timeout, so we
  call ffmpeg directly.)

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import errno
import json
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
from pydantic import BaseModel

DEFAULT_SAMPLE_RATE = 22050
SUPPORTED_FORMATS = "mp3, wav, flac, ogg/opus, m4a or webm"
_FFPROBE_TIMEOUT_S = 30.0
# Decoding runs at hundreds of times real time; this only stops a pathological file.
_FFMPEG_TIMEOUT_S = 120.0


class AudioInputError(ValueError):
    """Bad audio input; ``str(error)`` is one actionable sentence for the user."""


@dataclass(frozen=True)
class AudioLimits:
    """What :func:`load_audio` accepts. Defaults follow issue 4."""

    max_file_mb: float = 50.0
    max_duration_s: float = 15 * 60.0
    min_duration_s: float = 0.5
    sample_rate: int = DEFAULT_SAMPLE_RATE
    # Peak below this level counts as digital silence (-60 dBFS is far under any recording's
    # noise floor, yet above dither).
    silence_dbfs: float = -60.0


DEFAULT_LIMITS = AudioLimits()


class AudioSource(BaseModel):
    """What the file claimed to be before decoding (from ffprobe)."""

    path: str
    format_name: str
    codec: str
    channels: int
    sample_rate: int
    declared_duration_s: float | None
    size_bytes: int


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded file: mono float32 samples at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    source: AudioSource
    # Non-fatal problems worth telling the user, e.g. a truncated file that still decoded.
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioInputError(
            "Audio decoding needs ffmpeg, which is not installed here; install it "
            "(e.g. `apt-get install ffmpeg`) and try again."
        )


def _fmt_duration(seconds: float) -> str:
    """'3 h 0 min', '15 min', '42 s': short and unambiguous for messages."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    return f"{seconds:.0f} s"


def _not_audio(name: str) -> AudioInputError:
    return AudioInputError(
        f"'{name}' is not an audio file that can be read (it may be damaged or a renamed "
        f"non-audio file); please upload an {SUPPORTED_FORMATS} file instead."
    )


def check_audio_path(path: str | Path) -> int:
    """The size in bytes of the regular file at ``path``, or one sentence saying why not.

    Names what is really wrong: a ``file://`` URL, a name too long for the file system, a
    directory, a missing or unreadable file (``Path.is_file`` would raise or say "missing").
    """
    text = str(path)
    if text[:7].lower() == "file://":
        rest = unquote(text[7:])
        local = rest if rest.startswith("/") else "/" + rest.split("/", 1)[-1]
        raise AudioInputError(
            f"'{text}' is a file:// URL, not a file path; give the path itself ('{local}')."
        )
    p = Path(path)
    try:
        info = p.stat()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise AudioInputError(
                f"The file name '{p.name[:40]}…' is too long for this system "
                f"({len(p.name)} characters); rename the file and try again."
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise AudioInputError(
                f"No audio file was found at '{text}'; check the path or upload it again."
            ) from None
        raise AudioInputError(
            f"'{p.name or text}' cannot be read ({exc.strerror or type(exc).__name__}); "
            "check its permissions or upload it again."
        ) from None
    if p.is_dir():
        raise AudioInputError(
            f"'{text}' is a directory, not an audio file; give the path of a clip inside it."
        )
    if not p.is_file():
        raise AudioInputError(f"'{text}' is not a regular file; give the path of an audio file.")
    return info.st_size


def probe_audio(path: str | Path, *, limits: AudioLimits = DEFAULT_LIMITS) -> AudioSource:
    """Check size and declared duration without decoding; return what the file claims to be."""
    _require_ffmpeg()
    p = Path(path)
    name = p.name or str(path)
    size = check_audio_path(path)
    if size == 0:
        raise AudioInputError(f"'{name}' is empty (0 bytes); please upload the audio file again.")
    if size > limits.max_file_mb * 1e6:
        raise AudioInputError(
            f"'{name}' is {size / 1e6:.0f} MB, over the {limits.max_file_mb:.0f} MB limit; "
            "please upload a shorter clip or a compressed (mp3/ogg) version."
        )
    try:
        run = subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(p)],
            capture_output=True,
            timeout=_FFPROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _not_audio(name) from exc
    info = json.loads(run.stdout or b"{}") if run.returncode == 0 else {}
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        if info.get("streams"):
            raise AudioInputError(
                f"'{name}' contains no audio track; please upload a file with sound in it."
            )
        raise _not_audio(name)
    stream = streams[0]
    declared = _declared_duration(info.get("format", {}), stream)
    if declared is not None and declared > limits.max_duration_s:
        raise AudioInputError(
            f"'{name}' is {_fmt_duration(declared)} long, over the "
            f"{_fmt_duration(limits.max_duration_s)} limit; please upload a shorter clip."
        )
    return AudioSource(
        path=str(p),
        format_name=str(info.get("format", {}).get("format_name", "unknown")),
        codec=str(stream.get("codec_name", "unknown")),
        channels=int(stream.get("channels") or 0),
        sample_rate=int(stream.get("sample_rate") or 0),
        declared_duration_s=declared,
        size_bytes=size,
    )


def _declared_duration(fmt: dict, stream: dict) -> float | None:
    for value in (stream.get("duration"), fmt.get("duration")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    return None


def _decode(path: Path, *, sample_rate: int, max_seconds: float) -> tuple[np.ndarray, str]:
    """ffmpeg → mono float32 at ``sample_rate`` for at most ``max_seconds``: (samples, stderr)."""
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path),
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate),
        "-t", f"{max_seconds:.3f}", "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    # One writable copy of ffmpeg's bytes; later clean-up works on it in place.
    samples = np.frombuffer(run.stdout, dtype="<f4").astype(np.float32, copy=True)
    return samples, run.stderr.decode("utf-8", "replace").strip()


def load_audio(path: str | Path, *, limits: AudioLimits = DEFAULT_LIMITS) -> DecodedAudio:
    """Decode ``path`` to mono float32 at ``limits.sample_rate``, enforcing ``limits``.

    Raises :class:`AudioInputError` (one sentence) for missing, empty, non-audio, damaged,
    too long, too large, too short or silent input. Multichannel and high-rate files are
    downmixed and resampled.
    """
    source = probe_audio(path, limits=limits)
    p = Path(path)
    # Decode one second past the limit so an over-long file whose header lied is caught.
    try:
        samples, stderr = _decode(
            p, sample_rate=limits.sample_rate, max_seconds=limits.max_duration_s + 1.0
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioInputError(
            f"Decoding '{p.name}' took too long, so the file is probably damaged; please "
            "upload it again or convert it to mp3 or wav."
        ) from exc
    duration = len(samples) / limits.sample_rate
    if duration < limits.min_duration_s:
        raise AudioInputError(
            f"'{p.name}' has no decodable audio (it may be truncated or damaged); please "
            f"upload a complete {SUPPORTED_FORMATS} file."
        )
    if duration > limits.max_duration_s:
        raise AudioInputError(
            f"'{p.name}' is longer than the {_fmt_duration(limits.max_duration_s)} limit; "
            "please upload a shorter clip."
        )
    if not np.all(np.isfinite(samples)):
        np.nan_to_num(samples, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(samples)))
    if peak <= 10 ** (limits.silence_dbfs / 20):
        raise AudioInputError(
            f"'{p.name}' is silent ({_fmt_duration(duration)} with no sound above "
            f"{limits.silence_dbfs:.0f} dBFS); please upload a clip with audible sound."
        )
    warnings: list[str] = []
    declared = source.declared_duration_s
    if stderr or (declared is not None and duration < 0.9 * declared - 1.0):
        warnings.append(
            f"'{p.name}' looks truncated or damaged; only the first "
            f"{_fmt_duration(duration)} could be decoded and analysed."
        )
    return DecodedAudio(
        samples=np.clip(samples, -1.0, 1.0, out=samples),
        sample_rate=limits.sample_rate,
        source=source,
        warnings=tuple(warnings),
    )


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr via librosa) for the models' input rates."""
    if orig_sr == target_sr:
        return samples
    import librosa  # deferred: importing librosa costs ~1 s and only analysis needs it

    return librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


def level_curve_db(
    samples: np.ndarray, sample_rate: int, *, max_points: int = 120
) -> tuple[list[float], float]:
    """RMS level (dBFS) of the whole signal, at most ``max_points`` values; returns (curve, hop_s).

    The hop is at least 0.5 s so a short clip's curve is not jittery; floor -100 dBFS.
    """
    duration = len(samples) / sample_rate
    hop_s = max(0.5, duration / max_points)
    hop = max(1, min(len(samples), round(hop_s * sample_rate)))
    n = max(1, len(samples) // hop)
    frames = samples[: n * hop].reshape(n, hop)
    # einsum accumulates in float64 without materialising a float64 copy of a long file.
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / hop)
    curve = 20 * np.log10(np.maximum(rms, 1e-5))
    return [round(float(v), 2) for v in curve], hop / sample_rate
