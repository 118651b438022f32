"""``llm-direct --option protocol=paper``: the paper's generative prompt, audio mix and parser
(``generative/utils.py`` of the paper's code), driven through the local OpenAI-protocol
server. The expected parses below were written by reading ``parse_and_filter_ranking``."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import soundfile

from evals.runner import RunSpec, run
from evals.systems import RankingRequest, RunContext, SystemChoiceError, create_system
from evals.systems.llm_direct import paper_parse, paper_prompt
from tests.agent_support import tone_wav
from tests.conftest import make_record, write_jsonl
from tests.openai_server import OpenAIServer, Reply

CANDIDATES = ("Hello, Goodbye - The Beatles", "Paranoid Android", "Teardrop", "Roygbiv")


def test_prompt_is_the_papers_text():
    assert paper_prompt("  sad songs \n", CANDIDATES[1:3], "query_only") == (
        "sad songs\n"
        "Here are 2 candidate songs; rank most relevant first:\n"
        "- Paranoid Android\n"
        "- Teardrop\n"
        "Rank these 2 songs from most to least relevant based on the query. "
        "Output ONLY the exact song titles separated by commas. Do not include numbers or "
        "extra text. Example format: Song Title A, Song Title B, Song Title C."
    )
    audio_only = paper_prompt("never shown", CANDIDATES, "audio_only")
    assert "never shown" not in audio_only and "based on the audio." in audio_only
    assert "based on the audio and query." in paper_prompt("q", CANDIDATES, "audio_query")


@pytest.mark.parametrize(
    ("answer", "ranking", "out_of_list"),
    [
        # Exact after normalisation: case, surrounding spaces and (curly) double quotes.
        ("  TEARDROP , “Paranoid Android”", ["Teardrop", "Paranoid Android"], 0),
        # A title holding a comma is split by the paper's parser: both halves miss.
        ("Hello, Goodbye - The Beatles, Roygbiv", ["Roygbiv"], 2),
        # No fuzzy matching, no number stripping, repeats dropped.
        ("1. Roygbiv, Paranoid Andriod, Teardrop, teardrop", ["Teardrop"], 3),
        ("I cannot rank these.", [], 1),
    ],
)
def test_parser_matches_exactly_and_fills_in_presented_order(answer, ranking, out_of_list):
    parsed = paper_parse(answer, CANDIDATES)
    rest = [c for c in CANDIDATES if c not in ranking]
    assert parsed.ranking == ranking + rest  # the paper's fill_missing, presented order
    assert parsed.out_of_list == out_of_list
    assert parsed.parse_failure == (not ranking)


def paper_system(server: OpenAIServer, monkeypatch, mode: str):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    options = {"base_url": server.base_url, "retries": "0", "timeout": "5", "protocol": "paper"}
    return create_system("llm-direct", mode, RunContext(options=options))


def test_query_only_sends_one_text_part_and_the_runner_counts_misses(monkeypatch, tmp_path):
    data = write_jsonl(
        tmp_path / "data.jsonl",
        [make_record("t3_a", query="moody trip hop", final_candidates=list(CANDIDATES))],
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with OpenAIServer() as server:
        server.script.append(Reply.text("Teardrop, Not A Candidate, Roygbiv"))
        result = run(
            RunSpec("llm-direct", "query_only", data=str(data)),
            tmp_path / "run",
            progress=False,
            options={"base_url": server.base_url, "retries": "0", "protocol": "paper"},
        )
    parts = server.requests[0]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text"]
    assert parts[0]["text"].startswith("moody trip hop\nHere are 4 candidate songs")
    prediction = result.predictions[0]
    assert prediction.ranking[:2] == ["Teardrop", "Roygbiv"]
    assert sorted(prediction.ranking) == sorted(CANDIDATES)
    assert prediction.out_of_list == 1 and prediction.parse_misses == 0
    assert result.metrics["run"]["out_of_list_rate"] == 1.0


def test_audio_is_one_16khz_mix_before_the_text_and_no_clip_is_skipped(monkeypatch, tmp_path):
    clips = (tone_wav(tmp_path / "a.wav", 2.0), tone_wav(tmp_path / "b.wav", 1.5, 660.0))
    with OpenAIServer() as server:
        server.script.append(Reply.text("Roygbiv"))
        system = paper_system(server, monkeypatch, "audio_query")
        answer = system.rank(
            RankingRequest("t3_b", "jazz", "audio_query", CANDIDATES, "x", audio_paths=clips)
        )
        skipped = paper_system(server, monkeypatch, "audio_only").rank(
            RankingRequest("t3_c", "jazz", "audio_only", CANDIDATES)
        )
    assert len(server.requests) == 1  # the clip-less audio_only thread never reached the model
    assert skipped.notes["skipped"] == "no audio"
    parts = server.requests[0]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["input_audio", "text"]
    wav = base64.b64decode(parts[0]["input_audio"]["data"])
    samples, rate = soundfile.read(io.BytesIO(wav))
    assert rate == 16_000 and len(samples) == pytest.approx(3.5 * 16_000, abs=2)  # both, whole
    assert answer.ranking[0] == "Roygbiv" and answer.notes["protocol"] == "paper"


def test_unknown_protocol_is_one_sentence(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    options = {"base_url": "http://127.0.0.1:9/v1", "protocol": "musicrs"}
    with pytest.raises(SystemChoiceError, match=r"protocol=musicrs is unknown"):
        create_system("llm-direct", "query_only", RunContext(options=options))
