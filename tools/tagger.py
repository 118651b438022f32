"""Music tags (genre, mood, instruments) from musicnn, run in a persistent worker process.

Conventions
-----------
- Input is mono float32 at :data:`SAMPLE_RATE` (16 kHz, musicnn's rate); output is a list
  of :class:`AudioTag` sorted by score, scores in [0, 1] (mean sigmoid over 3 s patches).
- Two checkpoints that ship with musicnn are used together: ``MTT_musicnn`` (MagnaTagATune:
  instruments, tempo and mood words) and ``MSD_musicnn`` (Million Song Dataset: genres,
  eras, moods). A tag name both know keeps the higher score.
- musicnn needs TensorFlow's v1 graph mode, which it switches on process-wide. It therefore
  runs in its own process (``python -m tools.tagger``, a fresh interpreter, so nothing is
  inherited from a main process that may already hold torch or CTranslate2 threads); the
  worker keeps the graphs loaded, so after its start-up every request is warm.
- Two requests: a clip (its tags, :meth:`MusicTagger.tag`) and ``("embed", clip)``
  (:meth:`MusicTagger.embed`: the taggram statistics and the penultimate layer the sound
  index needs, in one round trip; its DSP traits are read by :mod:`tools.sound` at the
  decoding rate, as ``describe`` reads them).
- Traps handled here (docs/architecture.md): ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is
  imported; the log-mel input is computed in float32 (musicnn's ``batch_data`` uses float16,
  which overflows under numpy 2 and makes every clip look alike); the checkpoint restore is
  checked variable by variable, because musicnn's own loader swallows restore errors.

Must not import ``agent``, ``demo`` or ``evals``; TensorFlow is imported only in the worker.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

SAMPLE_RATE = 16000
FFT_HOP = 256
FFT_SIZE = 512
N_MELS = 96
PATCH_FRAMES = 188  # musicnn's 3 s input: time_to_frames(3 s) + 1 at hop 256, 16 kHz
DEFAULT_MODELS = ("MTT_musicnn", "MSD_musicnn")
KNOWN_MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
_START_TIMEOUT_S = 180.0
_REQUEST_TIMEOUT_S = 60.0
# Patches per session.run: TF keeps buffers sized for the largest batch it has seen, so
# bounding the batch bounds the worker's memory (a 60 s request is 20 patches).
_MAX_PATCHES = 8


class TaggerError(RuntimeError):
    """The tagger could not start or answer; the message is one sentence."""


class _WorkerGone(TaggerError):
    """The worker process ended (it may be restarted)."""


class AudioTag(BaseModel):
    """One tag with its score."""

    name: str = Field(description="Lower-case tag, e.g. 'piano', 'techno', 'sad'.")
    score: float = Field(description="Mean sigmoid activation over the clip, 0-1.")
    source: str = Field(description="Checkpoint that produced it: 'MTT' or 'MSD'.")


class ClipEmbedding(BaseModel):
    """The raw material of a clip's sound vector, computed in the worker (see
    :mod:`tools.sound`, which weighs and normalises it)."""

    taggram_mean: dict[str, list[float]] = Field(description="Model → mean tag probability.")
    taggram_std: dict[str, list[float]] = Field(description="Model → its spread over patches.")
    penultimate: dict[str, list[float]] = Field(description="Model → mean penultimate layer.")


def musicnn_input(samples_16k: np.ndarray) -> np.ndarray:
    """musicnn's ``batch_data`` in float32: log-compressed mel patches, (patches, 188, 96).

    ``log10(10000 * mel + 1)`` as musicnn trained it, without its float16 cast. Clips shorter
    than one patch are zero-padded rather than dropped (musicnn would crash on them).
    """
    import librosa  # deferred: only the worker and tests need it

    mel = librosa.feature.melspectrogram(
        y=samples_16k.astype(np.float32),
        sr=SAMPLE_RATE,
        hop_length=FFT_HOP,
        n_fft=FFT_SIZE,
        n_mels=N_MELS,
    ).T.astype(np.float32)
    rep = np.log10(10000.0 * mel + 1.0)
    if rep.shape[0] < PATCH_FRAMES:
        rep = np.pad(rep, ((0, PATCH_FRAMES - rep.shape[0]), (0, 0)))
    starts = range(0, rep.shape[0] - PATCH_FRAMES + 1, PATCH_FRAMES)
    return np.stack([rep[s : s + PATCH_FRAMES] for s in starts])


def merge_tags(
    scores: dict[str, Sequence[float]], labels: dict[str, Sequence[str]]
) -> list[AudioTag]:
    """One list from several checkpoints' mean scores; a duplicated name keeps its best score."""
    best: dict[str, AudioTag] = {}
    for model, model_scores in scores.items():
        for label, score in zip(labels[model], model_scores, strict=True):
            name = label.lower()
            if name not in best or score > best[name].score:
                best[name] = AudioTag(
                    name=name, score=round(float(score), 4), source=model.split("_")[0]
                )
    return sorted(best.values(), key=lambda tag: tag.score, reverse=True)


@contextlib.contextmanager
def _quiet_fd(fd: int) -> Iterator[None]:
    """Silence a file descriptor (TensorFlow's C++ start-up logging) for the duration."""
    saved = os.dup(fd)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def verify_restored(
    model: str, values: Mapping[str, np.ndarray], stored: Mapping[str, np.ndarray]
) -> int:
    """Check every graph variable equals its checkpoint tensor; return how many were checked.

    musicnn's own loader swallows restore errors and tags with random initial weights, which
    looks like working code; this makes that failure loud.
    """
    if not values:
        raise TaggerError(f"musicnn model {model} defined no variables to restore.")
    for name, value in values.items():
        if name not in stored or not np.array_equal(value, stored[name]):
            raise TaggerError(f"musicnn checkpoint {model} did not restore variable {name}.")
    return len(values)


def _load_model(tf: Any, name: str, n_labels: int) -> tuple[tuple[Any, Any, Any, Any, Any], int]:
    """Build one musicnn graph in its own tf.Graph and restore it: (session, input,
    training flag, tag probabilities, penultimate layer or None for the VGG models), and how
    many variables were verified against the checkpoint."""
    from musicnn import models

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        with tf.name_scope("model"):
            outputs = models.define_model(x, is_training, name, n_labels)
        probabilities = tf.nn.sigmoid(outputs[0])
        # musicnn's last output is the 200-unit dense layer before the tags (VGG has none).
        penultimate = outputs[-1] if "musicnn" in name else None
        # One inter-op thread: the graph is a chain, and every extra pool costs memory.
        config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)
        session = tf.compat.v1.Session(graph=graph, config=config)
        checkpoint = os.path.join(os.path.dirname(models.__file__), name) + os.sep
        tf.compat.v1.train.Saver().restore(session, checkpoint)
        reader = tf.compat.v1.train.NewCheckpointReader(checkpoint)
        variables = tf.compat.v1.global_variables()
        values = dict(zip([v.op.name for v in variables], session.run(variables), strict=True))
    stored = {var: reader.get_tensor(var) for var in values if reader.has_tensor(var)}
    restored = verify_restored(name, values, stored)
    return (session, x, is_training, probabilities, penultimate), restored


def _patch_outputs(
    model: tuple[Any, ...], batch: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-patch tag probabilities and penultimate activations (None for VGG) of one model,
    run in chunks of at most :data:`_MAX_PATCHES` patches."""
    session, x, is_training, probabilities, penultimate = model
    fetches = [probabilities] if penultimate is None else [probabilities, penultimate]
    runs = [
        session.run(fetches, {x: chunk, is_training: False})
        for chunk in np.array_split(batch, -(-len(batch) // _MAX_PATCHES))
    ]
    tags = np.concatenate([run[0] for run in runs])
    return tags, None if penultimate is None else np.concatenate([run[1] for run in runs])


def _embedding(loaded: Mapping[str, tuple[Any, ...]], samples_16k: np.ndarray) -> ClipEmbedding:
    """What the sound index keeps of a clip: per model, the taggram's mean and standard
    deviation over patches and the penultimate layer's mean."""
    batch = musicnn_input(samples_16k)
    taggram_mean, taggram_std, penultimate = {}, {}, {}
    for name, model in loaded.items():
        tags, hidden = _patch_outputs(model, batch)
        taggram_mean[name] = tags.mean(axis=0).tolist()
        taggram_std[name] = tags.std(axis=0).tolist()
        if hidden is not None:
            penultimate[name] = hidden.mean(axis=0).tolist()
    return ClipEmbedding(
        taggram_mean=taggram_mean, taggram_std=taggram_std, penultimate=penultimate
    )


def _worker_main(requests: Connection, replies: Connection, model_names: tuple[str, ...]) -> None:
    """Worker loop: load once, then answer ``samples_16k`` requests until ``None`` arrives."""
    import warnings

    warnings.filterwarnings("ignore")  # musicnn's tf.compat.v1.layers deprecation warnings
    try:
        unknown = sorted(set(model_names) - set(KNOWN_MODELS))
        if unknown:
            raise ValueError(f"unknown musicnn model {', '.join(unknown)}")
        with _quiet_fd(2):
            import tensorflow as tf
            from musicnn import configuration

            labels = {
                name: configuration.MTT_LABELS
                if name.startswith("MTT")
                else configuration.MSD_LABELS
                for name in model_names
            }
            built = {name: _load_model(tf, name, len(labels[name])) for name in model_names}
            loaded = {name: model for name, (model, _) in built.items()}
            restored = {name: count for name, (_, count) in built.items()}
            # The first runs pay for TF's graph optimisation and librosa's numba compilation;
            # a 30 s noise clip (10 patches, a typical batch) does both now.
            noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE * 30)
            warm = musicnn_input((0.1 * noise).astype(np.float32))
            for session, x, is_training, probabilities, _ in loaded.values():
                session.run(probabilities, {x: warm, is_training: False})
    except Exception as exc:  # any start-up failure is reported, then the worker exits
        replies.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    replies.send(("ready", {"labels": labels, "restored": restored}))
    while True:
        try:
            request = requests.recv()
        except EOFError:  # the client process has gone
            return
        if request is None:
            return
        try:
            if isinstance(request, tuple):  # ("embed", samples): the sound index's request
                replies.send(("ok", _embedding(loaded, request[1]).model_dump()))
                continue
            scores = {
                name: _patch_outputs(model, musicnn_input(request))[0].mean(axis=0)
                for name, model in loaded.items()
            }
            replies.send(("ok", {name: s.tolist() for name, s in scores.items()}))
        except Exception as exc:  # a bad request must not kill the warm worker
            replies.send(("error", f"{type(exc).__name__}: {exc}"))


def _worker_cli() -> None:
    """``python -m tools.tagger MODEL...``: requests on stdin, replies on stdout.

    The reply channel is a private copy of stdout, and fd 1 is pointed at stderr, so a
    stray print from a library can never corrupt the protocol.
    """
    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    requests = Connection(os.dup(0), writable=False)
    _worker_main(requests, replies, tuple(sys.argv[1:]) or DEFAULT_MODELS)


class MusicTagger:
    """Client for the worker process; thread-safe, restarts the worker if it died.

    The worker is a plain ``python -m tools.tagger`` subprocess rather than a
    multiprocessing child: 'spawn' re-imports the parent's ``__main__`` module, which would
    re-run an unguarded script (a Gradio ``app.py``) inside the worker.
    """

    def __init__(self, model_names: tuple[str, ...] = DEFAULT_MODELS) -> None:
        self.model_names = model_names
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None
        self._labels: dict[str, Sequence[str]] = {}
        self.restored_variables: dict[str, int] = {}

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs (for RSS accounting)."""
        running = self._process is not None and self._process.poll() is None
        return self._process.pid if running else None

    @property
    def labels(self) -> dict[str, Sequence[str]]:
        """Each checkpoint's tag names, in its output order (known once started)."""
        with self._lock:
            self._ensure_started()
        return self._labels

    def start(self) -> None:
        """Start the worker and wait until its models are loaded and warm."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        env = dict(os.environ)
        # Set before TensorFlow is imported: musicnn's tf.compat.v1.layers need Keras 2.
        env["TF_USE_LEGACY_KERAS"] = "1"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # The worker must import this package even when it is run from a checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tools.tagger", *self.model_names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._replies = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        status, payload = self._receive(_START_TIMEOUT_S, "start")
        if status != "ready":
            self._stop()
            raise TaggerError(f"The musicnn tagger failed to start ({payload}).")
        self._labels = payload["labels"]
        # Variables per checkpoint that the worker verified against the stored tensors.
        self.restored_variables = payload["restored"]

    def _receive(self, timeout: float, what: str) -> tuple[str, Any]:
        assert self._replies is not None
        try:
            if not self._replies.poll(timeout):
                self._stop()
                raise TaggerError(f"The musicnn tagger did not {what} within {timeout:.0f} s.")
            return self._replies.recv()
        except (EOFError, OSError) as exc:
            self._stop()
            raise _WorkerGone(f"The musicnn tagger process exited during {what}.") from exc

    def tag(self, samples_16k: np.ndarray) -> list[AudioTag]:
        """All tags of a 16 kHz mono clip, best first."""
        return merge_tags(self._ask(_samples(samples_16k)), self._labels)

    def embed(self, samples_16k: np.ndarray) -> ClipEmbedding:
        """The taggram statistics and penultimate features of a 16 kHz mono clip (one round
        trip to the worker)."""
        return ClipEmbedding.model_validate(self._ask(("embed", _samples(samples_16k))))

    def _ask(self, request: Any) -> Any:
        """Send one request, return the worker's payload.

        A worker that died since the last request (killed, out of memory) is restarted and
        the request retried once; a timeout is not retried.
        """
        with self._lock:
            for attempt in range(2):
                self._ensure_started()
                assert self._requests is not None
                try:
                    self._requests.send(request)
                    status, payload = self._receive(_REQUEST_TIMEOUT_S, "answer")
                    break
                except (_WorkerGone, OSError, ValueError) as exc:
                    self._stop()
                    if attempt == 1:
                        raise TaggerError("The musicnn tagger process keeps exiting.") from exc
        if status != "ok":
            raise TaggerError(f"The musicnn tagger failed on this clip ({payload}).")
        return payload

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._requests is not None:
            with contextlib.suppress(OSError, ValueError):
                self._requests.send(None)
            self._requests.close()
        if self._replies is not None:
            self._replies.close()
        if self._process is not None:
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process, self._requests, self._replies = None, None, None


def _samples(samples_16k: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(samples_16k, dtype=np.float32)


_shared: MusicTagger | None = None
_shared_lock = threading.Lock()


def get_tagger() -> MusicTagger:
    """The process-wide tagger (started lazily on first use, closed at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MusicTagger()
            atexit.register(_shared.close)
        return _shared


if __name__ == "__main__":
    _worker_cli()
