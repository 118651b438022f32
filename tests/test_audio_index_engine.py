"""The engine's ``sound`` source: a clip finds the threads whose clips sound like it, and
what was recommended there, with the tempo, key and tags side by side as evidence.

Threads are written directly as engine records; their clips are rendered by
:mod:`tools.synthetic_music` in the MusiCRS layout (``<dir>/<thread>/*.wav``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.recommend import heard_clip
from tools.sound import MusicnnSoundEmbedder
from tools.synthetic_music import corpus, render_corpus
from vectorstore.engine import RecommendationEngine, RecommendRequest, ThreadRecord
from vectorstore.entities import Mention
from vectorstore.sound import build_sound_index, open_sound_index
from vectorstore.testing import HashEmbeddingFunction

THREADS = {"t_house": ("house", "Daft Punk"), "t_ballad": ("piano_ballad", "Chopin")}


def record(thread: str, artist: str) -> ThreadRecord:
    key = artist.lower()
    return ThreadRecord(
        thread,
        f"https://reddit.com/{thread}",
        "music",
        f"request {thread}",
        (Mention(thread, "music", key, "artist", "c1", 5, "recommended", artist),),
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> RecommendationEngine:
    root = tmp_path_factory.mktemp("sound-engine")
    for thread, (style, _) in THREADS.items():
        (clip,) = render_corpus(corpus(1, seconds=6.0, styles=(style,)))
        (root / "clips" / thread).mkdir(parents=True)
        shutil.copyfile(clip.path, root / "clips" / thread / "clip.wav")
    build_sound_index(
        root / "clips", MusicnnSoundEmbedder(), root / "store", threads=True, progress=False
    )
    records = [record(thread, artist) for thread, (_, artist) in THREADS.items()]
    embedder = HashEmbeddingFunction()
    return RecommendationEngine(
        records,
        embedder.encode([r.request for r in records]),
        embedder,
        sound=open_sound_index(root / "store"),
    )


@pytest.fixture(scope="module")
def house_path() -> Path:
    (query,) = render_corpus(corpus(1, seconds=6.0, styles=("house",), first_seed=40))
    return query.path


@pytest.fixture(scope="module")
def house_clip(house_path: Path) -> object:
    return MusicnnSoundEmbedder()(house_path)


def test_a_clip_alone_is_answered_from_threads_that_sound_like_it(engine, house_clip) -> None:
    answer = engine.recommend(RecommendRequest(clip=house_clip, k=2))
    first = answer.items[0]
    assert first.card.name == "Daft Punk"
    evidence = first.evidence[0]
    assert evidence.source == "sound" and evidence.thread == "t_house"
    assert "BPM" in evidence.detail and " vs " in evidence.detail


def test_an_excluded_thread_is_not_heard(engine, house_clip) -> None:
    answer = engine.recommend(RecommendRequest(clip=house_clip, k=2, exclude_threads=("t_house",)))
    assert [item.card.name for item in answer.items] == ["Chopin"]


def test_the_recommend_tool_hears_the_clip_only_with_a_sound_index(
    engine, house_path, house_clip, tmp_path
) -> None:
    assert heard_clip(engine, str(house_path)).vector == house_clip.vector
    assert heard_clip(engine, str(tmp_path / "missing.wav")) is None  # describe said why
    assert heard_clip(RecommendationEngine([], [], None), str(house_path)) is None
    assert heard_clip(engine, None) is None
