"""``llm-direct``: prompt, robust parsing, audio parts, usage/cost, against the local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.systems import RankingRequest, RunContext, SystemChoiceError, create_system
from evals.systems.llm_direct import build_ranking_prompt, parse_ranking
from tests.agent_support import tone_wav
from tests.openai_server import OpenAIServer, Reply

CANDIDATES = ("Hello, Goodbye - The Beatles", "Paranoid Android", "Teardrop", "Roygbiv")


def test_prompt_follows_the_paper():
    prompt = build_ranking_prompt("sad songs", CANDIDATES, has_audio=False)
    assert "Rank these 4 songs" in prompt
    assert "Output ONLY the exact song titles separated by commas" in prompt
    assert all(c in prompt for c in CANDIDATES)


def test_parsing_keeps_comma_titles_whole_and_fixes_near_misses():
    answer = "Paranoid Andriod, Hello, Goodbye - The Beatles, Some Other Song, teardrop"
    parsed = parse_ranking(answer, CANDIDATES)
    assert parsed.ranking == [
        "Paranoid Android",
        "Hello, Goodbye - The Beatles",
        "Teardrop",
    ]
    assert parsed.out_of_list == 1 and not parsed.parse_failure
    assert parsed.named[2] == "Some Other Song"  # kept in place for the runner to count


def test_parsing_does_not_match_by_containment_and_accepts_titles_without_artist():
    pool = ("The List - Someone", "Holocene - Bon Iver", "İstanbul - They Might Be Giants")
    parsed = parse_ranking("Not In The List, holocene, İSTANBUL - They Might Be Giants", pool)
    assert parsed.ranking == ["Holocene - Bon Iver", "İstanbul - They Might Be Giants"]
    assert parsed.out_of_list == 1


def test_parsing_numbered_lines_and_total_failure():
    assert parse_ranking("1. Roygbiv\n2. Teardrop", CANDIDATES).ranking == ["Roygbiv", "Teardrop"]
    failed = parse_ranking("I cannot help with that.", CANDIDATES)
    assert failed.ranking == [] and failed.parse_failure


def make(server: OpenAIServer, monkeypatch, mode="query_only", **options):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    options = {
        "base_url": server.base_url,
        "model": "gpt-4o-mini",
        "retries": "0",
        "timeout": "2",
        **options,
    }
    return create_system("llm-direct", mode, RunContext(options=options))


def test_rank_against_the_local_server_reports_usage_and_cost(monkeypatch):
    with OpenAIServer() as server:
        server.script.append(Reply.text("Teardrop, Roygbiv, Not A Candidate"))
        answer = make(server, monkeypatch).rank(
            RankingRequest("t3_x", "jazz", "query_only", CANDIDATES, query="trip hop")
        )
    assert answer.ranking == ["Teardrop", "Roygbiv", "Not A Candidate"]
    assert answer.notes["out_of_list"] == 1 and answer.notes["parse_failure"] is False
    assert answer.usage["input_tokens"] > 0 and answer.usage["cost_microusd"] > 0
    content = server.requests[0]["messages"][0]["content"]
    assert content[0]["type"] == "text" and "trip hop" in content[0]["text"]


def test_audio_modes_send_input_audio_parts(monkeypatch, tmp_path: Path):
    pytest.importorskip("tools.audio")
    clip = tone_wav(tmp_path / "clip.wav", seconds=3.0)
    with OpenAIServer() as server:
        server.script.append(Reply.text("Roygbiv"))
        make(server, monkeypatch, mode="audio_only").rank(
            RankingRequest("t3_y", "jazz", "audio_only", CANDIDATES, audio_paths=(clip,))
        )
    parts = server.requests[0]["messages"][0]["content"]
    audio = [p for p in parts if p["type"] == "input_audio"]
    assert audio and audio[0]["input_audio"]["format"] == "wav"
    assert len(audio[0]["input_audio"]["data"]) > 1000


def test_server_errors_become_parse_failures(monkeypatch):
    with OpenAIServer() as server:
        server.script.append(Reply.error(500))
        answer = make(server, monkeypatch).rank(
            RankingRequest("t3_z", "jazz", "query_only", CANDIDATES, query="x")
        )
    assert answer.ranking == [] and answer.notes["parse_failure"] is True


def test_no_model_configured_is_one_sentence(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(SystemChoiceError, match="llm-direct needs a model"):
        create_system("llm-direct", "query_only", RunContext())
