"""The sound index over a folder of music: bad input first, then search and the CLI.

Clips are rendered from :mod:`tools.synthetic_music` (FluidSynth, cached under the temp
directory) and embedded by the real musicnn worker, so every test hears real audio. Each bad
input gets one sentence, keeps what is already indexed, and a re-run resumes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import mutagen.flac
import numpy as np
import pytest
from mutagen.id3 import ID3, TIT2, TPE1

from tools.sound import MIN_CLIP_S, MusicnnSoundEmbedder, main
from tools.synthetic_music import Piece, corpus, render, render_corpus
from vectorstore.__main__ import sound_index_command
from vectorstore.errors import CatalogError
from vectorstore.sound import (
    MAX_TAG_CHARS,
    SoundEmbedding,
    build_sound_index,
    open_sound_index,
    tag_text,
)

SECONDS = 6.0


@pytest.fixture(scope="module")
def clips() -> list[Path]:
    """One short rendered clip per style (house, ballad, metal first)."""
    pieces = corpus(1, seconds=SECONDS, styles=("house", "piano_ballad", "metal_riff"))
    return [r.path for r in render_corpus(pieces)]


@pytest.fixture(scope="module")
def embedder() -> MusicnnSoundEmbedder:
    return MusicnnSoundEmbedder()


class Counting:
    """The real embedder, counting the files it embeds; optionally interrupted after N."""

    def __init__(self, inner: MusicnnSoundEmbedder, stop_after: int | None = None) -> None:
        self.inner, self.stop_after, self.calls = inner, stop_after, []
        self.name = inner.name

    def __call__(self, path: Path) -> SoundEmbedding:
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(path.name)
        return self.inner(path)


def one_sentence(text: str, tmp_path: Path) -> None:
    assert text.count(". ") == 0 and text.endswith(".") and "\n" not in text, text
    assert str(tmp_path) not in text and "Traceback" not in text, text


def folder_with(tmp_path: Path, files: dict[str, Path | bytes]) -> Path:
    music = tmp_path / "music"
    music.mkdir(exist_ok=True)
    for name, content in files.items():
        target = music / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
    return music


def build(music: Path, store: Path, embed, **options) -> object:
    return build_sound_index(music, embed, store, progress=False, **options)


# --- bad input -----------------------------------------------------------------------------


def test_non_audio_files_are_skipped_each_with_one_sentence(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    music = folder_with(
        tmp_path,
        {
            "house.wav": clips[0],
            "notes.txt": b"my favourite songs\n",
            "cover.jpg": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
            "empty.mp3": b"",
        },
    )
    report = build(music, tmp_path / "store", embedder)
    assert (report.embedded, len(report.skipped)) == (1, 3)
    for sentence in report.skipped:
        one_sentence(sentence, tmp_path)
    assert [c.name for c in open_sound_index(tmp_path / "store").cards] == ["house"]


def test_hostile_tags_fall_back_to_clean_names(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    music = tmp_path / "music"
    music.mkdir()
    huge = music / "huge.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips[0]), str(huge)], check=True)
    tags = mutagen.flac.FLAC(huge)
    tags["title"] = "Endless " * 50_000
    tags["artist"] = "\x00\x01\x02\ufffd\x7f"
    tags.save()
    mojibake = music / "mojibake.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips[1]), str(mojibake)], check=True)
    id3 = ID3()
    id3.add(TIT2(encoding=0, text="Caf\u00c3\u00a9 \u00c3\u00a0 minuit"))  # UTF-8 read as Latin-1
    id3.add(TPE1(encoding=3, text="Am\u00e9lie\x00\x1b[31m"))
    id3.save(mojibake)
    broken = music / "broken.mp3"  # an ID3 header whose frames are garbage
    data = bytearray(mojibake.read_bytes())
    data[10:40] = b"\xff\x00" * 15
    broken.write_bytes(bytes(data))
    report = build(music, tmp_path / "store", embedder)
    assert report.skipped == () and report.embedded == 3
    cards = {Path(c.path).name: c for c in open_sound_index(tmp_path / "store").cards}
    assert len(cards["huge.flac"].name) <= MAX_TAG_CHARS and cards["huge.flac"].artist is None
    assert cards["mojibake.mp3"].name == "Caf\u00e9 \u00e0 minuit"
    assert cards["mojibake.mp3"].artist == "Am\u00e9lie"  # ID3 splits values at NUL
    assert cards["broken.mp3"].name == "broken" and cards["broken.mp3"].artist is None
    assert tag_text("Am\u00e9lie\x00\x1b[31m") == "Am\u00e9lie [31m"
    assert tag_text(b"\xff\xfe\x00") is None and tag_text(["", "x"]) is None


def test_the_same_audio_under_two_names_is_one_entry(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    music = folder_with(tmp_path, {"a/house.wav": clips[0], "b/house copy.wav": clips[0]})
    counting = Counting(embedder)
    report = build(music, tmp_path / "store", counting)
    assert (report.embedded, len(counting.calls)) == (1, 1)
    (card,) = open_sound_index(tmp_path / "store").cards
    assert [Path(p).name for p in card.paths] == ["house.wav", "house copy.wav"]


def test_deleted_and_changed_files_between_builds(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    music = folder_with(tmp_path, {"one.wav": clips[0], "two.wav": clips[1]})
    build(music, tmp_path / "store", embedder)
    (music / "one.wav").unlink()
    shutil.copyfile(clips[2], music / "two.wav")  # same name, other audio
    counting = Counting(embedder)
    report = build(music, tmp_path / "store", counting)
    assert (report.embedded, report.deleted, counting.calls) == (1, 2, ["two.wav"])
    (card,) = open_sound_index(tmp_path / "store").cards
    assert card.traits.tempo_bpm > 130  # the metal riff now, not the ballad


def test_an_empty_folder_changes_nothing_and_says_so(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    music = folder_with(tmp_path, {"one.wav": clips[0]})
    build(music, tmp_path / "store", embedder)
    (music / "one.wav").unlink()
    with pytest.raises(CatalogError) as refused:
        build(music, tmp_path / "store", embedder)
    one_sentence(str(refused.value).replace(str(music), "DIR"), tmp_path)
    assert len(open_sound_index(tmp_path / "store")) == 1


def test_an_empty_folder_on_a_first_build_leaves_no_index_behind(
    tmp_path: Path, embedder: MusicnnSoundEmbedder
) -> None:
    (tmp_path / "music").mkdir()
    with pytest.raises(CatalogError):
        build(tmp_path / "music", tmp_path / "store", embedder)
    with pytest.raises(CatalogError, match="no sound index"):
        open_sound_index(tmp_path / "store")  # not "interrupted": nothing was started


def test_a_clip_shorter_than_one_window_is_refused(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder
) -> None:
    short = render(Piece("house", 120, 0, "minor", seconds=MIN_CLIP_S - 1), tmp_path / "s.wav")
    music = folder_with(tmp_path, {"short.wav": short, "long.wav": clips[0]})
    report = build(music, tmp_path / "store", embedder)
    assert report.embedded == 1 and len(report.skipped) == 1
    one_sentence(report.skipped[0], tmp_path)
    assert "shorter than" in report.skipped[0]


def test_an_interrupted_build_keeps_its_work_and_resumes(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder, monkeypatch
) -> None:
    monkeypatch.setattr("vectorstore.sound.WRITE_EVERY", 1)
    music = folder_with(tmp_path, {f"{i}.wav": clip for i, clip in enumerate(clips)})
    with pytest.raises(KeyboardInterrupt):
        build(music, tmp_path / "store", Counting(embedder, stop_after=2))
    with pytest.raises(CatalogError, match="interrupted"):
        open_sound_index(tmp_path / "store")
    counting = Counting(embedder)
    report = build(music, tmp_path / "store", counting)
    assert (report.embedded, report.unchanged, len(counting.calls)) == (1, 2, 1)
    assert len(open_sound_index(tmp_path / "store")) == 3


# --- search and the command line -------------------------------------------------------------


def test_search_by_sound_finds_the_same_style_and_says_why(
    tmp_path: Path, embedder: MusicnnSoundEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    styles = ("house", "piano_ballad", "metal_riff", "string_quartet")
    indexed = render_corpus(corpus(2, seconds=SECONDS, styles=styles))
    music = folder_with(tmp_path, {f"{r.piece.name}.wav": r.path for r in indexed})
    (query,) = render_corpus(corpus(1, seconds=SECONDS, styles=("house",), first_seed=50))
    assert main(["build", "--audio-dir", str(music), "--path", str(tmp_path / "s"), "--quiet"]) == 0
    capsys.readouterr()
    code = main(
        ["search", "--audio", str(query.path), "--path", str(tmp_path / "s"), "--k", "2", "--json"]
    )
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert code == 0 and [h["name"].split("-")[0] for h in hits] == ["house", "house"]
    assert {"name", "artist", "score", "path", "why"} <= set(hits[0])
    assert "BPM" in hits[0]["why"] and Path(hits[0]["path"]).is_file()


def test_cli_refuses_bad_input_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "nothing")
    assert main(["search", "--audio", "x.wav", "--path", store]) == 2
    assert main(["build", "--audio-dir", str(tmp_path / "missing"), "--path", store]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)
    assert "python -m tools.sound build" in errors[0]


def test_the_catalogs_command_line_hands_sound_commands_to_the_sound_index(
    tmp_path: Path,
) -> None:
    """``python -m vectorstore build --audio-dir`` / ``search --audio`` work as the sound
    index's own commands (its models live in tools, which vectorstore may not import)."""
    (tmp_path / "music").mkdir()
    store = str(tmp_path / "nothing")
    for args, says in (
        (["search", "--audio", "x.wav", "--path", store], "python -m tools.sound build"),
        (["build", f"--audio-dir={tmp_path / 'music'}", "--path", store], "holds no files"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "vectorstore", *args], capture_output=True, text=True
        )
        errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
        assert done.returncode == 2 and len(errors) == 1 and says in errors[0], done.stderr
    assert not sound_index_command(["search", "--audio-dir", "x"])  # build's option only
    assert not sound_index_command(["recommend", "--audio", "x"])


def test_the_index_lives_beside_the_catalog_on_a_chroma_server(
    tmp_path: Path, clips: list[Path], embedder: MusicnnSoundEmbedder, chroma_server, monkeypatch
) -> None:
    monkeypatch.setenv("CHROMA_HOST", chroma_server.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma_server.port))
    collection = f"sound_{uuid.uuid4().hex[:8]}"
    music = folder_with(tmp_path, {"house.wav": clips[0], "ballad.wav": clips[1]})
    report = build_sound_index(music, embedder, collection=collection, progress=False)
    index = open_sound_index(collection=collection)
    assert report.embedded == 2 and sorted(c.name for c in index.cards) == ["ballad", "house"]
    assert index.location.host == chroma_server.host


def test_held_out_clips_find_their_style_by_sound_alone(
    tmp_path: Path, embedder: MusicnnSoundEmbedder
) -> None:
    """The bench's criterion on a small corpus: three nearest indexed clips of each held-out
    query (other seeds: other melodies, tempos and keys) mostly share its style."""
    indexed = render_corpus(corpus(3, seconds=SECONDS))
    music = folder_with(tmp_path, {r.path.name: r.path for r in indexed})
    build(music, tmp_path / "store", embedder)
    index = open_sound_index(tmp_path / "store")
    style_of = {r.path.name: r.piece.style for r in indexed}
    queries = render_corpus(corpus(1, seconds=SECONDS, first_seed=1000))
    same = [
        style_of[Path(hit.card.path).name] == query.piece.style
        for query in queries
        for hit in index.search(embedder(query.path), 3)
    ]
    assert len(same) == 3 * len(queries) and sum(same) / len(same) >= 0.8
