"""Sound vectors of audio files, and the sound index's command line.

Conventions
-----------
- A file is decoded by :func:`tools.audio.load_audio` (its limits and one-sentence refusals)
  and listened to on the windows ``describe`` uses (:func:`tools.describe.analysis_windows`:
  the whole clip up to 45 s, else three 15 s windows). The musicnn features are computed in
  the tagger's worker process (:meth:`tools.tagger.MusicTagger.embed`, one round trip per
  file, at 16 kHz); the DSP traits (tempo, key, loudness, brightness) meanwhile in this
  process, by :func:`tools.dsp.sound_traits` on the same samples at the decoding rate
  (22.05 kHz) — exactly what ``describe`` reports for the clip, so a reply never gives a
  clip two tempos or keys. That rate reads tempo a little better on the rendered corpus
  (``python -m tools.trait_accuracy``; docs/audio-index.md).
- The vector (:func:`sound_vector`): the musicnn part, one L2-normalised block per
  checkpoint, either the penultimate layer's mean over 3 s patches (``penultimate``, the
  default: on the rendered corpus it separates styles better, see docs/audio-index.md) or
  the taggram's mean and spread (``taggram``); then a DSP block weighted
  :data:`DSP_WEIGHT` (tempo on a circle of octaves, so double time is the same pace; key on
  the circle of fifths, relative keys together; loudness; brightness); the whole vector is
  L2-normalised, so a dot product is a cosine.
- A clip shorter than one musicnn patch (:data:`MIN_CLIP_S`) is refused with one sentence:
  its vector would be mostly padding.
- CLI: ``python -m tools.sound build --audio-dir DIR [--path P] [--threads]`` and
  ``python -m tools.sound search --audio FILE [--path P] [--k N] [--json]``. They live here,
  not in ``python -m vectorstore``, because the audio models are in ``tools`` and
  ``vectorstore`` may not import them (tests/test_layers.py).

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tools.audio import AudioInputError, load_audio, resample
from tools.describe import MODEL_RATE, analysis_windows
from tools.tagger import PATCH_FRAMES, ClipEmbedding, MusicTagger, TaggerError, get_tagger
from vectorstore.errors import CatalogError
from vectorstore.sound import PITCH_CLASSES, SoundEmbedding, SoundInputError, SoundTraits

Representation = Literal["penultimate", "taggram"]
REPRESENTATIONS: tuple[Representation, ...] = ("penultimate", "taggram")
DEFAULT_REPRESENTATION: Representation = "penultimate"
#: Share of the DSP block beside the musicnn block (each L2-normalised first).
DSP_WEIGHT = 0.35
#: One musicnn patch (188 frames at hop 256, 16 kHz): about 3 s.
MIN_CLIP_S = PATCH_FRAMES * 256 / MODEL_RATE
WINDOW_S, MAX_WINDOWS = 15.0, 3  # describe's defaults
SOUND_TAGS = 5
TAG_FLOOR = 0.1  # tags under this mean activation are noise (tools.describe)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def dsp_block(traits: SoundTraits) -> np.ndarray:
    """Tempo on a circle of octaves, key on the circle of fifths (a minor key at its
    relative major), mode, loudness and brightness, each on a comparable scale."""
    octave = 2 * np.pi * np.log2(max(traits.tempo_bpm, 1.0))
    pitch = PITCH_CLASSES.index(traits.key) + (3 if traits.mode == "minor" else 0)
    fifths = 2 * np.pi * ((7 * pitch) % 12) / 12
    key_weight = max(traits.key_confidence, 0.0)
    tempo_weight = traits.tempo_confidence
    return np.array(
        [
            tempo_weight * np.cos(octave),
            tempo_weight * np.sin(octave),
            key_weight * np.cos(fifths),
            key_weight * np.sin(fifths),
            0.5 * key_weight * (1.0 if traits.mode == "major" else -1.0),
            (traits.loudness_lufs + 20.0) / 10.0,
            np.log2(max(traits.brightness_hz, 1.0) / 1500.0),
        ]
    )


@dataclass(frozen=True)
class HeardClip:
    """What the sound index hears in a file: the worker's musicnn features, the DSP traits
    (``describe``'s reading) and the file's length in seconds."""

    musicnn: ClipEmbedding
    traits: SoundTraits
    duration_s: float


def sound_vector(heard: HeardClip, representation: Representation) -> np.ndarray:
    """The clip's L2-normalised vector (see the module conventions)."""
    raw = heard.musicnn
    models = sorted(raw.penultimate if representation == "penultimate" else raw.taggram_mean)
    if representation == "penultimate":
        blocks = [_unit(np.asarray(raw.penultimate[m])) for m in models]
    else:
        blocks = [_unit(np.concatenate([raw.taggram_mean[m], raw.taggram_std[m]])) for m in models]
    music = _unit(np.concatenate(blocks))
    return _unit(np.concatenate([music, DSP_WEIGHT * _unit(dsp_block(heard.traits))]))


class MusicnnSoundEmbedder:
    """The sound index's embedder (:class:`vectorstore.sound.SoundEmbedder`)."""

    def __init__(
        self,
        representation: Representation = DEFAULT_REPRESENTATION,
        tagger: MusicTagger | None = None,
    ) -> None:
        self.representation = representation
        self.tagger = tagger or get_tagger()
        # v2: the traits are read at the decoding rate (v1: at 16 kHz, in the worker).
        self.name = f"musicnn-{representation}+dsp-v2"

    def hear(self, path: Path) -> HeardClip:
        """The worker's musicnn features of a file and its traits (module conventions)."""
        try:
            decoded = load_audio(path)
        except AudioInputError as refusal:
            raise SoundInputError(str(refusal)) from None
        if decoded.duration_s < MIN_CLIP_S:
            raise SoundInputError(
                f"'{Path(path).name}' is {decoded.duration_s:.1f} s long, shorter than the "
                f"{MIN_CLIP_S:.0f} s the sound index listens to at once; use a longer clip."
            )
        sr = decoded.sample_rate
        windows = analysis_windows(
            len(decoded.samples), sr, window_s=WINDOW_S, max_windows=MAX_WINDOWS
        )
        analysed = np.concatenate([decoded.samples[a:b] for a, b in windows])
        from tools.dsp import sound_traits  # deferred: librosa loads on the first clip

        # The traits in a thread while the worker runs musicnn (librosa releases the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool:
            traits = pool.submit(sound_traits, analysed, sr)
            try:
                raw = self.tagger.embed(resample(analysed, sr, MODEL_RATE))
            except TaggerError as error:
                # The models, not the file, failed: stop (what is indexed stays; a re-run
                # resumes).
                raise CatalogError(str(error)) from None
            return HeardClip(raw, traits.result(), decoded.duration_s)

    def embedding(self, heard: HeardClip) -> SoundEmbedding:
        tags = sorted(
            ((score, label) for model, scores in heard.musicnn.taggram_mean.items()
             for label, score in zip(self.tagger.labels[model], scores, strict=True)),
            reverse=True,
        )  # fmt: skip
        names = list(dict.fromkeys(label.lower() for score, label in tags if score >= TAG_FLOOR))
        return SoundEmbedding(
            vector=sound_vector(heard, self.representation).tolist(),
            traits=heard.traits,
            tags=names[:SOUND_TAGS],
            duration_s=round(heard.duration_s, 2),
        )

    def __call__(self, path: Path) -> SoundEmbedding:
        return self.embedding(self.hear(path))


@functools.lru_cache(maxsize=16)
def _heard(path: str, stamp: tuple[int, int], representation: Representation) -> SoundEmbedding:
    return MusicnnSoundEmbedder(representation)(Path(path))


def heard_file(
    path: str, representation: Representation = DEFAULT_REPRESENTATION
) -> SoundEmbedding:
    """A file's embedding, remembered while the file is unchanged (a chat turn's clip is
    matched by the tool and by the recommender: it is heard once)."""
    try:
        info = Path(path).stat()
    except OSError:
        info = None  # load_audio names the problem in one sentence
    stamp = (info.st_size, info.st_mtime_ns) if info else (-1, -1)
    return _heard(str(path), stamp, representation)


def build(args: argparse.Namespace) -> None:
    from vectorstore.sound import build_sound_index

    report = build_sound_index(
        args.audio_dir,
        MusicnnSoundEmbedder(args.representation),
        args.path,
        collection=args.collection,
        threads=args.threads,
        progress=not args.quiet,
    )
    for sentence in report.skipped:
        print(f"skipped: {sentence}")
    print(
        f"sound index ready: {report.embedded} embedded, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.deleted} deleted, {len(report.skipped)} "
        f"skipped in {report.seconds:.1f} s"
    )


def search(args: argparse.Namespace) -> None:
    from vectorstore.sound import iter_hits_json, open_sound_index

    index = open_sound_index(args.path, collection=args.collection)
    heard = MusicnnSoundEmbedder(args.representation)(Path(args.audio))
    hits = index.search(heard, args.k)
    if args.json:
        print(json.dumps({"hits": list(iter_hits_json(hits))}, ensure_ascii=False, indent=1))
        return
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:>3}. {hit.score:.3f}  {hit.card.label}  ({hit.why})")
    if not hits:
        print("The sound index is empty.")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m tools.sound", description="Build and search the sound index."
    )
    commands = main.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--path", help="catalog directory (default $CATALOG_PATH or .cache/catalog)"
        )
        command.add_argument("--collection", help="catalog collection (default musicrs_entities)")
        command.add_argument(
            "--representation", choices=REPRESENTATIONS, default=DEFAULT_REPRESENTATION
        )

    make = commands.add_parser("build", help="index a folder of audio (incremental, resumable)")
    make.add_argument("--audio-dir", required=True, help="folder of music files (any depth)")
    make.add_argument(
        "--threads", action="store_true", help="MusiCRS layout: <dir>/<thread name>/*.wav"
    )
    make.add_argument("--quiet", action="store_true", help="no progress bars")
    common(make)
    make.set_defaults(run=build)

    find = commands.add_parser("search", help="recordings that sound like a clip")
    find.add_argument("--audio", required=True, help="the clip to match")
    find.add_argument("--k", type=int, default=10)
    find.add_argument("--json", action="store_true")
    common(find)
    find.set_defaults(run=search)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        print("error: --k must be at least 1.", file=sys.stderr)
        return 2
    try:
        args.run(args)
    except (CatalogError, SoundInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
