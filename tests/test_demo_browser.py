"""The page in the SYSTEM Chromium (``/usr/bin/chromium``, never a downloaded browser),
driven by Playwright. Screenshots go to ``artifacts/demo/`` (ignored by git).

- ``test_steps_stream_before_the_answer`` uses the stand-in agent with slow steps, so a
  running step can be seen before the answer exists (the real offline brain is too fast
  for that to be observable).
- The other tests use the REAL agent on a small catalog (skipped visibly without the
  MusiCRS file or the catalog CLI), as ``test_demo_api`` does, and a benchmark results file
  from two real ``python -m evals run`` runs.
- ``test_feedback_exports_and_a_whole_conversation`` saves ``conversation.png`` (steps,
  cards, the audio panel) and ``benchmark.png`` (the "How well does it do?" tab).
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from demo.app import build_app
from demo.chat import BUSY_MESSAGE, NEW_CONVERSATION_MESSAGE
from demo.inputs import EMPTY_MESSAGE, MAX_UPLOAD_MB
from evals.results_file import write_results
from tests.audio_fixtures import four_on_the_floor, text_renamed_mp3
from tests.test_demo_support import StandInAgent, served, served_real_app

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "demo"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BOX = "#chat-box textarea"
SEND = "#chat-box button.submit-button"
FILE_INPUT = "#chat-box input[type=file]"
UPLOADED = "#chat-box .thumbnail-item"  # the attached file's chip, once uploaded
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def results_file(musicrs_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real benchmark runs (``python -m evals run``) and their results file."""
    runs = tmp_path_factory.mktemp("runs")
    for system in ("random", "lexical"):
        command = [sys.executable, "-m", "evals", "run", "--system", system, "--quiet"]
        command += ["--data", str(musicrs_path), "--out", str(runs / system)]
        subprocess.run(command, check=True, capture_output=True)
    return write_results(runs)[0]


@pytest.fixture(scope="module")
def real_url(
    musicrs_path: Path, tmp_path_factory: pytest.TempPathFactory, results_file: Path
) -> Iterator[str]:
    base = tmp_path_factory.getbasetemp()
    with served_real_app(musicrs_path, base, results=results_file) as address:
        yield address


def open_page(browser, url: str):  # -> playwright Page
    page = browser.new_page(viewport={"width": 1360, "height": 960})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(BOX)
    return page


def send(page, text: str) -> None:
    page.fill(BOX, text)
    page.click(SEND)


def last_bot_text(page) -> str:
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def wait_for_bot_text(page, fragment: str) -> None:
    page.wait_for_function(
        """(fragment) => {
            const bots = document.querySelectorAll('#chat [data-testid=bot]');
            return bots.length && bots[bots.length - 1].innerText.includes(fragment);
        }""",
        arg=fragment,
    )


def wait_until_idle(page) -> None:
    """The turn is over when the chat box is editable again."""
    page.wait_for_function("() => !document.querySelector('#chat-box textarea').disabled")


def wait_for_step(page, title: str) -> None:
    """Wait until the step titled ``title`` shows, opening its turn's group: a finished group
    is folded and Gradio draws its steps only while it is open (or still closing, which made
    reading them right after the turn a race). The group is found by its message's label,
    which names its steps."""
    step = page.locator("#chat .thought-group .thought-group > .title", has_text=title).first
    group = page.locator(f'#chat [data-testid=bot][aria-label*="{title}"] > .thought-group')
    for _ in range(3):
        if step.is_visible():
            return
        group.last.locator("> .title").click()
        with contextlib.suppress(PlaywrightTimeout):
            step.wait_for(state="visible", timeout=3000)
    assert step.is_visible(), f"no step {title!r} in the chat"


def unfold_step_groups(page) -> None:
    """Open every finished (folded) step group, to show its steps in a screenshot."""
    for title in page.locator("#chat .bot-row > * > * > * > * > .thought-group > .title").all():
        if "✅" in title.inner_text():
            title.click()


def test_steps_stream_before_the_answer(browser) -> None:
    agent = StandInAgent(step_delay_s=1.0)
    with served(build_app(agent, "offline brain")) as url:
        page = open_page(browser, url)
        assert page.locator("#brain").inner_text().strip() == "offline brain"
        example = "Recommend modal jazz like Kind of Blue by Miles Davis."
        page.get_by_text(example).click()  # an example prompt fills the box
        page.wait_for_function(
            "(text) => document.querySelector('#chat-box textarea').value === text", arg=example
        )
        send(page, "Recommend modal jazz like Kind of Blue.")
        page.wait_for_selector("#chat .thought-group .loading-spinner")
        assert page.locator(".rec-card").count() == 0  # the step shows before the answer
        page.screenshot(path=ARTIFACTS / "streaming-step.png", full_page=True)
        page.wait_for_selector(".rec-card")
        wait_until_idle(page)
        # One group for the turn's steps (its step nests inside it), with their total time.
        assert page.locator("#chat .message-row:has(.thought-group)").count() == 1
        assert "(0.1s)" in page.locator("#chat .thought-group").first.inner_text()
        session = next(iter(agent.history))
        page.close()  # closing the tab keeps the conversation: only idle ones are pruned
        time.sleep(1.0)
        assert session not in agent.resets


def test_text_turn_then_clip_in_the_page(browser, real_url: str, tmp_path: Path) -> None:
    page = open_page(browser, real_url)
    page.screenshot(path=ARTIFACTS / "empty.png", full_page=True)
    send(page, "Recommend modal jazz like Kind of Blue by Miles Davis.")
    page.wait_for_selector(".rec-card")
    wait_until_idle(page)
    wait_for_step(page, "Finding what people recommended")
    cards = page.locator(".rec-card").count()
    # One way to listen per card, and each card's evidence links its thread.
    assert page.locator(".rec-card .rec-link:not(.rec-thread)").count() == cards
    assert page.locator(".rec-card .rec-thread").count() == cards
    page.screenshot(path=ARTIFACTS / "text-turn.png", full_page=True)

    clip = four_on_the_floor(tmp_path / "groove.wav", seconds=8.0, bpm=128.0)
    page.set_input_files(FILE_INPUT, str(clip))
    page.wait_for_selector(
        "#chat-box .thumbnail-item, #chat-box [data-testid=file-chip]", state="attached"
    )
    page.click(SEND)
    page.wait_for_selector("#audio-panel .feat")
    page.wait_for_selector(
        "#audio-plot img, #audio-plot canvas, #audio-plot svg.main-svg, #audio-plot .matplotlib"
    )
    wait_until_idle(page)
    assert "BPM" in page.locator("#audio-panel").inner_text()
    wait_for_step(page, "Listening to the clip")
    page.screenshot(path=ARTIFACTS / "audio-turn.png", full_page=True)

    page.click("text=New conversation")
    wait_for_bot_text(page, NEW_CONVERSATION_MESSAGE)
    assert page.locator("#audio-panel").is_hidden()
    page.close()


def test_bad_input_in_the_page_keeps_the_session(browser, real_url: str, tmp_path: Path) -> None:
    page = open_page(browser, real_url)

    page.click(SEND)  # nothing typed, nothing attached
    wait_for_bot_text(page, EMPTY_MESSAGE)

    notes = tmp_path / "notes.txt"
    notes.write_text("definitely not music\n")
    page.set_input_files(FILE_INPUT, str(notes))
    page.wait_for_selector(UPLOADED)
    page.click(SEND)
    wait_for_bot_text(page, "'notes.txt' is not an audio file")
    wait_until_idle(page)

    big = tmp_path / "big.wav"
    with big.open("wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200_000_000)
    page.set_input_files(FILE_INPUT, str(big))
    wait_for_bot_text(page, f"over the {MAX_UPLOAD_MB} MB upload limit")

    send(page, "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG")
    wait_for_bot_text(page, "playlist")
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "bad-input-messages.png", full_page=True)

    page.fill(BOX, "Something like Miles Davis please")
    page.dblclick(SEND)
    page.wait_for_selector(".rec-card")
    wait_until_idle(page)
    users = page.locator("#chat [data-testid=user]").all_inner_texts()
    assert users.count("Something like Miles Davis please") == 1, users
    assert BUSY_MESSAGE not in page.locator("#chat").inner_text()
    page.screenshot(path=ARTIFACTS / "bad-input.png", full_page=True)
    assert "Traceback" not in page.locator("#chat").inner_text()
    page.close()


def card_names(page) -> list[str]:
    return page.locator(".rec-card .rec-name").all_inner_texts()


def press(page, card: int, action: str, note: str) -> None:
    """Press a card's feedback button and wait for the page to confirm it."""
    page.locator(f'.rec-card[data-card="{card}"] .rec-fb-{action}').click()
    page.wait_for_function(
        "(note) => document.querySelector('#feedback-note').innerText.includes(note)", arg=note
    )


def download(page, selector: str, tmp_path: Path) -> Path:
    with page.expect_download() as started:
        page.click(selector)
    target = tmp_path / started.value.suggested_filename
    started.value.save_as(target)
    return target


def test_feedback_exports_and_a_whole_conversation(browser, real_url: str, tmp_path: Path) -> None:
    page = open_page(browser, real_url)
    send(page, "some upbeat indie tracks")
    page.wait_for_selector(".rec-card")
    wait_until_idle(page)
    first = card_names(page)
    disliked, liked = first[0], first[1]
    press(page, 1, "dislike", f"leave out {disliked}")
    press(page, 2, "like", "will be a seed")
    assert liked in page.locator("#feedback-note").inner_text()  # as "Name by Artist" if known
    assert page.locator('.rec-card[data-card="1"]').get_attribute("data-verdict") == "dislike"

    send(page, "what else?")
    wait_for_bot_text(page, "Leaving out")
    wait_until_idle(page)
    reply = last_bot_text(page)
    assert f"Leaving out {disliked}" in reply and f"as you asked; using {liked}" in reply
    assert disliked not in card_names(page)
    whys = page.locator(".rec-card .rec-why").all_inner_texts()
    assert any(liked.lower() in why.lower() for why in whys), whys  # cited as the seed

    # One step group per turn, no copy button on it; answers keep theirs.
    groups = page.locator("#chat .message-row:has(.thought-group)")
    assert groups.count() == 2
    assert page.locator("#chat .message-row:has(.thought-group) + .message-buttons").count() == 2
    for buttons in page.locator("#chat .message-row:has(.thought-group) + .message-buttons").all():
        assert buttons.is_hidden()
    assert page.locator(
        "#chat .bot-row:not(:has(.thought-group)) + .message-buttons"
    ).first.is_visible()
    groups.last.locator(".title").first.click()  # open: the sub-step and its duration
    assert "Finding what people recommended" in groups.last.inner_text()
    groups.last.locator(".title").first.click()  # folded again, as the screenshot opens all

    m3u8 = download(page, "#export-m3u8", tmp_path).read_text(encoding="utf-8").splitlines()
    assert m3u8[0] == "#EXTM3U"
    assert any(
        line.startswith('#EXTINF:-1 liked="true",') and line.endswith(liked) for line in m3u8
    )
    assert all(line.startswith("https://www.youtube.com/") for line in m3u8[3::2])
    rows = list(csv.DictReader(download(page, "#export-csv", tmp_path).open(encoding="utf-8")))
    assert {r["name"]: r["liked"] for r in rows}[liked] == "yes"
    assert disliked not in {r["name"] for r in rows}
    jspf = json.loads(download(page, "#export-jspf", tmp_path).read_text(encoding="utf-8"))
    assert [t["title"] for t in jspf["playlist"]["track"]] == [r["name"] for r in rows]

    # A file that is not audio: its step fails, and the group opens with the sentence.
    page.set_input_files(FILE_INPUT, str(text_renamed_mp3(tmp_path / "song.mp3")))
    page.wait_for_selector(UPLOADED)
    page.click(SEND)
    wait_for_bot_text(page, "'song.mp3' is not")
    wait_until_idle(page)
    assert "failed" in groups.last.inner_text() and "'song.mp3' is not" in groups.last.inner_text()

    clip = four_on_the_floor(tmp_path / "groove.wav", seconds=8.0, bpm=128.0)
    page.set_input_files(FILE_INPUT, str(clip))
    page.wait_for_selector(UPLOADED)
    page.click(SEND)
    page.wait_for_selector("#audio-panel .feat")
    wait_until_idle(page)
    before = page.locator("#chat [data-testid=user]").count()
    page.locator('.rec-card[data-card="1"] .rec-fb-more').click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('#chat [data-testid=user]').length > n", arg=before
    )
    wait_for_bot_text(page, "More like #1")
    wait_until_idle(page)
    unfold_step_groups(page)
    # The whole conversation in one picture: the chat box's own scrolling is lifted.
    page.add_style_tag(content="#chat { height: auto !important; max-height: none !important; }")
    page.add_style_tag(content="#chat .bubble-wrap { max-height: none !important; }")
    page.screenshot(path=ARTIFACTS / "conversation.png", full_page=True)
    assert "Traceback" not in page.locator("#chat").inner_text()

    page.get_by_role("tab", name="How well does it do?").click()
    page.wait_for_function(
        "() => document.querySelector('#bench-table').innerText.includes('(published)')"
    )
    page.wait_for_selector("#bench-plot img, #bench-plot svg", state="attached")
    table = page.locator("#bench-table").inner_text()
    assert "lexical" in table and "random" in table and "CLAP (published)" in table
    page.screenshot(path=ARTIFACTS / "benchmark.png", full_page=True)
    page.close()
