"""Cards of the user's own music play the local file, and only files the sound index holds.

A sound index is built from a folder of rendered clips (the user's music); a stand-in agent's
turn ran ``find_similar_sounding`` on the uploaded clip, as the offline brain does. The app
is launched and used through ``gradio_client`` and plain HTTP: the cards carry an ``<audio>``
player whose file Gradio serves, a file outside the index is refused by the server, and no
server path appears in any text the page shows.
"""

from __future__ import annotations

import html
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from agent import TurnResult
from agent.turns import ToolTrace
from demo import render
from demo.local_audio import LocalAudio, LocalCard
from tests.test_demo_support import served
from tools.sound import MusicnnSoundEmbedder
from tools.sound_tools import TOOL_NAME
from tools.synthetic_music import corpus, render_corpus
from vectorstore.sound import build_sound_index, open_sound_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folder: two rendered songs, and one file beside them left out of the index."""
    folder = tmp_path_factory.mktemp("my-music")
    for clip, name in zip(
        render_corpus(corpus(1, seconds=6.0, styles=("house", "piano_ballad"))),
        ("Night Drive.wav", "Slow Piano.wav"),
        strict=True,
    ):
        shutil.copyfile(clip.path, folder / name)
    return folder


@pytest.fixture(scope="module")
def local(music: Path, tmp_path_factory: pytest.TempPathFactory) -> LocalAudio:
    store = tmp_path_factory.mktemp("catalog")
    build_sound_index(music, MusicnnSoundEmbedder(), store, progress=False)
    return LocalAudio(open_sound_index(store))


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory, music: Path, local: LocalAudio) -> Path:
    """A real audio file outside the indexed folder, and a link to it put inside the folder
    after the index was built."""
    secret = tmp_path_factory.mktemp("elsewhere") / "private.wav"
    shutil.copyfile(music / "Night Drive.wav", secret)
    (music / "link.wav").symlink_to(secret)
    return secret


def visible_text(page_html: str) -> str:
    """What a reader sees: the text between tags, attributes left out."""
    return html.unescape(re.sub(r"<[^>]*>", " ", page_html))


def test_only_indexed_files_get_a_player_url(local: LocalAudio, music: Path, outside: Path):
    song = local.url(str(music / "Night Drive.wav"))
    assert song is not None and song.startswith("/gradio_api/file=")
    assert local.url(str(outside)) is None  # a real file, but not in the index
    assert local.url(str(music / "link.wav")) is None  # inside the folder, leading out
    assert local.url(str(music / ".." / music.name / "Slow Piano.wav")) is not None
    assert local.url("/etc/passwd") is None
    assert local.url(str(music / "missing.wav")) is None
    assert str(outside) not in local.allowed_paths()


def test_a_card_without_a_playable_file_has_no_player_and_names_no_path(tmp_path: Path) -> None:
    cards = [
        LocalCard(f"{tmp_path}/private.wav", None, "120 vs 124 BPM", None),
        LocalCard("Night Drive", "Me", f"like {tmp_path}/x.wav", "/gradio_api/file=/a/b.wav"),
    ]
    page = render.local_cards_html(cards)
    assert page.count("<audio") == 1 and 'src="/gradio_api/file=/a/b.wav"' in page
    assert str(tmp_path) not in visible_text(page)
    assert render.local_cards_html([]) == ""


class SoundSearchingAgent:
    """The turn API of a real agent whose turn matched the clip in the sound index."""

    def stream_turn(self, session_id: str, text: str, audio: str | None = None):
        trace = [ToolTrace(TOOL_NAME, {"path": audio, "k": 2}, 0.5, True)] if audio else []
        yield TurnResult(reply="It sounds like two songs of yours.", trace=trace, brain="test")

    def reset(self, session_id: str) -> None:
        pass


@pytest.fixture(scope="module")
def url(local: LocalAudio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from demo.app import build_app

    results = tmp_path_factory.getbasetemp() / "no-results.json"
    app = build_app(SoundSearchingAgent(), "test brain", results=results, local_audio=local)
    with served(app, local) as address:
        yield address


def get(address: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(address, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_the_cards_of_a_clip_play_the_users_files(url: str, music: Path, outside: Path) -> None:
    client = Client(url, verbose=False, download_files=False)
    value = {
        "text": "what does this sound like?",
        "files": [handle_file(str(music / "Night Drive.wav"))],
    }
    chat, _box, cards, *_rest, turn = client.predict(value, api_name="/chat")
    assert turn["ok"]
    sources = re.findall(r'<audio[^>]* src="([^"]+)"', cards)
    assert len(sources) == 2
    assert "Night Drive" in visible_text(cards) and "Slow Piano" in visible_text(cards)
    for text in (visible_text(cards), str(chat), str(turn)):
        assert str(music) not in text and "/tmp/" not in text
    status, body = get(url.rstrip("/") + html.unescape(sources[0]))
    assert status == 200 and body == (music / "Night Drive.wav").read_bytes()
    # The server itself refuses a file the index does not hold, however it is asked.
    assert get(f"{url.rstrip('/')}/gradio_api/file={outside}")[0] == 403
    assert get(f"{url.rstrip('/')}/gradio_api/file={music / 'link.wav'}")[0] == 403
