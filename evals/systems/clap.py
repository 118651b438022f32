"""``clap``: the paper's CLAP retrieval baseline (its ``retrieval/clap.py``) in all three modes.

Protocol, as the paper runs it:

- Candidates and the query are embedded one text at a time with ``get_text_features`` and
  L2-normalised (one text per call, so no padding enters a vector); candidate vectors are
  memoised per process, since names recur across pools.
- Audio: at most :data:`MAX_FILES` clips per thread (a ``random.Random(seed)`` sample when
  there are more), a budget of :data:`BUDGET_S` seconds cut into :data:`SEGMENT_S`-second
  segments spread evenly over each clip (``ceil(segments / clips)`` per clip, starting at 0
  and ending at the clip's end; a clip no longer than a segment gives one), loaded mono at
  the processor's sampling rate; each segment's ``get_audio_features`` vector is
  normalised, their mean normalised again.
- ``query_only`` scores cos(query, name); ``audio_only`` cos(audio, name); ``audio_query``
  cos(normalise(w·audio + (1−w)·query), name) with w = :data:`AUDIO_WEIGHT`, falling back to
  the one input present. Candidates are ordered by descending score.
- Threads the paper skips are skipped here too: ``notes["skipped"]`` says why (no query in
  ``query_only``, no clip in ``audio_only``, neither in ``audio_query``); the runner
  leaves them out of the metrics.

Differences, both without effect on MusiCRS: texts are truncated at the tokenizer's limit
(no MusiCRS query reaches it; the paper's script would fail on such a thread), and a thread
whose clips are all unreadable keeps the request's seeded order (the paper's keeps the file
order, which a system does not see).

Options: ``model=`` a Hugging Face id or a local folder holding a ``ClapModel`` and its
``ClapProcessor`` (default :data:`DEFAULT_MODEL`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext, SystemChoiceError

DEFAULT_MODEL = "laion/larger_clap_music_and_speech"
SEGMENT_S = 10.0  # about CLAP's receptive field
BUDGET_S = 300.0  # audio per thread
MAX_FILES = 10  # clips per thread
AUDIO_WEIGHT = 0.5  # audio's share of the audio_query fusion


def segment_starts(total_s: float, per_file: int) -> list[float]:
    """Start times of ``per_file`` segments spread evenly over a clip of ``total_s`` seconds."""
    if total_s <= SEGMENT_S or per_file == 1:
        return [0.0]
    return [i * (total_s - SEGMENT_S) / (per_file - 1) for i in range(per_file)]


def clip_seconds(path: Path) -> float | None:
    """A clip's length from its header, else by decoding it; None when it cannot be read."""
    import librosa
    import soundfile

    try:
        info = soundfile.info(str(path))
        return info.frames / float(info.samplerate) if info.samplerate > 0 else 0.0
    except Exception:  # any unreadable header: try decoding, as the paper does
        try:
            samples, rate = librosa.load(str(path), sr=None, mono=True)
        except Exception:  # an unreadable clip is skipped, as the paper does
            return None
        return len(samples) / float(rate)


def audio_segments(paths: Sequence[Path], sample_rate: int, seed: int) -> list[np.ndarray]:
    """The thread's audio budget as mono segments at ``sample_rate`` (module conventions)."""
    import librosa

    chosen = list(paths)
    if len(chosen) > MAX_FILES:
        chosen = random.Random(seed).sample(chosen, k=MAX_FILES)
    wanted = max(1, int(BUDGET_S // SEGMENT_S))
    per_file = max(1, math.ceil(wanted / max(1, len(chosen))))
    segments: list[np.ndarray] = []
    for path in chosen:
        total_s = clip_seconds(path)
        if total_s is None:
            continue
        for start in segment_starts(total_s, per_file):
            try:
                samples, _ = librosa.load(
                    str(path), sr=sample_rate, mono=True, offset=start, duration=SEGMENT_S
                )
            except Exception:  # an unreadable segment is skipped, as the paper does
                continue
            if len(samples):
                segments.append(samples.astype(np.float32))
            if len(segments) >= wanted:
                return segments
    return segments


def skip_reason(mode: str, has_query: bool, has_audio: bool) -> str | None:
    """Why the paper's script leaves a thread out of ``mode``, or None when it scores it."""
    if mode == "query_only" and not has_query:
        return "no query"
    if mode == "audio_only" and not has_audio:
        return "no audio"
    if mode == "audio_query" and not (has_query or has_audio):
        return "neither query nor audio"
    return None


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


class ClapSystem(RankingSystem):
    name = "clap"
    description = (
        "the paper's CLAP retrieval (query/audio vs names); needs CLAP weights: "
        f"--option model=ID|PATH (default {DEFAULT_MODEL})"
    )
    modes = frozenset({"query_only", "audio_only", "audio_query"})

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.model_id = context.options.get("model") or DEFAULT_MODEL
        self.model, self.processor = load_clap(self.model_id)
        self.sample_rate = int(self.processor.feature_extractor.sampling_rate)
        self.names: dict[str, np.ndarray] = {}

    def text_vector(self, text: str) -> np.ndarray:
        """One text, alone in its batch (as the paper embeds), normalised."""
        import torch

        inputs = self.processor(text=[text], return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            features = self.model.get_text_features(**inputs).pooler_output[0]
        return unit(features.float().numpy())

    def audio_vector(self, paths: Sequence[Path]) -> np.ndarray | None:
        """The mean of the normalised segment vectors, normalised; None without audio."""
        import torch

        vectors = []
        for segment in audio_segments(paths, self.sample_rate, self.context.seed):
            inputs = self.processor(
                audio=[segment], sampling_rate=self.sample_rate, return_tensors="pt"
            )
            with torch.no_grad():
                features = self.model.get_audio_features(**inputs).pooler_output[0]
            vectors.append(unit(features.float().numpy()))
        return unit(np.mean(vectors, axis=0)) if vectors else None

    def rank(self, request: RankingRequest) -> RankedList:
        query = (request.query or "").strip()
        skipped = skip_reason(request.mode, bool(query), bool(request.audio_paths))
        if skipped:
            return RankedList(list(request.candidates), notes={"skipped": skipped})
        parts: list[tuple[float, np.ndarray]] = []
        if request.mode != "query_only":
            audio = self.audio_vector(request.audio_paths)
            if audio is not None:
                parts.append((AUDIO_WEIGHT if request.mode == "audio_query" else 1.0, audio))
        if request.mode != "audio_only" and query:
            parts.append((1.0 - AUDIO_WEIGHT if parts else 1.0, self.text_vector(query)))
        if not parts:
            return RankedList(list(request.candidates), notes={"unranked": "no usable input"})
        target = unit(sum(weight * vector for weight, vector in parts))
        for name in request.candidates:
            if name not in self.names:
                self.names[name] = self.text_vector(name)
        scores = np.stack([self.names[c] for c in request.candidates]) @ target
        order = np.argsort(-scores, kind="stable")
        return RankedList([request.candidates[i] for i in order], notes={"inputs": len(parts)})


def load_clap(model_id: str) -> tuple[Any, Any]:
    """The ``ClapModel`` and ``ClapProcessor`` at ``model_id``, or one sentence naming the
    option when they cannot be loaded (no network, a wrong id or path)."""
    from transformers import ClapModel, ClapProcessor

    try:
        processor = ClapProcessor.from_pretrained(model_id)
        model = ClapModel.from_pretrained(model_id).eval()
    except (OSError, ValueError):
        raise SystemChoiceError(
            f"clap could not load CLAP weights from {model_id!r} (no network, or not a "
            "ClapModel folder); pass a downloaded copy with --option model=PATH."
        ) from None
    return model, processor
