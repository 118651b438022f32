"""The demo's pieces without a server: input checks, rendering, sessions, the turn stream."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agent import Recommendation, TurnResult
from demo import render
from demo.chat import (
    BUSY_MESSAGE,
    BUSY_NEW_CONVERSATION,
    DUPLICATE_MESSAGE,
    FAILURE_MESSAGE,
    NEW_CONVERSATION_MESSAGE,
    ChatController,
)
from demo.inputs import EMPTY_MESSAGE, MAX_UPLOAD_MB, ChatInput, Refusal, read_message
from demo.plot import timeline_figure
from demo.sessions import SessionStore
from tests.audio_fixtures import click_track
from tests.test_demo_support import StandInAgent, fake_description


@pytest.fixture()
def wav(tmp_path: Path) -> Path:
    return click_track(tmp_path / "clicks.wav", seconds=2.0)


def test_empty_message_is_refused() -> None:
    for value in (None, "", "   ", {"text": " ", "files": []}):
        result = read_message(value)
        assert isinstance(result, Refusal) and result.reason == EMPTY_MESSAGE


def test_audio_and_text_pass(wav: Path) -> None:
    result = read_message({"text": " like this ", "files": [str(wav)]})
    assert result == ChatInput("like this", str(wav))


def test_non_audio_and_oversize_uploads_are_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not music")
    refusal = read_message({"text": "", "files": [str(notes)]})
    assert isinstance(refusal, Refusal) and "not an audio file" in refusal.reason
    big = tmp_path / "big.wav"
    with big.open("wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200_000_000)
    refusal = read_message({"text": "", "files": [str(big)]})
    assert isinstance(refusal, Refusal)
    assert f"over the {MAX_UPLOAD_MB} MB upload limit" in refusal.reason


def test_playlist_and_channel_links_are_refused_video_links_pass() -> None:
    playlist = read_message("https://www.youtube.com/playlist?list=PLx")
    assert isinstance(playlist, Refusal) and "playlist" in playlist.reason
    assert isinstance(read_message("see youtube.com/@someone"), Refusal)
    assert isinstance(read_message("https://youtu.be/dQw4w9WgXcQ this vibe"), ChatInput)


def test_extra_files_are_noted(wav: Path, tmp_path: Path) -> None:
    other = click_track(tmp_path / "two.wav", seconds=1.0)
    result = read_message({"text": "", "files": [str(wav), str(other)]})
    assert isinstance(result, ChatInput) and result.audio == str(wav) and result.notes


def test_cards_escape_and_link() -> None:
    recs = [
        Recommendation("<script>x</script>", None, "why & how", None, 2.0),
        Recommendation("So What", "Miles Davis", "modal", "https://youtu.be/zqNTltOGh5c", 0.5),
    ]
    page = render.cards_html(recs)
    assert "<script>" not in page and "&lt;script&gt;" in page and "why &amp; how" in page
    assert "results?search_query=%3Cscript%3Ex%3C%2Fscript%3E" in page
    assert "youtube-nocookie.com/embed/zqNTltOGh5c" in page and "100%" in page
    assert render.cards_html([]) == ""


def test_youtube_id() -> None:
    assert render.youtube_id("https://www.youtube.com/watch?v=zqNTltOGh5c&t=3") == "zqNTltOGh5c"
    assert render.youtube_id("https://example.com/watch?v=zqNTltOGh5c") is None
    assert render.youtube_id(None) is None


def test_badge_never_shows_more_than_the_label() -> None:
    assert "offline brain" in render.badge_html("offline brain")
    assert "online" in render.badge_html("gpt-4o-mini via api.openai.com")


def test_thoughts_show_status_duration_and_errors() -> None:
    started = render.started_message("steps-1", "c1", "search_catalog", {"query": "x" * 500})
    assert started["metadata"]["status"] == "pending" and len(started["content"]) < 200
    assert started["metadata"]["parent_id"] == "steps-1"
    done = render.finished_message(
        started, "steps-1", "c1", "search_catalog", False, 0.123, "", "boom"
    )
    assert done["metadata"] | {} == {
        "title": "⚠️ Searching the catalog",
        "id": "steps-1/c1",
        "parent_id": "steps-1",
        "duration": 0.12,
    }
    assert "boom" in done["content"]


def test_a_turns_steps_nest_in_one_group_that_opens_on_a_failure() -> None:
    ok = render.finished_message(None, "g", "a", "recommend", True, 0.25, "5 items", None)
    failed = render.finished_message(None, "g", "b", "describe_audio", False, 0.5, "", "bad clip")
    group = render.finished_group("g", [ok, ok], [])
    assert group["metadata"] == {
        "title": "✅ 2 steps",
        "id": "g",
        "duration": 0.5,
        "status": "done",
    }
    assert group["content"] == "Finding what people recommended"
    sentence = render.failure_sentence("describe_audio", "bad clip")
    assert sentence in failed["content"]
    group = render.finished_group("g", [ok, failed], [sentence])
    assert group["metadata"]["title"] == "⚠️ 2 steps, 1 failed"
    assert "status" not in group["metadata"] and group["metadata"]["duration"] == 0.75
    assert group["content"] == "**Listening to the clip failed:** bad clip"


def test_audio_panel_and_plot(wav: Path) -> None:
    description = fake_description(str(wav))
    panel = render.audio_panel_html(description)
    for expected in ("120 BPM", "A minor", "techno", "steady 120 BPM groove"):
        assert expected in panel
    assert timeline_figure(description) is not None
    assert timeline_figure(description.model_copy(update={"loudness_curve_db": []})) is None


def test_turn_streams_steps_then_answer() -> None:
    controller = ChatController(StandInAgent(step_delay_s=0))
    views, titles = [], []
    # Each view carries the live chat list, so snapshot what it showed at that moment.
    for view in controller.respond("tab", {"text": "modal jazz", "files": []}):
        views.append(view)
        titles.append([m.get("metadata", {}).get("title") for m in view.messages])
    assert views[0].box_locked and views[0].messages[0]["content"] == "modal jazz"
    assert titles[1] == [None, "🔧 Working…", "🔧 Searching the catalog…"]
    assert titles[2] == [None, "🔧 Working…", "✅ Searching the catalog"]
    final = views[-1]
    assert final.messages[1]["metadata"]["title"] == "✅ 1 step"
    assert final.messages[2]["metadata"]["parent_id"] == final.messages[1]["metadata"]["id"]
    assert not final.box_locked and "Giant Steps" in (final.cards or "")
    assert final.turn and final.turn["recommendations"][0]["name"] == "Kind of Blue"
    assert final.messages[-1]["content"] == "Here are three picks."


def test_busy_session_answers_with_a_sentence_and_ignores_a_double_click() -> None:
    controller = ChatController(StandInAgent(step_delay_s=0))
    running = controller.respond("tab", "jazz")
    next(running)  # the first turn is under way
    views = list(controller.respond("tab", "jazz"))
    assert views[-1].turn["reply"] == DUPLICATE_MESSAGE
    assert [m["content"] for m in views[-1].messages] == ["jazz"]
    views = list(controller.respond("tab", "metal"))
    assert views[-1].messages[-1]["content"] == BUSY_MESSAGE
    list(running)
    assert list(controller.respond("tab", "now"))[-1].turn["ok"]


def test_a_crashing_agent_leaves_a_sentence_and_a_usable_session() -> None:
    class Broken(StandInAgent):
        def stream_turn(self, session_id, text, audio=None):  # type: ignore[override]
            yield from super().stream_turn(session_id, text, audio)
            raise RuntimeError("bug")

    controller = ChatController(Broken(step_delay_s=0))
    views = list(controller.respond("tab", "hi"))
    assert views[-1].turn is not None and views[-1].turn["ok"]  # result came before the bug

    class Crash(StandInAgent):
        def stream_turn(self, session_id, text, audio=None):  # type: ignore[override]
            yield from ()
            raise RuntimeError("bug")

    controller = ChatController(Crash(step_delay_s=0))
    assert list(controller.respond("tab", "hi"))[-1].messages[-1]["content"] == FAILURE_MESSAGE
    assert not controller.store.get("tab").busy.locked()


def test_pending_steps_are_closed_when_a_turn_ends() -> None:
    class Silent(StandInAgent):
        def stream_turn(self, session_id, text, audio=None):  # type: ignore[override]
            from agent import ToolStarted

            yield ToolStarted("c9", "search_catalog", {})
            yield TurnResult(reply="done", brain="offline brain")

    views = list(ChatController(Silent()).respond("tab", "hi"))
    group, step = views[-1].messages[1:3]
    assert "status" not in step["metadata"] and "No result came back" in step["content"]
    assert "status" not in group["metadata"] and "no result came back" in group["content"]


def test_new_conversation_waits_for_a_running_turn() -> None:
    controller = ChatController(StandInAgent(step_delay_s=0))
    running = controller.respond("tab", "jazz")
    next(running)
    assert controller.new_conversation("tab").messages[-1]["content"] == BUSY_NEW_CONVERSATION
    list(running)
    assert controller.new_conversation("tab").messages[-1]["content"] == NEW_CONVERSATION_MESSAGE


def test_new_conversation_resets_only_that_session() -> None:
    agent = StandInAgent(step_delay_s=0)
    controller = ChatController(agent)
    list(controller.respond("a", "jazz"))
    list(controller.respond("b", "metal"))
    view = controller.new_conversation("a")
    assert agent.resets == ["a"] and len(view.messages) == 1
    assert view.session_id and controller.store.get("a").agent_session_id == view.session_id
    assert agent.history == {"b": ["metal"]}


def test_store_is_bounded_and_forgets_the_oldest() -> None:
    forgotten: list[str] = []
    store = SessionStore(forgotten.append, capacity=2)
    for key in ("a", "b", "c"):
        store.get(key)
    assert len(store) == 2 and forgotten == ["a"]
    store.drop("b")
    assert forgotten == ["a", "b"]


def test_concurrent_sessions_keep_their_own_chats() -> None:
    controller = ChatController(StandInAgent(step_delay_s=0.01))
    texts = {f"tab{i}": f"message {i}" for i in range(8)}
    threads = [
        threading.Thread(target=lambda k=k, t=t: list(controller.respond(k, t)))
        for k, t in texts.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for key, text in texts.items():
        users = [m["content"] for m in controller.store.get(key).messages if m["role"] == "user"]
        assert users == [text]


def test_oversize_report_is_a_chat_message() -> None:
    view = ChatController(StandInAgent()).oversize("tab", "/x/huge.wav", 200_000_000)
    assert "'huge.wav' is 200 MB" in view.messages[-1]["content"]


def test_secrets_never_reach_the_badge(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import Settings

    monkeypatch.setitem(os.environ, "OPENAI_API_KEY", "sk-secret-key-123456")
    label = Settings.from_env().brain_label
    assert "sk-" not in render.badge_html(label)


def test_no_catalog_and_no_data_still_starts_with_a_note(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from demo import readiness
    from vectorstore import musicrs

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("no network")

    monkeypatch.setenv("CATALOG_PATH", str(tmp_path / "no-catalog"))
    monkeypatch.setenv("AGENT_PROVIDER", "offline")
    monkeypatch.setenv("MUSICRS_DATA", str(tmp_path / "no-data.jsonl"))
    monkeypatch.setattr(musicrs.socket, "create_connection", offline)
    agent, notice = readiness.ready_agent()
    assert notice == readiness.NO_DATA and agent.catalog_status().startswith("unavailable")
    turn = agent.run_turn("s", "jazz")
    assert turn.reply  # the agent still answers, without the catalog
