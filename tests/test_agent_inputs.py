"""Bad and awkward input through the turn API with the offline brain (docs/bad-input.md).

Links that are not single YouTube videos, clips that cannot be decoded, YouTube links pasted
into the text, and the length of the offline reply. Every bad input ends in one sentence,
and the same session answers the next turn.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool, tool

from agent import MusicAgent, Settings, ToolStarted, TurnResult, build_agent
from tests.agent_support import MiniCatalog
from tests.test_audio_ingest import assert_one_sentence
from tools.catalog import CATALOG_TOOLS
from tools.outcome import ToolOutcome

VIDEO = "https://youtu.be/dQw4w9WgXcQ"
NOT_VIDEOS = (
    "https://www.youtube.com/playlist?list=PL123",
    "https://www.youtube.com/@somechannel",
    "https://www.youtube.com/watch?list=PL123",
)
OTHER_HOSTS = ("https://example.com/a.mp3", "https://vimeo.com/76979871", "www.example.com/clip")
NO_NETWORK = "Could not reach YouTube (no network connection); upload the audio file instead."


@tool("fetch_youtube_audio")
def offline_youtube(url: str) -> str:
    """Stand-in for the real tool on a machine without network."""
    return ToolOutcome.failure(NO_NETWORK).to_content()


@tool("describe_audio")
def undescribable(path: str) -> str:
    """Stand-in that must not run: nothing was fetched."""
    raise AssertionError(path)


@pytest.fixture(scope="module")
def catalog() -> MiniCatalog:
    return MiniCatalog()


@pytest.fixture(scope="module")
def agent() -> MusicAgent:
    return build_agent(Settings(), tools=[*CATALOG_TOOLS, offline_youtube, undescribable])


@pytest.fixture(scope="module")
def audio_agent() -> MusicAgent:
    audio_tools = pytest.importorskip("tools.audio_tools")
    tools: list[BaseTool] = [*CATALOG_TOOLS, *audio_tools.AUDIO_TOOLS]
    return build_agent(Settings(), tools=tools)


def refused(agent: MusicAgent, session: str, text: str, audio: str | None = None) -> TurnResult:
    """The result of a turn that must end in one sentence without calling any tool."""
    events = list(agent.stream_turn(session, text, audio, catalog=MiniCatalog()))
    assert not [e for e in events if isinstance(e, ToolStarted)]  # nothing fetched or searched
    result = events[-1]
    assert isinstance(result, TurnResult) and not result.ok and not result.recommendations
    assert_one_sentence(result.reply)
    return result


def assert_session_still_works(agent: MusicAgent, session: str, catalog: MiniCatalog) -> None:
    after = agent.run_turn(session, "dreamy ambient", catalog=catalog)
    assert after.ok and [r.name for r in after.recommendations][:1] == ["Boards of Canada"]


@pytest.mark.parametrize("link", NOT_VIDEOS)
@pytest.mark.parametrize("where", ["text", "audio"])
def test_playlist_and_channel_links_are_refused_in_one_sentence(agent, catalog, link, where):
    session = f"not-a-video-{where}-{link}"
    if where == "text":
        result = refused(agent, session, f"more like {link} please")
    else:
        result = refused(agent, session, "", link)
    assert "single video" in result.reply and "upload" in result.reply
    assert_session_still_works(agent, session, catalog)


@pytest.mark.parametrize("link", OTHER_HOSTS)
def test_audio_link_to_another_site_is_refused_in_one_sentence(agent, catalog, link):
    result = refused(agent, f"other-host-{link}", "more like this", link)
    assert "Only YouTube video links" in result.reply and "upload" in result.reply
    assert_session_still_works(agent, f"other-host-{link}", catalog)


def test_undecodable_clip_without_text_gets_only_the_audio_error(audio_agent, catalog, tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio\n" * 50, encoding="utf-8")
    result = audio_agent.run_turn("fake-clip", "", str(fake), catalog=catalog)
    assert [t.name for t in result.trace] == ["describe_audio"]  # nothing searched from nothing
    assert result.reply == result.trace[0].error and "not an audio file" in result.reply
    assert not result.ok and not result.recommendations
    assert_one_sentence(result.reply)
    assert_session_still_works(audio_agent, "fake-clip", catalog)


def test_undecodable_clip_with_text_still_answers_the_text(audio_agent, catalog, tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio\n" * 50, encoding="utf-8")
    result = audio_agent.run_turn("fake-clip-text", "dreamy ambient", str(fake), catalog=catalog)
    assert result.ok and "could not use your clip" in result.reply
    assert "Boards of Canada" in [r.name for r in result.recommendations]


@pytest.mark.parametrize("words", ["", "anything like ", "stuff similar to this: "])
def test_link_only_message_whose_fetch_fails_gets_only_the_fetch_error(agent, catalog, words):
    result = agent.run_turn(f"link-only-{words}", f"{words}{VIDEO}", catalog=catalog)
    assert [t.name for t in result.trace] == ["fetch_youtube_audio"]
    assert result.reply == NO_NETWORK and not result.ok and not result.recommendations
    assert_session_still_works(agent, f"link-only-{words}", catalog)


@pytest.mark.parametrize(
    "text",
    [
        f"something like Tycho {VIDEO}",
        f"dreamy ambient like ({VIDEO}?t=30).",
        "dreamy ambient like youtube.com/watch?v=dQw4w9WgXcQ&list=PL123",
    ],
)
def test_pasted_link_goes_to_the_audio_path_not_into_the_search(agent, catalog, text):
    result = agent.run_turn(f"pasted-{text}", text, catalog=catalog)
    fetch, *rest = result.trace
    assert fetch.name == "fetch_youtube_audio" and "dQw4w9WgXcQ" in fetch.args["url"]
    searched = " ".join(str(value) for step in rest for value in step.args.values())
    assert rest and not any(piece in searched for piece in ("http", "youtu", "dQw4w9WgXcQ"))
    assert result.ok


def test_reply_names_what_the_user_mentioned_even_without_picks(agent, catalog):
    result = agent.run_turn("mentioned", "something like Tycho", catalog=catalog)
    assert not result.recommendations and "Going by Tycho" in result.reply


def test_offline_reply_is_a_short_lead_not_the_card_list(agent, catalog):
    result = agent.run_turn(
        "concise", "I love Boards of Canada, something dreamy and ambient", catalog=catalog
    )
    names = [r.name for r in result.recommendations]
    assert names[:2] == ["Tycho", "Aphex Twin"] and all(r.why for r in result.recommendations)
    assert "Tycho" in result.reply and "Boards of Canada" in result.reply
    assert "catalog match for" not in result.reply  # the reasons live on the cards
    assert len(result.reply.splitlines()) <= 3 and len(result.reply) < 300


def test_clip_reply_says_what_was_heard_and_names_the_picks(catalog, tmp_path: Path):
    @tool("describe_audio")
    def heard(path: str) -> str:
        """Stand-in description of a clip."""
        return ToolOutcome.success(
            {"summary": "slow dreamy synths at 80 BPM.", "tags": [{"name": "ambient"}]}
        ).to_content()

    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    agent = build_agent(Settings(), tools=[*CATALOG_TOOLS, heard])
    result = agent.run_turn("heard", "", str(clip), catalog=catalog)
    assert "What I heard in your clip: slow dreamy synths" in result.reply
    assert result.recommendations and result.recommendations[0].name in result.reply
    assert len(result.reply.splitlines()) <= 3


def test_cards_show_the_thread_link_and_mark_the_models_own_suggestions():
    from agent import Recommendation
    from demo.render import cards_html

    page = cards_html(
        [
            Recommendation(
                "So What", "Miles Davis", "Recommended in r/jazz.", None, 0.8,
                thread_url="https://www.reddit.com/r/Jazz/comments/abc/x/",
            ),
            Recommendation("Imaginary", None, "The model's own suggestion: x", None, 0.2,
                           in_catalog=False),
            Recommendation("Bad link", None, "x", None, 0.2, thread_url="javascript:alert(1)"),
        ]
    )  # fmt: skip
    assert 'href="https://www.reddit.com/r/Jazz/comments/abc/x/"' in page
    assert page.count("the model's own suggestion") == 1 and "javascript" not in page


def test_no_catalog_yet_gives_a_reason_and_no_misleading_warning(tmp_path, caplog):
    """The demo builds a missing catalog itself, so no "run build first" warning may come
    before it; the reason stays with the opened catalog for the tools to say."""
    from agent.turns import open_default_catalog

    settings = dataclasses.replace(Settings(), catalog_path=str(tmp_path / "none"))
    with caplog.at_level(logging.WARNING, logger="agent.turns"):
        opened = open_default_catalog(settings)
    assert opened.catalog is None and opened.engine is None and opened.unavailable
    assert not caplog.records
