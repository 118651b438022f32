"""How well each sample rate reads tempo and key on the rendered corpus, against the MIDI.

Usage: ``python -m tools.trait_accuracy [--per-style 4] [--seconds 30]``

Conventions
-----------
- The clips are :mod:`tools.synthetic_music`'s (rendered once into its cache). Each is decoded
  by :func:`tools.audio.load_audio` and cut into ``describe``'s windows, then read by
  :func:`tools.dsp.sound_traits` at the decoding rate (22.05 kHz, what ``describe`` reads)
  and resampled to 16 kHz (musicnn's rate, where the sound index used to read them), so the
  sample rate is the only difference.
- Tempo is right when it is the MIDI tempo within 2 % (``exact``) or within the sound
  index's "same pace" tolerance with double/half time folded (``pace``,
  :func:`vectorstore.sound.same_tempo`); key when the tonic matches (``tonic``) and the mode
  too (``key``). Figures are shares of the clips, per style and over all.
- This measurement chose the decoding rate for both ``describe`` and the sound index
  (:mod:`tools.sound`; figures in docs/audio-index.md).

Must not import ``agent``, ``demo`` or ``evals``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from tools.audio import load_audio, resample
from tools.describe import analysis_windows
from tools.dsp import sound_traits
from tools.sound import MAX_WINDOWS, WINDOW_S
from tools.synthetic_music import STYLES, corpus, render_corpus
from vectorstore.sound import SoundTraits, same_tempo

RATES = (22050, 16000)
CHECKS = ("exact", "pace", "tonic", "key")


def checks(traits: SoundTraits, tempo_bpm: int, key: str, mode: str) -> dict[str, bool]:
    return {
        "exact": abs(traits.tempo_bpm - tempo_bpm) <= 0.02 * tempo_bpm,
        "pace": same_tempo(traits.tempo_bpm, tempo_bpm),
        "tonic": traits.key == key,
        "key": traits.key == key and traits.mode == mode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.trait_accuracy", description=__doc__)
    parser.add_argument("--per-style", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    right: dict[tuple[str, int], list[dict[str, bool]]] = defaultdict(list)
    for rendered in render_corpus(corpus(args.per_style, seconds=args.seconds)):
        piece = rendered.piece
        decoded = load_audio(rendered.path)
        sr = decoded.sample_rate
        windows = analysis_windows(
            len(decoded.samples), sr, window_s=WINDOW_S, max_windows=MAX_WINDOWS
        )
        analysed = np.concatenate([decoded.samples[a:b] for a, b in windows])
        for rate in RATES:
            samples = analysed if rate == sr else resample(analysed, sr, rate)
            traits = sound_traits(samples.astype(np.float32), rate)
            right[(piece.style, rate)].append(
                checks(traits, piece.tempo_bpm, piece.key, piece.mode)
            )
    print(f"{len(right[(STYLES[0], RATES[0])]) * len(STYLES)} clips, {args.seconds:g} s each")
    print(f"{'style':<15} {'rate':>6} " + " ".join(f"{c:>6}" for c in CHECKS))
    for style in (*STYLES, "all"):
        for rate in RATES:
            rows = (
                [r for s in STYLES for r in right[(s, rate)]]
                if style == "all"
                else right[(style, rate)]
            )
            shares = " ".join(f"{np.mean([r[c] for r in rows]):>6.2f}" for c in CHECKS)
            print(f"{style:<15} {rate:>6} {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
