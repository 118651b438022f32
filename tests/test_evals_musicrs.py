"""The harness on the real benchmark file: the paper's popularity row, and sanity levels."""

import pytest

from evals.runner import RunSpec, run
from vectorstore.musicrs import load_conversations, select_split


@pytest.fixture(scope="module")
def conversations(musicrs_path):
    return load_conversations(musicrs_path)


def test_the_file_has_477_threads_and_a_test_split_of_about_a_fifth(conversations):
    assert len(conversations) == 477
    test = select_split(conversations, "test")
    dev = select_split(conversations, "dev")
    assert len(test) + len(dev) == 477
    assert 70 < len(test) < 120
    assert all(c.fold == 0 for c in test)


def test_popularity_reproduces_the_published_row(musicrs_path, tmp_path):
    metrics = run(
        RunSpec("popularity", "query_only", data=str(musicrs_path)), tmp_path, progress=False
    ).metrics
    overall = metrics["overall"]
    assert overall["num_samples"] == 477
    assert round(100 * overall["recall_at_20"], 2) == 16.51
    assert round(100 * overall["ndcg_at_20"], 2) == 11.09


def test_random_lands_near_the_random_level(musicrs_path, tmp_path):
    overall = run(
        RunSpec("random", "query_only", data=str(musicrs_path)), tmp_path, progress=False
    ).metrics["overall"]
    assert 0.18 < overall["recall_at_20"] < 0.24
    assert 0.12 < overall["ndcg_at_20"] < 0.18


def test_lexical_beats_random_clearly(musicrs_path, tmp_path):
    lexical = run(
        RunSpec("lexical", "query_only", data=str(musicrs_path)), tmp_path / "l", progress=False
    ).metrics["overall"]
    random = run(
        RunSpec("random", "query_only", data=str(musicrs_path)), tmp_path / "r", progress=False
    ).metrics["overall"]
    assert lexical["recall_at_20"] > random["recall_at_20"] + 0.03
    assert lexical["ndcg_at_20"] > random["ndcg_at_20"] + 0.03
