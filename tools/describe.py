"""Describe a clip for a language model: DSP features, tags, lyrics and a one-paragraph summary.

Conventions
-----------
- :func:`describe_audio` raises :class:`tools.audio.AudioInputError` only when the file
  itself is unusable. Each *part* (``dsp``, ``tags``, ``lyrics``) can be switched off and
  runs in isolation: if one fails, the others are kept and ``skipped[part]`` says why.
- Long files are analysed on a few representative windows (default: three 15 s windows at
  25 %, 50 % and 75 % of the track); anything up to ``window_s * max_windows`` is analysed
  whole. The loudness curve always covers the whole file.
- Tags run in the tagger's worker process while DSP and lyrics run here, so the parts
  overlap in time on a multi-core machine.
- CLI: ``python -m tools.describe FILE_OR_URL [--json] [--no-dsp] [--no-tags] [--no-lyrics]``.

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from tools.audio import (
    DEFAULT_LIMITS,
    AudioInputError,
    AudioLimits,
    AudioSource,
    level_curve_db,
    load_audio,
    resample,
)
from tools.dsp import DspFeatures
from tools.tagger import AudioTag

Part = Literal["dsp", "tags", "lyrics"]
PARTS: tuple[Part, ...] = ("dsp", "tags", "lyrics")
MODEL_RATE = 16000  # musicnn and Whisper both take 16 kHz
TOP_TAGS = 10
SUMMARY_TAGS = 5
# Tags below this mean activation are noise for a summary (musicnn rarely exceeds 0.6).
SUMMARY_TAG_MIN_SCORE = 0.1
SWITCHED_OFF = "switched off by the caller"
SUMMARY_LYRICS_CHARS = 300  # the summary quotes this much; ``lyrics`` keeps all of it

__all__ = [
    "AudioDescription",
    "AudioTag",
    "DspFeatures",
    "describe_audio",
    "describe_source",
    "warm_up",
]


class AudioDescription(BaseModel):
    """Everything learnt about one clip. ``summary`` is what a language model should read."""

    summary: str = Field(description="One plain-English paragraph describing the clip.")
    source: AudioSource
    duration_s: float = Field(description="Decoded length of the whole file in seconds.")
    analysed_windows_s: list[tuple[float, float]] = Field(
        description="(start, end) seconds of the parts of the file that were analysed."
    )
    features: DspFeatures | None = None
    tags: list[AudioTag] = Field(default_factory=list, description="Best tags first.")
    lyrics: str | None = Field(
        default=None, description="Words heard; None if none (or if lyrics were skipped)."
    )
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Part name ('dsp', 'tags', 'lyrics') → why not run."
    )
    notes: list[str] = Field(default_factory=list, description="Non-fatal warnings.")
    loudness_curve_db: list[float] = Field(
        default_factory=list,
        description="RMS level in dBFS of the WHOLE file, one value every "
        "loudness_curve_hop_s seconds (≤ 120 points), for a plot.",
    )
    loudness_curve_hop_s: float = 0.5
    timings_s: dict[str, float] = Field(
        default_factory=dict, description="Wall-clock seconds per stage (decode, dsp, ...)."
    )


def analysis_windows(
    n_samples: int, sample_rate: int, *, window_s: float = 20.0, max_windows: int = 3
) -> list[tuple[int, int]]:
    """Sample ranges to analyse: the whole clip if short, else evenly spread windows."""
    window = int(window_s * sample_rate)
    if n_samples <= window * max_windows:
        return [(0, n_samples)]
    centres = [n_samples * (i + 1) / (max_windows + 1) for i in range(max_windows)]
    return [(int(c - window / 2), int(c - window / 2) + window) for c in centres]


def _run_dsp(samples: np.ndarray, sample_rate: int) -> DspFeatures:
    from tools.dsp import compute_features

    return compute_features(samples, sample_rate)


def _run_tags(samples_16k: np.ndarray) -> list[AudioTag]:
    from tools.tagger import get_tagger

    return get_tagger().tag(samples_16k)[:TOP_TAGS]


def _run_lyrics(samples_16k: np.ndarray) -> tuple[str | None, str | None]:
    """(transcript or None, a note about the model used or None)."""
    from tools.lyrics import get_transcriber

    transcriber = get_transcriber()
    return transcriber.transcribe(samples_16k), transcriber.note


def _failure(part: str, exc: Exception) -> str:
    detail = str(exc).strip().rstrip(".") or type(exc).__name__
    return f"{part} analysis failed ({detail})."


def describe_audio(
    path: str | Path,
    *,
    dsp: bool = True,
    tags: bool = True,
    lyrics: bool = True,
    limits: AudioLimits = DEFAULT_LIMITS,
    window_s: float = 15.0,
    max_windows: int = 3,
) -> AudioDescription:
    """Decode ``path`` and describe it; see the module docstring for the guarantees."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    decoded = load_audio(path, limits=limits)
    timings["decode"] = time.perf_counter() - started
    sr = decoded.sample_rate
    windows = analysis_windows(len(decoded.samples), sr, window_s=window_s, max_windows=max_windows)
    analysed = np.concatenate([decoded.samples[a:b] for a, b in windows])
    skipped = {
        part: SWITCHED_OFF for part, on in zip(PARTS, (dsp, tags, lyrics), strict=True) if not on
    }
    notes = list(decoded.warnings)
    samples_16k = resample(analysed, sr, MODEL_RATE) if tags or lyrics else analysed

    def timed(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            timings[name] = time.perf_counter() - t0

    features: DspFeatures | None = None
    tag_list: list[AudioTag] = []
    transcript: str | None = None
    # Tags wait on the worker process and Whisper runs in CTranslate2, both outside the GIL,
    # so running them in threads beside the DSP overlaps all three parts.
    with ThreadPoolExecutor(max_workers=2) as pool:
        tag_future = pool.submit(timed, "tags", _run_tags, samples_16k) if tags else None
        lyrics_future = pool.submit(timed, "lyrics", _run_lyrics, samples_16k) if lyrics else None
        if dsp:
            try:
                features = timed("dsp", _run_dsp, analysed, sr)
            except Exception as exc:  # a part's failure is reported, never fatal
                skipped["dsp"] = _failure("DSP", exc)
        if lyrics_future is not None:
            try:
                transcript, note = lyrics_future.result()
                notes.extend([note] if note else [])
            except Exception as exc:
                skipped["lyrics"] = _failure("Lyrics", exc)
        if tag_future is not None:
            try:
                tag_list = tag_future.result()
            except Exception as exc:
                skipped["tags"] = _failure("Tagging", exc)
    curve, hop = level_curve_db(decoded.samples, sr)
    windows_s = [(round(a / sr, 2), round(b / sr, 2)) for a, b in windows]
    timings["total"] = time.perf_counter() - started
    summary = summarize(
        duration_s=decoded.duration_s,
        windows_s=windows_s,
        features=features,
        tags=tag_list,
        lyrics=transcript,
        skipped=skipped,
    )
    return AudioDescription(
        summary=summary,
        source=decoded.source,
        duration_s=round(decoded.duration_s, 2),
        analysed_windows_s=windows_s,
        features=features,
        tags=tag_list,
        lyrics=transcript,
        skipped=skipped,
        notes=notes,
        loudness_curve_db=curve,
        loudness_curve_hop_s=round(hop, 3),
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def warm_up(*, dsp: bool = True, tags: bool = True, lyrics: bool = True) -> None:
    """Load every model and compile librosa's kernels now (e.g. at app start), so the first
    user's clip is described as fast as any later one. Failures surface later as skips."""
    from tools.dsp import warm_up as warm_dsp
    from tools.lyrics import get_transcriber
    from tools.tagger import TaggerError, get_tagger

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(get_tagger().start) if tags else None
        if dsp:
            warm_dsp()
        if lyrics:
            get_transcriber()
        if started is not None:
            with contextlib.suppress(TaggerError):
                started.result()


def _length_phrase(duration_s: float, windows_s: list[tuple[float, float]]) -> str:
    if duration_s < 90:
        phrase = f"A {duration_s:.0f}-second clip"
    else:
        phrase = f"A {duration_s / 60:.0f}-minute track"
    if len(windows_s) > 1:
        analysed = sum(b - a for a, b in windows_s)
        phrase += f" (analysed in {len(windows_s)} windows, {analysed:.0f} s in all)"
    return phrase


def _character(f: DspFeatures) -> list[str]:
    """Plain words for the DSP numbers; thresholds are rough everyday-music anchors."""
    words = []
    if f.tempo_confidence >= 0.2:
        pace = (
            "slow" if f.tempo_bpm < 76 else "mid-tempo" if f.tempo_bpm < 108
            else "upbeat" if f.tempo_bpm < 140 else "fast"
        )  # fmt: skip
        words.append(f"{pace} ({f.tempo_bpm:.0f} BPM)")
    else:
        words.append(f"without a steady beat (tempo guess {f.tempo_bpm:.0f} BPM)")
    hedge = "" if f.key_confidence >= 0.5 else "possibly "
    words.append(f"{hedge}in {f.key} {f.mode}")
    level = (
        "very quiet" if f.loudness_lufs < -30 else "quiet" if f.loudness_lufs < -20
        else "moderately loud" if f.loudness_lufs < -12 else "loud"
    )  # fmt: skip
    words.append(f"{level} ({f.loudness_lufs:.0f} LUFS)")
    if f.onset_density < 1.5:
        words.append("sparse")
    elif f.onset_density > 4:
        words.append("busy")
    if f.percussive_ratio > 0.35:
        words.append("percussion-heavy")
    elif f.percussive_ratio < 0.1:
        words.append("smooth and sustained (little percussion)")
    if f.brightness_hz < 1200:
        words.append("warm/dark in tone")
    elif f.brightness_hz > 3500:
        words.append("bright and hissy in tone")
    if f.dynamic_range_db > 10:
        words.append("with wide dynamics")
    elif f.dynamic_range_db < 3:
        words.append("at a steady level")
    return words


def summarize(
    *,
    duration_s: float,
    windows_s: list[tuple[float, float]],
    features: DspFeatures | None,
    tags: list[AudioTag],
    lyrics: str | None,
    skipped: dict[str, str],
) -> str:
    """One paragraph: length, character, tags, voice, and what was not analysed."""
    sentences = [_length_phrase(duration_s, windows_s)]
    if features is not None:
        sentences[0] += ": " + ", ".join(_character(features))
    sentences[0] += "."
    strong = [t.name for t in tags if t.score >= SUMMARY_TAG_MIN_SCORE][:SUMMARY_TAGS]
    if strong:
        sentences.append("Tags: " + ", ".join(strong) + ".")
    elif "tags" not in skipped:
        sentences.append("No tag scored clearly.")
    if lyrics:
        limit = SUMMARY_LYRICS_CHARS
        quoted = lyrics if len(lyrics) <= limit else lyrics[:limit].rstrip() + "…"
        sentences.append(f'Words heard: "{quoted}"')
    elif features is not None and features.vocals_likely:
        sentences.append("A voice is likely present, but no words could be made out.")
    elif "lyrics" not in skipped or features is not None:
        sentences.append("No vocals detected.")
    if skipped:
        sentences.append(
            "Not analysed: "
            + "; ".join(f"{p} ({why.rstrip('.')})" for p, why in skipped.items())
            + "."
        )
    return " ".join(sentences)


def describe_source(source: str, **options) -> AudioDescription:
    """:func:`describe_audio` for a file path or a YouTube link (fetched and cached first)."""
    from tools.youtube import fetch_youtube_audio, looks_like_url

    path = fetch_youtube_audio(source) if looks_like_url(source) else source
    return describe_audio(path, **options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.describe", description="Describe an audio file or YouTube link."
    )
    parser.add_argument("source", help="audio file path or YouTube video URL")
    parser.add_argument("--json", action="store_true", help="print the full description as JSON")
    parser.add_argument("--no-dsp", action="store_true", help="skip tempo/key/loudness features")
    parser.add_argument("--no-tags", action="store_true", help="skip musicnn tags")
    parser.add_argument("--no-lyrics", action="store_true", help="skip Whisper transcription")
    parser.add_argument(
        "--window", type=float, default=15.0, help="window length (s) for long files"
    )
    parser.add_argument("--windows", type=int, default=3, help="number of windows for long files")
    args = parser.parse_args(argv)
    try:
        description = describe_source(
            args.source,
            dsp=not args.no_dsp,
            tags=not args.no_tags,
            lyrics=not args.no_lyrics,
            window_s=args.window,
            max_windows=args.windows,
        )
    except AudioInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(description.model_dump_json(indent=2))
    else:
        print(description.summary)
        for note in description.notes:
            print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
