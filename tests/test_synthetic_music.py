"""The synthetic music corpus: MIDI as written, and what ``describe`` hears in the rendering.

The key and tempo ``describe`` reports are checked against the MIDI file itself (its tempo
meta message and the piece's key). Where ``describe`` cannot be exact, the test says which
reading it does give: a slow ballad's beat is counted in double time, which the sound index
treats as the same pace.
"""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from tools.describe import describe_audio
from tools.synthetic_music import (
    STYLE_TEMPOS,
    STYLES,
    Piece,
    corpus,
    render_corpus,
    write_midi,
)
from vectorstore.sound import same_tempo

PER_STYLE = 3
SECONDS = 15.0


@pytest.fixture(scope="module")
def heard() -> list[tuple[Piece, object]]:
    rendered = render_corpus(
        corpus(
            PER_STYLE, seconds=SECONDS, styles=("house", "boom_bap", "swing_trio", "piano_ballad")
        )
    )
    return [(r.piece, describe_audio(r.path, tags=False, lyrics=False).features) for r in rendered]


def test_midi_states_the_tempo_and_every_style_has_its_own_instruments(tmp_path: Path) -> None:
    programs = {}
    for style in STYLES:
        piece = Piece(style, STYLE_TEMPOS[style][0], 9, "minor", seconds=8.0)
        midi = mido.MidiFile(write_midi(piece, tmp_path / f"{style}.mid"))
        (tempo,) = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
        assert round(mido.tempo2bpm(tempo)) == piece.tempo_bpm
        assert piece.seconds <= midi.length <= piece.seconds + 8 * 60 / piece.tempo_bpm
        programs[style] = frozenset(
            m.program for track in midi.tracks for m in track if m.type == "program_change"
        )
    assert len(set(programs.values())) == len(STYLES)


def test_corpus_spreads_tempos_and_keys_within_each_style() -> None:
    pieces = corpus(6, seconds=10)
    for style in STYLES:
        mine = [p for p in pieces if p.style == style]
        low, high = STYLE_TEMPOS[style]
        assert all(low <= p.tempo_bpm <= high for p in mine)
        assert len({p.tempo_bpm for p in mine}) >= 4 and len({p.tonic for p in mine}) == 6


def test_describe_hears_the_key_of_the_midi(heard) -> None:
    """The tonic always; the mode of most pieces (a minor groove with little harmony can
    read as its tonic major). String timbres and minor ballads read in their dominant, so
    those pieces are not checked."""
    checked = [
        (piece, features)
        for piece, features in heard
        if piece.style in ("house", "boom_bap")
        or (piece.style, piece.mode) == ("piano_ballad", "major")
    ]
    assert len(checked) >= 2 * PER_STYLE + 1
    for piece, features in checked:
        assert features.key == piece.key, piece.name
    modes = [features.mode == piece.mode for piece, features in checked]
    assert sum(modes) >= 0.8 * len(modes), [p.name for p, _ in checked]


def test_describe_hears_the_tempo_of_the_midi(heard) -> None:
    for piece, features in heard:
        if piece.style == "piano_ballad":  # a slow ballad's quavers read as double time
            assert same_tempo(features.tempo_bpm, piece.tempo_bpm), piece.name
        else:
            assert abs(features.tempo_bpm - piece.tempo_bpm) <= 0.02 * piece.tempo_bpm, piece.name
