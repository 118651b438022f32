"""The paper's metrics on cases small enough to compute by hand."""

import math

import pytest

from evals.metrics import (
    evaluate,
    first_relevant_position,
    hit_at_k,
    ndcg_at_k,
    normalize_title,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    remap_subreddit,
)


def test_normalisation_lowercases_straightens_quotes_and_strips_edges():
    assert normalize_title("  \u201cSo Hot You\u2019re Hurting\u201d\t") == "so hot you're hurting"
    assert normalize_title('"Baby Girl"') == "baby girl"
    # only the edges are stripped, inner quotes and spaces stay
    assert normalize_title('Say "My" Name') == 'say "my" name'


def test_recall_precision_ndcg_by_hand():
    ranking = ["a", "x", "b", "y"]
    gold = ["a", "b", "c"]
    assert recall_at_k(ranking, gold, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, gold, 5) == pytest.approx(2 / 3)
    assert precision_at_k(ranking, gold, 1) == 1.0
    # K larger than the list: precision still divides by K
    assert precision_at_k(ranking, gold, 20) == pytest.approx(2 / 20)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranking, gold, 20) == pytest.approx(dcg / idcg)
    # IDCG over min(|gold|, K) ideal hits
    assert ndcg_at_k(ranking, gold, 1) == 1.0


def test_empty_gold_scores_zero_and_first_position_is_past_the_end():
    ranking = ["a", "b", "c"]
    assert recall_at_k(ranking, [], 5) == 0.0
    assert ndcg_at_k(ranking, [], 5) == 0.0
    assert reciprocal_rank(ranking, []) == 0.0
    assert hit_at_k(ranking, []) == 0.0
    assert first_relevant_position(ranking, []) == 4


def test_matching_uses_normalisation_and_counts_duplicates_like_the_paper():
    # two candidates equal after normalisation both count as hits (as in the paper's code)
    ranking = ["\u201cHello\u201d", "hello", "z"]
    assert recall_at_k(ranking, ["Hello"], 2) == 2.0
    assert precision_at_k(ranking, ["Hello"], 2) == 1.0
    # duplicated gold items count in |gold|
    assert recall_at_k(["a"], ["a", "a"], 1) == 0.5


def test_mrr_and_hit_rate_at_ten():
    ranking = [str(i) for i in range(15)]
    assert reciprocal_rank(ranking, ["3"]) == 0.25
    assert hit_at_k(ranking, ["9"]) == 1.0
    assert hit_at_k(ranking, ["10"]) == 0.0


def test_evaluate_averages_over_all_conversations_with_standard_errors():
    result = evaluate([["a", "b"], ["c", "d"]], [["a"], []], ["postrock", "jazz"])
    overall = result["overall"]
    assert overall["num_samples"] == 2
    assert overall["recall_at_1"] == 0.5  # the no-gold thread scores 0 but still counts
    assert overall["recall_at_1_se"] == pytest.approx(0.5)  # std([1, 0], ddof=1) / sqrt(2)
    assert overall["avg_first_relevant_position"] == pytest.approx((1 + 3) / 2)
    assert set(result["by_subreddit"]) == {"indieheads", "jazz"}
    assert "recall_at_1_se" not in result["by_subreddit"]["jazz"]  # n = 1: no SE


def test_subreddit_remap_matches_the_paper():
    assert remap_subreddit("PostRock") == "indieheads"
    assert remap_subreddit("ambientmusic") == "jazz"
    assert remap_subreddit("metal") == "metal"


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="K must be a positive integer"):
        recall_at_k(["a"], ["a"], k)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="1 rankings but 2 gold lists"):
        evaluate([["a"]], [["a"], ["b"]])
