"""Card feedback and export without a server: the session state (``agent.state``), the offline
reply that says how feedback was used, the page controller (``demo.chat``) on the stand-in
agent, and the benchmark tab's results file (``evals.results_file`` → ``demo.benchmark``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import Settings, build_agent
from agent.context import TurnContext
from agent.grammar import parse_message
from agent.offline import _Turn
from agent.state import FeedbackError, GivenItem, SessionState, render_state
from demo.benchmark import NO_RESULTS, UNREADABLE, read_benchmark
from demo.chat import FEEDBACK_BUSY, ChatController, playlist_entries
from demo.plot import community_figure
from evals.report import PUBLISHED_BASELINES
from evals.results_file import write_results
from tests.agent_support import MiniCatalog
from tests.test_demo_support import StandInAgent
from tools.catalog import CATALOG_TOOLS


def shown_state() -> SessionState:
    """A session that recommended two songs and an artist in its first turn."""
    items = [
        GivenItem(turn=0, position=0, name="Alison", artists=("Slowdive",), entity_id="alison"),
        GivenItem(turn=0, position=0, name="Souvlaki", artists=("Slowdive",), entity_id="souvlaki"),
        GivenItem(turn=0, position=0, name="Interpol", entity_id="interpol", kind="artist"),
    ]
    return SessionState().begin_turn(parse_message("I like Slowdive")).end_turn(items, None)


def test_feedback_waits_for_the_next_turn_which_applies_it_once() -> None:
    state = shown_state().with_feedback("dislike", 1).with_feedback("like", "souvlaki")
    assert [i.name for i in state.disliked] == ["Alison"]
    assert [i.name for i in state.liked] == ["Souvlaki"]
    assert "alison" in state.excluded_entities()
    after = state.begin_turn(parse_message("what else?"))
    assert after.pending == () and [f.action for f in after.feedback] == ["dislike", "like"]
    assert "Souvlaki" in after.seeds and "Alison" not in after.seeds
    later = after.begin_turn(parse_message("and more?"))
    assert later.feedback == () and "alison" in later.excluded_entities()


def test_the_latest_verdict_on_an_item_wins() -> None:
    state = shown_state().with_feedback("like", 1).with_feedback("dislike", 1)
    assert state.liked == () and [i.name for i in state.disliked] == ["Alison"]
    assert [f.action for f in state.pending] == ["dislike"]
    assert "Alison" not in state.begin_turn(parse_message("more")).seeds


def test_more_like_this_makes_the_item_the_request() -> None:
    state = shown_state().with_feedback("more", 3).begin_turn(parse_message("More like Interpol"))
    assert [i.name for i in state.referenced] == ["Interpol"] and state.seeds == ("Interpol",)


def test_feedback_on_a_card_the_session_never_showed_is_one_sentence() -> None:
    with pytest.raises(FeedbackError, match=r"^There is no card #7 in the last list; use"):
        shown_state().with_feedback("like", 7)
    with pytest.raises(FeedbackError, match="no recommendation called “Loveless” in this"):
        shown_state().with_feedback("like", "Loveless")
    with pytest.raises(FeedbackError, match="one of like, dislike, more"):
        shown_state().with_feedback("love", 1)  # type: ignore[arg-type]


def test_the_offline_reply_says_how_feedback_was_used_and_offers_the_artist() -> None:
    state = shown_state().with_feedback("dislike", 1).with_feedback("like", 2)
    state = state.begin_turn(parse_message("what else?"))
    line = _Turn(TurnContext(session=state, text="what else?"), []).state_line()
    assert line.startswith(
        "Leaving out Alison by Slowdive, as you asked; using Souvlaki by Slowdive as a seed;"
    )
    assert "Say “not Slowdive” to leave out everything by Slowdive too." in line


def test_controller_feedback_and_export_on_the_stand_in_agent(tmp_path: Path) -> None:
    agent = StandInAgent(step_delay_s=0)
    controller = ChatController(agent)
    assert controller.export("tab", tmp_path) is None  # nothing recommended yet
    list(controller.respond("tab", "modal jazz"))
    [(view, answer)] = list(controller.feedback("tab", "like", "#2"))
    assert view is None and answer["ok"] and answer["card"]["name"] == "Giant Steps"
    [(_, refused)] = list(controller.feedback("tab", "dislike", "9"))
    assert not refused["ok"] and refused["message"].startswith("There is no card #9")
    files = controller.export("tab", tmp_path)
    assert files is not None and files.m3u8.parent.parent == tmp_path
    assert controller.export("../../escape", tmp_path) is None  # no picks: nothing written
    list(controller.respond("../../escape", "jazz"))
    escaped = controller.export("../../escape", tmp_path)
    assert escaped is not None and escaped.m3u8.parent.parent == tmp_path
    m3u8 = files.m3u8.read_text(encoding="utf-8")
    assert '#EXTINF:-1 liked="true",John Coltrane - Giant Steps' in m3u8
    assert "https://www.youtube.com/watch?v=30FTr6G53VU" in m3u8
    views = [view for view, _ in controller.feedback("tab", "more", 1) if view is not None]
    assert views[-1].turn and agent.history["tab"][-1] == "More like Kind of Blue by Miles Davis"


def test_feedback_waits_for_a_running_turn() -> None:
    controller = ChatController(StandInAgent(step_delay_s=0))
    list(controller.respond("tab", "jazz"))
    running = controller.respond("tab", "more jazz")
    next(running)
    [(_, answer)] = list(controller.feedback("tab", "like", 1))
    assert answer == {"ok": False, "message": FEEDBACK_BUSY, "action": None, "card": None}


def test_exports_leave_out_disliked_items_and_repeats() -> None:
    state = shown_state().with_feedback("dislike", 3).with_feedback("like", 1)
    again = GivenItem(turn=0, position=0, name="Alison", artists=("Slowdive",), entity_id="alison")
    state = state.begin_turn(parse_message("more")).end_turn([again], None)
    entries = playlist_entries(state)
    assert [(e.name, e.artist, e.liked) for e in entries] == [
        ("Alison", "Slowdive", True),
        ("Souvlaki", "Slowdive", False),
    ]


def fake_run(folder: Path, system: str, recall: float) -> None:
    scores = {"recall_at_20": recall, "recall_at_20_se": 0.01, "ndcg_at_20": recall / 2}
    folder.mkdir(parents=True)
    metrics = {
        "overall": {**scores, "num_samples": 477},
        "by_subreddit": {"jazz": {**scores, "num_samples": 40}},
        "run": {"system": system, "mode": "query_only", "split": "all"},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def test_results_file_round_trip_into_the_benchmark_tab(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fake_run(runs / "a", "lexical", 0.27)
    fake_run(runs / "b", "hybrid", 0.31)
    (runs / "unfinished").mkdir()
    out, results = write_results(runs)
    assert out == runs / "results.json" and [r["name"] for r in results["runs"]] == ["a", "b"]
    benchmark = read_benchmark(out)
    table = benchmark.table()
    assert [row[0] for row in table[:2]] == ["hybrid", "lexical"]  # best Recall@20 first
    assert table[0][5] == "31.00 ± 1.00"
    published = [row for row in table if row[0].endswith("(published)")]
    assert [(r[0], r[5]) for r in published] == [
        (f"{name} (published)", f"{recall:.2f}") for name, _, recall, _ in PUBLISHED_BASELINES
    ]
    assert community_figure(benchmark.ranking_runs) is not None


def test_benchmark_tab_without_or_with_a_broken_results_file(tmp_path: Path) -> None:
    missing = read_benchmark(tmp_path / "results.json")
    assert missing.note == NO_RESULTS and missing.table() == []
    assert community_figure(missing.ranking_runs) is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert read_benchmark(broken).note == UNREADABLE


def test_feedback_is_kept_in_the_checkpoint_across_a_restart(tmp_path: Path) -> None:
    settings = Settings(sessions_db=str(tmp_path / "sessions.sqlite"))
    first = build_agent(settings, tools=list(CATALOG_TOOLS))
    shown = first.run_turn("s", "I love Boards of Canada, dreamy ambient", catalog=MiniCatalog())
    disliked, liked = shown.recommendations[0].name, shown.recommendations[1].name
    assert first.give_feedback("s", "dislike", 1).item.name == disliked
    first.give_feedback("s", "like", shown.recommendations[1].entity_id or liked)
    restarted = build_agent(settings, tools=list(CATALOG_TOOLS))  # a new process, same file
    state = restarted.session_state("s")
    assert [f.action for f in state.pending] == ["dislike", "like"] and state.turn == 1
    follow_up = restarted.run_turn("s", "more please", catalog=MiniCatalog())
    assert disliked not in [r.name for r in follow_up.recommendations]
    assert f"Leaving out {disliked}" in follow_up.reply and f"using {liked}" in follow_up.reply
    assert restarted.session_state("s").pending == ()


def test_a_language_model_is_told_the_feedback_and_the_disliked_items() -> None:
    state = shown_state().with_feedback("dislike", 1).with_feedback("like", 2)
    section = render_state(state.begin_turn(parse_message("what else?")))
    assert (
        "- Card feedback since your last answer: dislike Alison by Slowdive; like Souvlaki by "
        "Slowdive. Say in one sentence how you used it" in section
    )
    assert "- Disliked, never recommend: Alison by Slowdive" in section
    assert "Card feedback" not in render_state(state.begin_turn(parse_message("x")).begin_turn(
        parse_message("y")
    ))  # fmt: skip
