"""Helpers for the demo tests: a stand-in agent and a launched app on a free port.

``StandInAgent`` implements the ``MusicAgent`` turn API with canned, input-dependent
answers and real ``agent.turns`` event classes, so the page can be tested quickly and
without a catalog; the tests that need the real agent say so and use ``agent.build_agent``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from agent import Recommendation, TextDelta, ToolFinished, ToolStarted, TurnEvent, TurnResult
from agent.grammar import parse_message
from agent.state import Feedback, GivenItem, SessionState
from tools.audio import AudioSource
from tools.describe import AudioDescription
from tools.dsp import DspFeatures
from tools.tagger import AudioTag


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app: gr.Blocks, local_audio=None) -> Iterator[str]:
    """Launch ``app`` on a free localhost port in this process; yield its URL.
    ``local_audio`` (``demo.local_audio.LocalAudio``): the files it may serve."""
    from demo.app import launch_options

    options = launch_options(local_audio=local_audio) | {
        "server_name": "127.0.0.1",
        "server_port": free_port(),
    }
    app.launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        yield f"http://127.0.0.1:{options['server_port']}/"
    finally:
        app.close()


def fake_description(path: str) -> AudioDescription:
    return AudioDescription(
        summary="A steady 120 BPM groove in A minor with bright synths.",
        source=AudioSource(
            path=path,
            format_name="wav",
            codec="pcm_s16le",
            channels=1,
            sample_rate=22050,
            declared_duration_s=8.0,
            size_bytes=Path(path).stat().st_size,
        ),
        duration_s=8.0,
        analysed_windows_s=[(0.0, 8.0)],
        features=DspFeatures(
            tempo_bpm=120.0,
            tempo_confidence=0.9,
            key="A",
            mode="minor",
            key_confidence=0.7,
            loudness_lufs=-14.0,
            dynamic_range_db=6.0,
            brightness_hz=2400.0,
            onset_density=4.0,
            percussive_ratio=0.6,
            voice_activity_ratio=0.0,
            vocals_likely=False,
            duration_analysed_s=8.0,
        ),
        tags=[AudioTag(name="techno", score=0.61, source="MSD")],
        loudness_curve_db=[-30.0 + (i % 4) for i in range(16)],
    )


class StandInAgent:
    """The ``MusicAgent`` turn API with canned answers; remembers each session's texts."""

    brain = "offline brain"

    def __init__(self, step_delay_s: float = 0.05) -> None:
        self.step_delay_s = step_delay_s
        self.history: dict[str, list[str]] = {}
        self.resets: list[str] = []
        self.states: dict[str, SessionState] = {}
        self._lock = threading.Lock()

    def stream_turn(
        self, session_id: str, text: str, audio: str | None = None
    ) -> Iterator[TurnEvent]:
        with self._lock:
            self.history.setdefault(session_id, []).append(text)
        description = None
        if audio:
            yield ToolStarted("c0", "describe_audio", {"path": Path(audio).name})
            time.sleep(self.step_delay_s)
            if Path(audio).read_bytes()[:4] != b"RIFF":
                reply = f"'{Path(audio).name}' is not an audio file that can be read."
                yield ToolFinished("c0", "describe_audio", False, 0.01, "", reply)
                yield TurnResult(reply=reply, brain=self.brain, ok=False)
                return
            description = fake_description(audio)
            yield ToolFinished("c0", "describe_audio", True, 0.2, description.summary)
        if "playlist" in text:
            reply = "That link is a YouTube playlist; paste a link to one video instead."
            yield TurnResult(reply=reply, brain=self.brain, ok=False)
            return
        yield ToolStarted("c1", "search_catalog", {"query": text[:40]})
        time.sleep(self.step_delay_s)
        yield ToolFinished("c1", "search_catalog", True, 0.1, "3 hits")
        for word in ("Here are ", "three picks."):
            yield TextDelta(word)
        recommendations = [
            Recommendation("Kind of Blue", "Miles Davis", "modal jazz, like you asked", None, 0.8),
            Recommendation(
                "Giant Steps",
                "John Coltrane",
                "fast changes <b>not bold</b>",
                "https://www.youtube.com/watch?v=30FTr6G53VU",
                0.6,
            ),
        ]
        shown = [
            GivenItem(turn=0, position=0, name=r.name, artists=(r.artist,), entity_id=r.name,
                      youtube_url=r.youtube_url)
            for r in recommendations
        ]  # fmt: skip
        with self._lock:
            state = self.session_state(session_id).begin_turn(parse_message(text))
            self.states[session_id] = state.end_turn(shown, None)
        yield TurnResult(
            reply="Here are three picks.",
            recommendations=recommendations,
            audio_description=description,
            brain=self.brain,
        )

    def session_state(self, session_id: str) -> SessionState:
        return self.states.get(session_id) or SessionState()

    def give_feedback(self, session_id: str, action: str, card: int | str) -> Feedback:
        state = self.session_state(session_id).with_feedback(action, card)  # type: ignore[arg-type]
        self.states[session_id] = state
        return state.pending[-1]

    def reset(self, session_id: str) -> None:
        with self._lock:
            self.resets.append(session_id)
            self.history.pop(session_id, None)
            self.states.pop(session_id, None)


def build_small_catalog(musicrs_path: Path, base: Path) -> Path:
    """A catalog of the first MusiCRS thread of each subreddit (9 threads, every genre),
    built once per test session with the catalog's own CLI; skips the calling test when
    the build is not possible."""
    import json
    import subprocess
    import sys

    import pytest

    catalog = base / "demo-catalog"
    done = catalog / "built"
    if done.is_file():
        return catalog
    catalog.mkdir(parents=True, exist_ok=True)
    firsts: dict[str, str] = {}
    with musicrs_path.open(encoding="utf-8") as lines:
        for line in lines:
            firsts.setdefault(json.loads(line)["source_subreddit"], line)
    subset = base / "demo-musicrs.jsonl"
    subset.write_text("".join(firsts.values()), encoding="utf-8")
    command = [sys.executable, "-m", "vectorstore", "build", "--quiet", "--data", str(subset)]
    run = subprocess.run(
        [*command, "--path", str(catalog)], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        pytest.skip(f"the catalog CLI could not build a catalog: {run.stderr.strip()[-300:]}")
    done.touch()
    return catalog


def real_agent(catalog: Path):  # -> agent.MusicAgent
    """The real agent on the offline brain, reading ``catalog``."""
    import dataclasses

    from agent import Settings, build_agent

    settings = dataclasses.replace(
        Settings.from_env(), provider="offline", catalog_path=str(catalog)
    )
    agent = build_agent(settings)
    agent.warm_up()  # as demo.app.main does: the catalog opens before the first turn
    return agent


@contextmanager
def served_real_app(musicrs_path: Path, base: Path, results: Path | None = None) -> Iterator[str]:
    """The demo app on the real offline agent and a small MusiCRS catalog, served locally;
    ``results`` is the benchmark tab's results file (default: none there)."""
    from demo.app import build_app

    agent = real_agent(build_small_catalog(musicrs_path, base))
    results = results or base / "no-results.json"
    with served(build_app(agent, agent.settings.brain_label, results=results)) as address:
        yield address
