"""A synthetic music corpus: six styles written as General MIDI and rendered with FluidSynth.

Conventions
-----------
- A :class:`Piece` is a style, a tempo, a key (tonic pitch class and mode), a length and a
  seed; the same piece always gives the same MIDI file (mido) and, through FluidSynth with a
  General MIDI soundfont, the same audio. :data:`STYLES` are piano ballad, four-on-the-floor
  house, boom-bap, string quartet, swing trio and a distorted metal riff, each with its own
  instruments, groove and tempo range (:data:`STYLE_TEMPOS`).
- The tempo is the MIDI file's tempo and every style states its tonic in the bass and its
  chords in the key, so the tempo and key that ``tools.describe`` reports can be checked
  against the piece (tests/test_synthetic_music.py).
- :func:`render_corpus` caches: a clip whose file exists is not rendered again (files appear
  by an atomic rename), so tests and benches share one folder under the temp directory and
  nothing is committed. Rendering needs the ``fluidsynth`` program and a soundfont from
  Debian's packages (``timgm6mb-soundfont``, installed by ``make system-packages-test``);
  without them :class:`MusicRenderError` says what to install in one sentence.
- Output is mono 16-bit WAV at 22050 Hz (the rate :mod:`tools.audio` decodes to), peak-normalised.

Imports only the key names from :mod:`vectorstore.sound` (so a piece's key reads as
``describe`` reports keys); must not import ``agent``, ``demo``, ``evals`` or ``tests``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from vectorstore.sound import PITCH_CLASSES

SAMPLE_RATE = 22050
TICKS = 480  # per quarter note
DRUMS = 9  # General MIDI percussion channel (0-based)
#: Soundfonts tried in order: Debian's timgm6mb (6 MB), then whatever the system's default is.
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
)
STYLES = ("piano_ballad", "house", "boom_bap", "string_quartet", "swing_trio", "metal_riff")
#: BPM range each style is written in (a corpus spreads its pieces over it).
STYLE_TEMPOS = {
    "piano_ballad": (62, 78),
    "house": (118, 128),
    "boom_bap": (84, 96),
    "string_quartet": (72, 100),
    "swing_trio": (130, 170),
    "metal_riff": (140, 176),
}
#: Modes each style is written in, cycled over a corpus.
STYLE_MODES = {
    "piano_ballad": ("major", "minor"),
    "house": ("minor",),
    "boom_bap": ("minor",),
    "string_quartet": ("major", "minor"),
    "swing_trio": ("major",),
    "metal_riff": ("minor",),
}
# Minor is harmonic minor: its raised seventh makes the dominant a major chord, the cadence
# that states the key beyond doubt (a natural-minor piece reads as its relative major).
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}
# Scale degrees (0-based) of the chord roots, one bar each: I-I-IV-V (i-i-iv-V in minor).
_PROGRESSIONS = {"major": (0, 0, 3, 4), "minor": (0, 0, 3, 4)}
_RENDER_TIMEOUT_S = 120.0
#: Part of the cache folder's name: bump it when a writer changes, so old renders are not reused.
CORPUS_VERSION = 1


class MusicRenderError(RuntimeError):
    """Rendering is impossible here; the message is one sentence naming what to install."""


@dataclass(frozen=True)
class Piece:
    """One clip of the corpus; ``tonic`` is a pitch class (0 = C)."""

    style: str
    tempo_bpm: int
    tonic: int
    mode: str
    seconds: float = 30.0
    seed: int = 0

    @property
    def key(self) -> str:
        return PITCH_CLASSES[self.tonic]

    @property
    def name(self) -> str:
        return (
            f"{self.style}-{self.tempo_bpm}bpm-{self.key.replace('#', 's')}{self.mode[:3]}"
            f"-{self.seconds:g}s-{self.seed}"
        )


@dataclass(frozen=True)
class RenderedPiece:
    piece: Piece
    path: Path


class _Song:
    """Notes and drum hits on a beat grid, written out as a type-1 MIDI file."""

    def __init__(self, piece: Piece) -> None:
        self.piece = piece
        self.events: dict[int, list[tuple[int, mido.Message]]] = {}
        self.programs: dict[int, int] = {}
        self.beats = int(piece.seconds * piece.tempo_bpm / 60) + 4

    def program(self, channel: int, program: int) -> None:
        self.programs[channel] = program

    def note(self, channel: int, pitch: int, beat: float, length: float, velocity: int) -> None:
        start, end = round(beat * TICKS), round((beat + length) * TICKS) - 1
        pitch = int(np.clip(pitch, 0, 127))
        self.events.setdefault(channel, []).extend(
            [
                (start, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
                (end, mido.Message("note_off", channel=channel, note=pitch, velocity=0)),
            ]
        )

    def hit(self, drum: int, beat: float, velocity: int = 100) -> None:
        self.note(DRUMS, drum, beat, 0.25, velocity)

    def write(self, path: Path) -> Path:
        midi = mido.MidiFile(type=1, ticks_per_beat=TICKS)
        conductor = mido.MidiTrack(
            [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.piece.tempo_bpm))]
        )
        midi.tracks.append(conductor)
        for channel in sorted(self.events):
            track = mido.MidiTrack()
            if channel in self.programs:
                track.append(
                    mido.Message("program_change", channel=channel, program=self.programs[channel])
                )
            now = 0
            # note_off before note_on at the same tick, so repeated notes re-strike.
            for tick, message in sorted(
                self.events[channel], key=lambda e: (e[0], e[1].type == "note_on")
            ):
                track.append(message.copy(time=tick - now))
                now = tick
            midi.tracks.append(track)
        midi.save(str(path))
        return path


def _chords(piece: Piece) -> list[list[int]]:
    """Per bar, the chord's pitch classes above the tonic (root, third, fifth, seventh)."""
    scale = _SCALES[piece.mode]
    chords = []
    for degree in _PROGRESSIONS[piece.mode]:
        chords.append(
            [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4, 6)]
        )
    return chords


def _melody(
    song: _Song, channel: int, base: int, rng: random.Random, *, step: float, velocity: int
) -> None:
    """A stepwise melody on the key's scale, landing on chord tones at each bar line."""
    piece = song.piece
    scale = _SCALES[piece.mode]
    degree = 7
    beat = 0.0
    while beat < song.beats:
        degree = int(np.clip(degree + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 0, 13))
        if beat % 4 == 0:
            degree = 7 * round(degree / 7)  # the tonic on every downbeat states the key
        pitch = base + piece.tonic + scale[degree % 7] + 12 * (degree // 7)
        length = step * rng.choice((1, 1, 2))
        song.note(channel, pitch, beat, length * 0.95, velocity + rng.randint(-8, 8))
        beat += length


def _piano_ballad(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    song.program(0, 0)  # acoustic grand
    song.program(1, 0)
    for bar, start in enumerate(range(0, song.beats, 4)):
        chord = _chords(piece)[bar % 4]
        root = 36 + piece.tonic + chord[0]
        song.note(1, root, start, 3.9, 70)
        song.note(1, root + 12, start + 2, 1.9, 55)
        for i in range(8):  # broken chord in quavers
            tone = chord[(0, 2, 1, 2, 0, 2, 0, 2)[i]]
            song.note(1, 48 + piece.tonic + tone, start + i / 2, 0.5, 50)
    _melody(song, 0, 60, rng, step=1.0, velocity=80)


def _house(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    song.program(0, 38)  # synth bass 1
    song.program(1, 89)  # warm pad
    song.program(2, 81)  # saw lead
    for bar, start in enumerate(range(0, song.beats, 4)):
        chord = _chords(piece)[bar % 4]
        for beat in range(4):
            song.hit(36, start + beat, 120)  # four on the floor
            song.hit(42, start + beat + 0.5, 80)  # off-beat hat
            song.note(0, 36 + piece.tonic + chord[0], start + beat + 0.5, 0.4, 100)
        song.hit(39, start + 1, 90)  # claps on 2 and 4
        song.hit(39, start + 3, 90)
        for tone in chord[:3]:
            song.note(1, 60 + piece.tonic + tone, start, 3.9, 55)
    _melody(song, 2, 72, rng, step=0.5, velocity=60)


def _boom_bap(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    song.program(0, 33)  # finger bass
    song.program(1, 4)  # electric piano
    for bar, start in enumerate(range(0, song.beats, 4)):
        chord = _chords(piece)[(bar // 2) % 4]
        for beat in (0, 1.75, 2.5):
            song.hit(36, start + beat, 115)
        for beat in (1, 3):
            song.hit(38, start + beat, 120)
        for i in range(8):
            song.hit(42, start + i / 2 + (0.08 if i % 2 else 0), 70 if i % 2 else 90)
        song.note(0, 36 + piece.tonic + chord[0], start, 1.5, 100)
        song.note(0, 36 + piece.tonic + chord[2], start + 2.5, 1.0, 90)
        for tone in chord:
            song.note(1, 60 + piece.tonic + tone, start + 0.5, 1.4, 60)
            song.note(1, 60 + piece.tonic + tone, start + 2.5, 1.2, 55)
    del rng  # the loop repeats: boom-bap's character


def _string_quartet(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    for channel, program in enumerate((40, 40, 41, 42)):  # violins, viola, cello
        song.program(channel, program)
    for bar, start in enumerate(range(0, song.beats, 4)):
        chord = _chords(piece)[bar % 4]
        song.note(3, 36 + piece.tonic + chord[0], start, 3.9, 75)
        song.note(2, 48 + piece.tonic + chord[2], start, 1.9, 60)
        song.note(2, 60 + piece.tonic, start + 2, 1.9, 60)  # tonic pedal
        song.note(1, 60 + piece.tonic + chord[1], start, 3.9, 45)
    _melody(song, 0, 67, rng, step=1.0, velocity=80)


def _swing_trio(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    song.program(0, 32)  # acoustic bass
    song.program(1, 0)  # piano
    for bar, start in enumerate(range(0, song.beats, 4)):
        chord = _chords(piece)[bar % 4]
        walk = (chord[0], chord[1], chord[2], chord[1])
        for beat in range(4):
            song.note(0, 36 + piece.tonic + walk[beat], start + beat, 0.9, 95)  # walking bass
            song.hit(51, start + beat, 85)  # ride
            song.hit(51, start + beat + 2 / 3, 60)  # swung skip note
        song.hit(44, start + 1, 70)  # hi-hat pedal on 2 and 4
        song.hit(44, start + 3, 70)
        for tone in chord[:3]:  # comping on the "and" of 2
            song.note(1, 60 + piece.tonic + tone, start + 1 + 2 / 3, 0.5, 65)
    _melody(song, 1, 72, rng, step=2 / 3, velocity=75)


def _metal_riff(song: _Song, rng: random.Random) -> None:
    piece = song.piece
    song.program(0, 30)  # distortion guitar
    song.program(1, 33)  # bass
    riff = [0, 0, 0, 3 if piece.mode == "minor" else 4, 0, 0, 5, 6, 0, 0, 0, 7, 5, 3, 0, 0]
    for bar, start in enumerate(range(0, song.beats, 4)):
        for i, offset in enumerate(riff):
            beat = start + i / 4
            root = 40 + (piece.tonic - 4) % 12 + offset  # from the guitar's low E up
            for interval in (0, 7, 12):  # power chord
                song.note(0, root + interval, beat, 0.22, 110)
            song.note(1, root - 12, beat, 0.22, 100)
            song.hit(36, beat, 110)  # double kick
        for beat in (1, 3):
            song.hit(38, start + beat, 125)
        song.hit(49 if bar % 2 == 0 else 57, start, 100)  # crashes
    del rng


_WRITERS = {
    "piano_ballad": _piano_ballad,
    "house": _house,
    "boom_bap": _boom_bap,
    "string_quartet": _string_quartet,
    "swing_trio": _swing_trio,
    "metal_riff": _metal_riff,
}


def write_midi(piece: Piece, path: str | Path) -> Path:
    """The piece as a General MIDI file at ``path``."""
    if piece.style not in _WRITERS:
        raise ValueError(f"Unknown style {piece.style!r}; choose one of {', '.join(STYLES)}.")
    song = _Song(piece)
    _WRITERS[piece.style](song, random.Random(f"{piece.style}-{piece.seed}"))
    return song.write(Path(path))


def soundfont() -> Path:
    """The first installed General MIDI soundfont of :data:`SOUNDFONTS`."""
    for candidate in SOUNDFONTS:
        if candidate.is_file():
            return candidate
    raise MusicRenderError(
        "No General MIDI soundfont is installed; install timgm6mb-soundfont "
        "(e.g. `apt-get install fluidsynth timgm6mb-soundfont`, or `make system-packages-test`)."
    )


def render(piece: Piece, path: str | Path) -> Path:
    """Render ``piece`` to a mono WAV at ``path`` (exactly ``piece.seconds`` long)."""
    if shutil.which("fluidsynth") is None:
        raise MusicRenderError(
            "Rendering MIDI needs the fluidsynth program; install it (e.g. `apt-get install "
            "fluidsynth timgm6mb-soundfont`, or `make system-packages-test`)."
        )
    path = Path(path)
    font = soundfont()
    with tempfile.TemporaryDirectory(prefix="musicrs-midi-") as tmp:
        midi = write_midi(piece, Path(tmp) / "piece.mid")
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-g",
                "0.6",
                "-r",
                str(SAMPLE_RATE),
                "-F",
                str(raw),
                str(font),
                str(midi),
            ],
            capture_output=True,
            timeout=_RENDER_TIMEOUT_S,
            check=True,
        )
        samples, rate = sf.read(raw, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)[: int(piece.seconds * rate)]
    peak = float(np.max(np.abs(mono))) or 1.0
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")  # parallel runs share the cache
    sf.write(partial, 0.9 * mono / peak, rate, subtype="PCM_16", format="WAV")
    os.replace(partial, path)
    return path


def corpus(
    per_style: int,
    *,
    seconds: float = 30.0,
    styles: Sequence[str] = STYLES,
    first_seed: int = 0,
) -> list[Piece]:
    """``per_style`` pieces of each style, spread over its tempo range, its modes and the
    twelve keys (tonics step by fifths, so neighbouring pieces differ in key)."""
    pieces = []
    for s, style in enumerate(styles):
        low, high = STYLE_TEMPOS[style]
        modes = STYLE_MODES[style]
        for i in range(per_style):
            seed = first_seed + i
            tempo = low + (high - low) * ((seed * 7) % max(per_style, 1)) // max(per_style - 1, 1)
            pieces.append(
                Piece(
                    style=style,
                    tempo_bpm=int(min(tempo, high)),
                    tonic=(7 * (seed + s)) % 12,
                    mode=modes[seed % len(modes)],
                    seconds=seconds,
                    seed=seed,
                )
            )
    return pieces


def default_cache() -> Path:
    """Where rendered clips are kept between runs: ``$TMPDIR/musicrs-synthetic-music-v<N>``."""
    return Path(tempfile.gettempdir()) / f"musicrs-synthetic-music-v{CORPUS_VERSION}"


def render_corpus(pieces: Iterable[Piece], folder: str | Path | None = None) -> list[RenderedPiece]:
    """Render every piece into ``folder`` (default :func:`default_cache`), reusing clips
    already there."""
    out = Path(folder) if folder is not None else default_cache()
    out.mkdir(parents=True, exist_ok=True)
    rendered = []
    for piece in pieces:
        path = out / f"{piece.name}.wav"
        if not path.is_file():
            render(piece, path)
        rendered.append(RenderedPiece(piece, path))
    return rendered
