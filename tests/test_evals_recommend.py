"""``python -m evals run --task recommend``: leave-thread-out lists, scores, resume, compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.__main__ import main
from evals.compare import compare_runs, load_run
from evals.recommend import recommend_metrics
from evals.runner import RunError
from tests.conftest import write_jsonl
from tests.test_catalog_leakfree import dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The synthetic threads, each also recommending one entity no other thread names."""
    records = dataset()
    for i, record in enumerate(records):
        record["comments"][0]["entities"]["songs"].append(f"Only In Thread {i}")
        record["comments"][0]["score"] = 5.0
        record["limited_gt"] = [f"Only In Thread {i}", record["limited_gt"][1]]
    return write_jsonl(tmp_path_factory.mktemp("data") / "threads.jsonl", records)


def run_task(data: Path, system: str, out: Path, *extra: str) -> dict:
    args = ["run", "--task", "recommend", "--system", system, "--data", str(data)]
    assert main([*args, "--out", str(out), "--quiet", *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def predictions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def songs_of(data: Path) -> set[str]:
    records = [json.loads(line) for line in data.read_text().splitlines()]
    return {s for r in records for c in r["comments"] for s in c["entities"]["songs"]}


@pytest.mark.parametrize("system", ["engine", "neighbours", "popularity", "search"])
def test_every_system_answers_with_songs_as_the_gold_is(data, tmp_path, system):
    """The threads recommend artists too; the task asks for songs, so none is listed."""
    run_task(data, system, tmp_path / system)
    listed = [name for row in predictions(tmp_path / system) for name in row["ranking"]]
    assert listed and set(listed) <= songs_of(data)


@pytest.mark.parametrize("system", ["engine", "neighbours", "popularity"])
def test_a_thread_never_gets_what_only_it_names(data, tmp_path, system):
    metrics = run_task(data, system, tmp_path / system)
    rows = predictions(tmp_path / system)
    assert len(rows) == 24 and all(len(r["ranking"]) <= 20 for r in rows)
    for row in rows:
        own = f"Only In Thread {row['name'].removeprefix('t3_')}"
        assert own not in row["ranking"]
    found_elsewhere = [name for r in rows for name in r["ranking"] if name.startswith("Only In")]
    assert found_elsewhere or system == "popularity"  # admitted for the other threads
    overall = metrics["overall"]
    for key in ("recall_at_20", "ndcg_at_20", "hit_at_5", "hit_at_10", "hit_at_20"):
        assert 0.0 <= overall[key] <= 1.0
    assert overall["num_samples"] == 24


def test_metrics_compare_titles_like_the_paper():
    scores = recommend_metrics(["x", "\u201cBlue in Green\u201d", "y"], ["blue in green", "z"])
    assert scores["hit_at_5"] == 1.0 and scores["recall_at_5"] == 0.5
    assert recommend_metrics(["x"], ["y"])["hit_at_20"] == 0.0


def test_runs_resume_and_compare_on_hit_ndcg_recall(data, tmp_path):
    run_task(data, "engine", tmp_path / "engine", "--limit", "6")
    assert len(predictions(tmp_path / "engine")) == 6
    run_task(data, "engine", tmp_path / "engine")
    assert len(predictions(tmp_path / "engine")) == 24
    run_task(data, "popularity", tmp_path / "popularity")
    runs = [load_run(tmp_path / "popularity"), load_run(tmp_path / "engine")]
    shared, differences = compare_runs(runs, resamples=200)
    assert len(shared) == 24
    assert [d.metric for d in next(iter(differences.values()))] == [
        "hit_at_20",
        "ndcg_at_20",
        "recall_at_20",
    ]


def rank_run(data, out) -> int:
    """The exit status of a ranking run of ``random`` into ``out``."""
    return main(["run", "--system", "random", "--data", str(data), "--out", str(out), "--quiet"])


def test_a_rank_run_and_a_recommend_run_are_not_compared_or_mixed(data, tmp_path):
    run_task(data, "popularity", tmp_path / "rec")
    assert rank_run(data, tmp_path / "rank") == 0
    with pytest.raises(RunError, match="different tasks"):
        compare_runs([load_run(tmp_path / "rank"), load_run(tmp_path / "rec")], resamples=10)
    # the recommend run's folder refuses a rank run
    assert rank_run(data, tmp_path / "rec") == 2


def test_unknown_recommend_system_is_one_sentence(data, tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--task",
                "recommend",
                "--system",
                "lexical",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "recommend task" in capsys.readouterr().err
