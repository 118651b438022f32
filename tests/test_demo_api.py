"""The launched app through ``gradio_client``, with the REAL agent (offline brain) reading a
small catalog built by ``python -m vectorstore build`` from the first MusiCRS threads.

Skips visibly when the MusiCRS file or the catalog CLI is not available. The ``/chat``
outputs are (chat, box, cards, audio text, plot, turn summary): the audio panel's
visibility is a layout update, which the API leaves out. ``/feedback`` (action, card) ends
with the feedback as JSON; ``/export`` returns the M3U8, CSV and JSPF files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from demo.chat import DUPLICATE_MESSAGE
from demo.inputs import EMPTY_MESSAGE
from tests.audio_fixtures import four_on_the_floor, text_renamed_mp3
from tests.test_demo_support import served_real_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(musicrs_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_real_app(musicrs_path, tmp_path_factory.getbasetemp()) as address:
        yield address


def client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False)


def send(client: Client, text: str = "", *files: Path) -> tuple[Any, ...]:
    value = {"text": text, "files": [handle_file(str(f)) for f in files]}
    return client.predict(value, api_name="/chat")


def texts(chat: list[dict[str, Any]], role: str) -> list[str]:
    """The plain text of each ``role`` message (Gradio returns content as blocks)."""
    found = []
    for message in chat:
        if message["role"] != role or message.get("metadata"):
            continue
        blocks = message["content"] if isinstance(message["content"], list) else []
        found.append(" ".join(b.get("text", "") for b in blocks if b.get("type") == "text"))
    return found


def steps(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["metadata"] for m in chat if m.get("metadata") and m["metadata"].get("title")]


def assert_answers(client: Client) -> dict[str, Any]:
    """The session still works: a text turn gives recommendations."""
    turn = send(client, "Recommend modal jazz like Kind of Blue by Miles Davis.")[-1]
    assert turn["ok"] and turn["recommendations"], turn
    return turn


def test_text_turn_returns_recommendations_and_steps(url: str) -> None:
    chat, box, cards, *_, turn = send(client(url), "Recommend modal jazz like Kind of Blue.")
    assert turn["ok"] and turn["brain"] == "offline brain"
    recommendations = turn["recommendations"]
    assert recommendations and all(r["name"] and r["why"] for r in recommendations)
    assert 'class="rec-card"' in cards
    assert steps(chat) and all("duration" in s for s in steps(chat))
    assert all(s.get("status") != "pending" for s in steps(chat))
    assert texts(chat, "user") == ["Recommend modal jazz like Kind of Blue."]
    assert box["value"] == {"text": "", "files": []} and box["interactive"]


def test_audio_upload_returns_description_and_recommendations(url: str, tmp_path: Path) -> None:
    clip = four_on_the_floor(tmp_path / "groove.wav", seconds=8.0, bpm=128.0)
    chat, _, cards, panel_text, plot, turn = send(client(url), "", clip)
    assert turn["audio"] and turn["audio"]["features"]["tempo_bpm"] > 0
    assert turn["recommendations"] and 'class="rec-card"' in cards
    assert "BPM" in panel_text and plot is not None
    assert any(s["title"].endswith("Listening to the clip") for s in steps(chat))


def test_the_readme_client_gets_a_clip_turn_with_its_default_file_downloads(
    url: str, tmp_path: Path
) -> None:
    # gradio_client downloads every {"path": …} object in an answer; the turn JSON must not
    # hold one that the server cannot serve (the README shows Client(url) with defaults).
    clip = four_on_the_floor(tmp_path / "groove.wav", seconds=8.0, bpm=128.0)
    value = {"text": "", "files": [handle_file(str(clip))]}
    turn = Client(url, verbose=False).predict(value, api_name="/chat")[-1]
    assert turn["ok"] and turn["audio"]["source"]["name"] == "groove.wav"
    assert "path" not in turn["audio"]["source"]


def test_two_clients_at_once_keep_separate_histories(url: str) -> None:
    jazz, metal = client(url), client(url)
    prompts = {
        "jazz": ["I love modal jazz.", "More like Coltrane please."],
        "metal": ["Heavy melodic metal?", "Something like Deftones."],
    }

    def converse(pair: tuple[Client, list[str]]) -> list[dict[str, Any]]:
        chat: list[dict[str, Any]] = []
        for prompt in pair[1]:
            chat = send(pair[0], prompt)[0]
        return chat

    with ThreadPoolExecutor(2) as pool:
        chats = list(pool.map(converse, [(jazz, prompts["jazz"]), (metal, prompts["metal"])]))
    assert texts(chats[0], "user") == prompts["jazz"]
    assert texts(chats[1], "user") == prompts["metal"]


def test_empty_message_gets_a_sentence(url: str) -> None:
    session = client(url)
    chat, *_, turn = send(session, "   ")
    assert texts(chat, "assistant")[-1] == EMPTY_MESSAGE and not turn["ok"]
    assert_answers(session)


def test_non_audio_uploads_get_a_sentence(url: str, tmp_path: Path) -> None:
    session = client(url)
    notes = tmp_path / "notes.txt"
    notes.write_text("definitely not music\n")
    chat, *_, turn = send(session, "like this", notes)
    assert "'notes.txt' is not an audio file" in turn["reply"] and not turn["ok"]
    # Named like audio but is not: the agent's audio tools say so, in one sentence.
    fake = text_renamed_mp3(tmp_path / "song.mp3")
    chat, *_, turn = send(session, "", fake)
    assert "'song.mp3' is not" in texts(chat, "assistant")[-1] and turn["audio"] is None
    assert "Traceback" not in str(chat)
    assert_answers(session)


def test_oversize_upload_is_refused(url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with big.open("wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200_000_000)
    session = client(url)
    # The server's max_file_size refuses the upload itself (the page shows it in the chat,
    # see test_demo_browser); an API client gets the HTTP error.
    with pytest.raises(Exception, match=r"(?i)size|413|large"):
        send(session, "", big)
    assert_answers(session)


def test_playlist_link_gets_a_sentence(url: str) -> None:
    session = client(url)
    turn = send(
        session, "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    )[-1]
    assert "playlist" in turn["reply"] and not turn["ok"]
    assert_answers(session)


def test_double_send_runs_once(url: str) -> None:
    session = client(url)
    jobs = [session.submit({"text": "jazz please", "files": []}, api_name="/chat") for _ in "ab"]
    turns = [job.result()[-1] for job in jobs]
    replies = [t["reply"] for t in turns]
    assert all(t["ok"] for t in turns) or DUPLICATE_MESSAGE in replies
    assert_answers(session)


def test_feedback_and_export_through_the_api(url: str, tmp_path: Path) -> None:
    session = Client(url, verbose=False, download_files=str(tmp_path))
    first = send(session, "some upbeat indie tracks")[-1]["recommendations"]
    disliked, liked = first[0]["name"], first[1]["name"]
    answer = session.predict("dislike", "1", api_name="/feedback")[-1]
    assert answer["ok"] and answer["card"]["name"] == disliked
    assert session.predict("like", "#2", api_name="/feedback")[-1]["ok"]
    refused = session.predict("like", "42", api_name="/feedback")[-1]
    assert not refused["ok"] and refused["message"].startswith("There is no card #42")

    turn = send(session, "what else?")[-1]
    names = [r["name"] for r in turn["recommendations"]]
    assert disliked not in names and names
    assert f"Leaving out {disliked}" in turn["reply"] and f"using {liked}" in turn["reply"]
    # The liked card is a seed now: the engine's evidence cites it.
    assert any(liked.lower() in r["why"].lower() for r in turn["recommendations"])

    m3u8, table, jspf = (Path(p) for p in session.predict(api_name="/export"))
    listed = [line for line in m3u8.read_text(encoding="utf-8").splitlines() if line]
    assert listed[0] == "#EXTM3U"
    assert any(
        line.startswith('#EXTINF:-1 liked="true",') and line.endswith(liked) for line in listed
    )
    assert not any(line.endswith(f",{disliked}") for line in listed)
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert {r["name"] for r in rows} == {liked, *(r["name"] for r in first[2:]), *names}
    tracks = json.loads(jspf.read_text(encoding="utf-8"))["playlist"]["track"]
    assert len(tracks) == len(rows)
