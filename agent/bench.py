"""``python -m agent bench``: warm offline turn latency and the process's peak memory.

Conventions: the offline brain with the default catalog, its recommender and the audio
tools; every model is loaded and every code path compiled by one untimed warm-up turn of
each kind; figures are medians over ``repeats`` turns, each in a fresh session (a
follow-up turn is timed after an untimed first turn of the same session); the clip is a
generated 30 s WAV (a chord with a pulse, so tempo and tags have something to find); peak
RSS is the sum of the high-water marks (``VmHWM``) of this process and its live children
(the audio tagger runs in its own process), read after all turns, i.e. with everything
loaded.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.builder import build_agent
from agent.settings import Settings

TEXT_BUDGET_S = 0.300
CLIP_BUDGET_S = 5.0
RSS_BUDGET_MB = 3 * 1024
TEXT_TURN = "Something dreamy and ambient like Boards of Canada, please."
FOLLOW_UP = "Not Tycho, and more like the second one."


@dataclass(frozen=True)
class BenchResult:
    text_median_s: float
    follow_up_median_s: float
    clip_median_s: float | None
    peak_rss_mb: float
    children_rss_mb: float
    repeats: int
    catalog: str
    tools: tuple[str, ...]


def synth_clip(path: Path, seconds: float = 30.0, rate: int = 22050) -> Path:
    """A 30 s A-minor chord with a 120 BPM pulse, mono 16-bit WAV."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) / 3
    pulse = 0.5 + 0.5 * (np.mod(t, 0.5) < 0.08)
    samples = (0.4 * chord * pulse * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def _high_water_kb(pid: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS of this process, and the sum over its live children, in MB (``/proc``)."""
    children: list[str] = []
    for task in Path("/proc/self/task").iterdir():
        children += (task / "children").read_text().split()
    return _high_water_kb("self") / 1024, sum(_high_water_kb(pid) for pid in children) / 1024


def _median_turn_s(
    agent, text: str, audio: str | None, repeats: int, tag: str, after: str | None = None
) -> float:
    """Median duration of ``text`` (with ``audio``), each in a fresh session that first
    said ``after`` (untimed) when given."""
    durations = []
    for i in range(repeats):
        session = f"bench-{tag}-{i}"
        if after:
            agent.run_turn(session, after)
        started = time.perf_counter()
        agent.run_turn(session, text, audio)
        durations.append(time.perf_counter() - started)
        agent.reset(session)
    return statistics.median(durations)


def bench(repeats: int = 7) -> BenchResult:
    settings = dataclasses.replace(Settings.from_env(), provider="offline")
    agent = build_agent(settings)
    agent.warm_up()
    names = agent.tool_names
    with tempfile.TemporaryDirectory() as folder:
        clip = str(synth_clip(Path(folder) / "bench-clip.wav"))
        agent.run_turn("bench-warm-text", TEXT_TURN)
        text_s = _median_turn_s(agent, TEXT_TURN, None, repeats, "text")
        follow_s = _median_turn_s(agent, FOLLOW_UP, None, repeats, "follow", after=TEXT_TURN)
        clip_s = None
        if "describe_audio" in names:
            agent.run_turn("bench-warm-clip", "Recommend music like this.", clip)
            clip_s = _median_turn_s(agent, "Recommend music like this.", clip, repeats, "clip")
    own_mb, children_mb = peak_rss_mb()
    return BenchResult(
        text_median_s=text_s,
        follow_up_median_s=follow_s,
        clip_median_s=clip_s,
        peak_rss_mb=own_mb + children_mb,
        children_rss_mb=children_mb,
        repeats=repeats,
        catalog=agent.catalog_status()
        + ("" if agent.has_recommender else ", without the recommender"),
        tools=names,
    )


def print_bench(result: BenchResult) -> None:
    def line(label: str, value: float, budget: float, unit: str) -> str:
        verdict = "ok" if value < budget else "OVER"
        figures = f"{value:9.3f} {unit}  budget {budget:g} {unit}  ratio {value / budget:.2f}"
        return f"{label:<28} {figures}  {verdict}"

    print(f"offline brain, catalog {result.catalog}, tools: {', '.join(result.tools)}")
    print(f"medians of {result.repeats} warm turns")
    print(line("text-only turn", result.text_median_s, TEXT_BUDGET_S, "s"))
    print(line("follow-up turn", result.follow_up_median_s, TEXT_BUDGET_S, "s"))
    if result.clip_median_s is None:
        print("30 s clip turn               not measured: the audio tools are not installed")
    else:
        print(line("30 s clip turn", result.clip_median_s, CLIP_BUDGET_S, "s"))
    print(line("peak RSS (with children)", result.peak_rss_mb, RSS_BUDGET_MB, "MB"))
    print(f"  of which child processes (audio tagger): {result.children_rss_mb:.0f} MB")
