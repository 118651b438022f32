"""The offline brain with a sound index beside the catalog: a clip's answer names the indexed
recordings it sounds like and why; without an index, or with a clip the index refuses, the
turn goes on as before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent import Settings, build_agent
from tests.agent_support import MiniCatalog
from tools.audio_tools import AUDIO_TOOLS
from tools.catalog import CATALOG_TOOLS
from tools.sound import MusicnnSoundEmbedder
from tools.sound_tools import SOUND_TOOLS
from tools.synthetic_music import corpus, render_corpus
from vectorstore.sound import build_sound_index
from vectorstore.store import store_location


class CatalogWithSound(MiniCatalog):
    """The small test catalog, located where a sound index was built."""

    def __init__(self, store: Path) -> None:
        super().__init__()
        self.location = store_location(store, "musicrs_entities", environ={})


@pytest.fixture(scope="module")
def agent():
    return build_agent(Settings(), tools=[*CATALOG_TOOLS, *AUDIO_TOOLS, *SOUND_TOOLS])


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> CatalogWithSound:
    root = tmp_path_factory.mktemp("sound-agent")
    music = root / "music"
    music.mkdir()
    for rendered in render_corpus(corpus(1, seconds=6.0, styles=("house", "string_quartet"))):
        shutil.copyfile(rendered.path, music / f"{rendered.piece.style}.wav")
    build_sound_index(music, MusicnnSoundEmbedder(), root / "store", progress=False)
    return CatalogWithSound(root / "store")


@pytest.fixture(scope="module")
def house_clip() -> Path:
    (clip,) = render_corpus(corpus(1, seconds=6.0, styles=("house",), first_seed=40))
    return clip.path


def test_a_clip_is_answered_with_what_it_sounds_like_and_why(agent, indexed, house_clip):
    result = agent.run_turn("sound", "more like this", str(house_clip), catalog=indexed)
    names = [t.name for t in result.trace]
    assert names[:2] == ["describe_audio", "find_similar_sounding"] and result.ok
    line = next(x for x in result.reply.splitlines() if "sounds most like" in x)
    assert line.index("house") < line.index("string_quartet")  # closest first
    assert "BPM" in line and " vs " in line


def test_without_a_sound_index_the_tool_is_not_called(agent, house_clip):
    result = agent.run_turn("no-sound", "more like this", str(house_clip), catalog=MiniCatalog())
    assert "find_similar_sounding" not in [t.name for t in result.trace]
    assert "sounds most like" not in result.reply


def test_a_clip_too_short_for_the_index_is_said_in_one_sentence(agent, indexed, tmp_path):
    (clip,) = render_corpus(corpus(1, seconds=2.0, styles=("house",)))
    result = agent.run_turn("short", "more like this", str(clip.path), catalog=indexed)
    line = next(x for x in result.reply.splitlines() if "match your clip by sound" in x)
    assert "shorter than" in line and str(tmp_path) not in line
