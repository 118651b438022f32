"""The offline brain with a sound index beside the catalog: a clip's answer names the indexed
recordings it sounds like and why; without an index, or with a clip the index refuses, the
turn goes on as before. A reply states one tempo and one key for the clip: ``describe`` and
the sound index read them from one analysis.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from agent import Settings, build_agent
from tests.agent_support import MiniCatalog
from tools.audio_tools import AUDIO_TOOLS
from tools.catalog import CATALOG_TOOLS
from tools.describe import describe_audio
from tools.sound import MusicnnSoundEmbedder
from tools.sound_tools import SOUND_TOOLS
from tools.synthetic_music import Piece, corpus, render_corpus
from vectorstore.sound import SoundTraits, build_sound_index
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


#: A rendered clip whose tempo one sample rate read as 112 BPM and the other as 141 (MIDI: 140).
METAL_140 = Piece("metal_riff", 140, 11, "minor", seconds=30.0, seed=0)


def test_a_reply_states_one_tempo_and_key_for_the_clip(agent, indexed):
    (clip,) = render_corpus([METAL_140])
    result = agent.run_turn("one-tempo", "more like this", str(clip.path), catalog=indexed)
    features = result.audio_description.features
    said = {int(n) for n in re.findall(r"(\d+) BPM\)", result.reply)}  # describe's summary
    line = next(x for x in result.reply.splitlines() if "sounds most like" in x)
    clip_side = set(re.findall(r"(\d+) vs \d+ BPM", line))
    assert said == {round(features.tempo_bpm)}
    assert clip_side == {str(round(features.tempo_bpm))}
    assert set(re.findall(r"; (\w#?) (major|minor) vs", line)) == {(features.key, features.mode)}


@pytest.mark.parametrize("piece", [METAL_140, *corpus(1, seconds=15.0, first_seed=3)])
def test_describe_and_the_sound_index_hear_the_same_traits(piece):
    (clip,) = render_corpus([piece])
    described = describe_audio(clip.path, tags=False, lyrics=False).features
    heard = MusicnnSoundEmbedder()(clip.path).traits
    assert heard == SoundTraits(**described.model_dump(include=set(SoundTraits.model_fields)))
