"""``python -m evals`` as a user runs it: outputs, resume, comparison and bad input."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evals.__main__ import main
from evals.runner import RunSpec, complete_ranking, read_predictions, run
from evals.systems import _REGISTRY
from evals.systems.baselines import RandomSystem
from tests.conftest import make_record, write_jsonl
from vectorstore.musicrs import DatasetError, fold_of, in_split, load_conversations


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    records = [make_record(f"t3_{i}", "jazz" if i % 2 else "postrock") for i in range(12)]
    return write_jsonl(tmp_path / "small.jsonl", records)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evals", *args], capture_output=True, text=True)


def test_run_writes_predictions_metrics_and_report(small_data, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            ["run", "--system", "lexical", "--data", str(small_data), "--out", str(out), "--quiet"]
        )
        == 0
    )
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 12
    first = json.loads(lines[0])
    assert {"name", "source_subreddit", "ranking", "gold"} <= set(first)
    assert sorted(first["ranking"]) == sorted(make_record("x")["final_candidates"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["overall"]["recall_at_20"] <= 1.0  # fractions, not percents
    assert set(metrics["by_subreddit"]) == {"jazz", "indieheads"}
    report = (out / "report.md").read_text()
    assert "CLAP (published)" in report and "by_subreddit.png" in report
    assert (out / "by_subreddit.png").stat().st_size > 1000


def test_an_interrupted_run_resumes_without_redoing_or_duplicating(small_data, tmp_path):
    out = tmp_path / "out"
    run(RunSpec("random", "query_only", data=str(small_data)), out, limit=5, progress=False)
    # simulate a crash in the middle of writing the sixth line
    with (out / "predictions.jsonl").open("a") as sink:
        sink.write('{"name": "t3_5", "source_subr')
    (out / "metrics.json").unlink()
    done_before = [p.ranking for p in read_predictions(out / "predictions.jsonl")]
    result = run(RunSpec("random", "query_only", data=str(small_data)), out, progress=False)
    predictions = read_predictions(out / "predictions.jsonl")
    assert [p.name for p in predictions] == [f"t3_{i}" for i in range(12)]
    assert [p.ranking for p in predictions[:5]] == done_before  # kept, not redone
    assert result.metrics["overall"]["num_samples"] == 12


def test_split_selects_by_hash(small_data, tmp_path):
    result = run(
        RunSpec("random", "query_only", split="test", data=str(small_data)),
        tmp_path / "o",
        progress=False,
    )
    expected = [f"t3_{i}" for i in range(12) if fold_of(f"t3_{i}") == 0]
    assert [p.name for p in result.predictions] == expected
    assert in_split("t3_x", "dev") != in_split("t3_x", "test")


def test_complete_ranking_drops_strangers_and_appends_missing_in_seeded_order():
    ranking, misses, strangers = complete_ranking(
        ["b", "zzz", "b", "a"], ["a", "b", "c", "d"], 1, "t"
    )
    assert ranking[:2] == ["b", "a"] and sorted(ranking) == ["a", "b", "c", "d"]
    assert (misses, strangers) == (2, 2)
    again, _, _ = complete_ranking(["b", "a"], ["a", "b", "c", "d"], 1, "t")
    assert again == ranking


def test_compare_states_what_is_significant(small_data, tmp_path):
    for system in ("random", "lexical"):
        run(RunSpec(system, "query_only", data=str(small_data)), tmp_path / system, progress=False)
    result = cli(
        "compare", str(tmp_path / "random"), str(tmp_path / "lexical"), "--resamples", "500"
    )
    assert result.returncode == 0, result.stderr
    assert "Paired on 12 shared conversations" in result.stdout
    assert "95% paired bootstrap" in result.stdout


# --- bad input: one sentence on stderr, exit 2, no metrics.json ----------------------------


def assert_clean_failure(result: subprocess.CompletedProcess, phrase: str, out: Path | None = None):
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith("error: ") and phrase in message
    assert "Traceback" not in result.stderr and len(message.splitlines()) == 1
    if out is not None:
        assert not (out / "metrics.json").exists()


def test_truncated_jsonl_line_names_the_line(tmp_path):
    data = write_jsonl(
        tmp_path / "d.jsonl", [make_record("t3_a"), json.dumps(make_record("t3_b"))[:60]]
    )
    out = tmp_path / "out"
    assert_clean_failure(
        cli("run", "--system", "random", "--data", str(data), "--out", str(out)),
        "line 2 is not valid JSON",
        out,
    )


def test_line_missing_final_candidates_names_line_and_field(tmp_path):
    record = make_record("t3_b")
    del record["final_candidates"]
    data = write_jsonl(tmp_path / "d.jsonl", [make_record("t3_a"), record])
    out = tmp_path / "out"
    assert_clean_failure(
        cli("run", "--system", "random", "--data", str(data), "--out", str(out)),
        "line 2: field 'final_candidates' is missing",
        out,
    )


def test_wrong_field_types_are_named(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [make_record("t3_a", limited_gt="So What")])
    with pytest.raises(DatasetError, match="line 1: field 'limited_gt' should be a list"):
        load_conversations(data)


def test_unknown_system_and_mode(small_data, tmp_path):
    assert_clean_failure(
        cli("run", "--system", "nope", "--data", str(small_data), "--out", str(tmp_path / "o")),
        "Unknown system 'nope'",
    )
    assert_clean_failure(
        cli(
            "run",
            "--system",
            "random",
            "--mode",
            "video",
            "--data",
            str(small_data),
            "--out",
            str(tmp_path / "o"),
        ),
        "Unknown mode 'video'",
    )


def test_a_system_that_cannot_use_audio_says_so(small_data, tmp_path):
    result = cli(
        "run",
        "--system",
        "popularity",
        "--mode",
        "audio_only",
        "--data",
        str(small_data),
        "--out",
        str(tmp_path / "o"),
    )
    assert_clean_failure(result, "cannot serve mode 'audio_only'")


def test_out_dir_holding_another_systems_run_is_refused(small_data, tmp_path):
    out = tmp_path / "out"
    run(RunSpec("random", "query_only", data=str(small_data)), out, progress=False)
    before = (out / "metrics.json").read_text()
    assert_clean_failure(
        cli("run", "--system", "lexical", "--data", str(small_data), "--out", str(out)),
        "holds a run with system=random",
    )
    assert (out / "metrics.json").read_text() == before


def test_missing_data_file_and_offline_hub(tmp_path):
    assert_clean_failure(
        cli(
            "run",
            "--system",
            "random",
            "--data",
            str(tmp_path / "nope.jsonl"),
            "--out",
            str(tmp_path / "o"),
        ),
        "does not exist",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evals",
            "run",
            "--system",
            "random",
            "--data",
            "rohan2810/MusiCRS",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert_clean_failure(result, "Could not fetch the Hugging Face dataset rohan2810/MusiCRS")


class CountingSystem(RandomSystem):
    """A thread-safe system that records how many rankings ran at once."""

    name = "counting"
    thread_safe = True
    lock = threading.Lock()
    active = 0
    peak = 0

    def rank(self, request):
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        time.sleep(0.02)
        with cls.lock:
            cls.active -= 1
        return super().rank(request)


def test_concurrency_ranks_several_at_once_and_keeps_every_conversation(
    small_data, tmp_path, monkeypatch
):
    monkeypatch.setitem(_REGISTRY, "counting", f"{__name__}:CountingSystem")
    result = run(
        RunSpec("counting", "query_only", data=str(small_data)),
        tmp_path / "c",
        progress=False,
        concurrency=3,
    )
    assert 1 < CountingSystem.peak <= 3
    names = [p.name for p in read_predictions(tmp_path / "c" / "predictions.jsonl")]
    assert sorted(names) == sorted(f"t3_{i}" for i in range(12)) and len(set(names)) == 12
    sequential = run(
        RunSpec("random", "query_only", data=str(small_data)), tmp_path / "r", progress=False
    )
    assert result.metrics["overall"] == sequential.metrics["overall"]  # same seeded rankings


def test_concurrency_is_refused_for_systems_that_are_not_thread_safe(small_data, tmp_path):
    result = cli(
        "run",
        "--system",
        "random",
        "--concurrency",
        "2",
        "--data",
        str(small_data),
        "--out",
        str(tmp_path / "o"),
    )
    assert_clean_failure(result, "ranks one conversation at a time")


def test_headroom_prints_where_the_gold_lies_and_refuses_a_missing_file(small_data, tmp_path):
    command = [sys.executable, "-m", "evals", "headroom", "--split", "all"]
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run(
        [*command, "--data", str(small_data)], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "split all: 12 threads" in result.stdout
    assert "threads with a gold item recommended in another thread:" in result.stdout
    missing = subprocess.run(
        [*command, "--data", str(tmp_path / "nope.jsonl")], capture_output=True, text=True, env=env
    )
    assert_clean_failure(missing, "nope.jsonl")
