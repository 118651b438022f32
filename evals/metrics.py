"""The MusiCRS paper's ranking metrics, reproduced exactly.

Conventions (as the paper's ``calculate_comprehensive_metrics``, MusiCRS repository,
``generative/utils.py``):

- Strings are compared after :func:`normalize_title`: lower-case, curly quotes made
  straight, leading/trailing ``"``, spaces and tabs stripped.
- ``hits@K`` counts the *ranked items* among the top K that are in the gold list (so a
  ranking repeating a gold item counts it twice, and two candidates that normalise to the
  same string both count).
- ``|gold|`` is the length of the gold list, duplicates included.
- Every metric is computed per conversation, then averaged over ALL conversations; a
  conversation with no gold scores 0 everywhere (and ``len(ranking) + 1`` as first position).
- Standard errors are ``std(ddof=1) / sqrt(n)``, present only when n > 1.
- Per-subreddit results remap postrock → indieheads and ambientmusic → jazz.

Reference: Surana et al., "MusiCRS: Benchmarking Audio-Centric Conversational
Recommendation", arXiv:2509.19469, 2025.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

K_VALUES: tuple[int, ...] = (1, 5, 10, 20)
HIT_RATE_K = 10
SUBREDDIT_REMAP = {"postrock": "indieheads", "ambientmusic": "jazz"}


def normalize_title(title: str) -> str:
    """Lower-case, straighten curly quotes, strip surrounding ``"``, spaces and tabs."""
    title = title.lower().strip()
    title = title.replace("\u2018", "'").replace("\u2019", "'")
    title = title.replace("\u201c", '"').replace("\u201d", '"')
    return title.strip('" \t')


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"K must be a positive integer, got {k!r}.")


def hits_at_k(ranking: Sequence[str], gold: Sequence[str], k: int) -> int:
    """Number of items in the top ``k`` of ``ranking`` that appear in ``gold`` (normalised)."""
    _check_k(k)
    gold_set = {normalize_title(g) for g in gold}
    return sum(1 for item in ranking[:k] if normalize_title(item) in gold_set)


def recall_at_k(ranking: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Recall@K = hits@K / |gold|; 0 when there is no gold."""
    return hits_at_k(ranking, gold, k) / len(gold) if gold else 0.0


def precision_at_k(ranking: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Precision@K = hits@K / K (K, not the list length, even when the list is shorter)."""
    return hits_at_k(ranking, gold, k) / k


def ndcg_at_k(ranking: Sequence[str], gold: Sequence[str], k: int) -> float:
    """nDCG@K with binary gains: DCG = sum over hits at rank i <= K of 1/log2(i+1);
    IDCG is the DCG of min(|gold|, K) hits at the top. 0 when there is no gold."""
    _check_k(k)
    if not gold:
        return 0.0
    gold_set = {normalize_title(g) for g in gold}
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, item in enumerate(ranking[:k], start=1)
        if normalize_title(item) in gold_set
    )
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / idcg


def first_relevant_position(ranking: Sequence[str], gold: Sequence[str]) -> int:
    """1-based rank of the first gold item; ``len(ranking) + 1`` when there is none."""
    gold_set = {normalize_title(g) for g in gold}
    for rank, item in enumerate(ranking, start=1):
        if normalize_title(item) in gold_set:
            return rank
    return len(ranking) + 1


def reciprocal_rank(ranking: Sequence[str], gold: Sequence[str]) -> float:
    """1 / rank of the first gold item; 0 when none is ranked."""
    position = first_relevant_position(ranking, gold)
    return 1.0 / position if position <= len(ranking) else 0.0


def hit_at_k(ranking: Sequence[str], gold: Sequence[str], k: int = HIT_RATE_K) -> float:
    """1.0 when any gold item is in the top ``k`` (the paper's hit rate uses K = 10), else 0."""
    return 1.0 if hits_at_k(ranking, gold, k) > 0 else 0.0


def per_conversation_metrics(
    ranking: Sequence[str], gold: Sequence[str], k_values: Sequence[int] = K_VALUES
) -> dict[str, float]:
    """Every metric for one conversation, keyed by the paper's names (without ``_se``)."""
    scores: dict[str, float] = {}
    for k in k_values:
        scores[f"recall_at_{k}"] = recall_at_k(ranking, gold, k)
        scores[f"precision_at_{k}"] = precision_at_k(ranking, gold, k)
        scores[f"ndcg_at_{k}"] = ndcg_at_k(ranking, gold, k)
    scores["mrr"] = reciprocal_rank(ranking, gold)
    scores["hit_rate"] = hit_at_k(ranking, gold)
    scores["avg_first_relevant_position"] = float(first_relevant_position(ranking, gold))
    return scores


def aggregate(per_conversation: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over all conversations, with ``<name>_se`` (ddof=1) when n > 1,
    and ``num_samples``."""
    if not per_conversation:
        raise ValueError("Cannot aggregate metrics over zero conversations.")
    n = len(per_conversation)
    summary: dict[str, float] = {}
    for key in per_conversation[0]:
        values = np.array([scores[key] for scores in per_conversation], dtype=float)
        summary[key] = float(values.mean())
        if n > 1:
            summary[f"{key}_se"] = float(values.std(ddof=1) / math.sqrt(n))
    summary["num_samples"] = n
    return summary


def remap_subreddit(subreddit: str) -> str:
    """The paper merges small communities: postrock → indieheads, ambientmusic → jazz."""
    lowered = subreddit.lower()
    return SUBREDDIT_REMAP.get(lowered, lowered)


def evaluate(
    rankings: Sequence[Sequence[str]],
    golds: Sequence[Sequence[str]],
    subreddits: Sequence[str] | None = None,
    k_values: Sequence[int] = K_VALUES,
) -> dict[str, dict]:
    """Score rankings against gold like the paper.

    Returns ``{"overall": {...}, "by_subreddit": {subreddit: {...}}}`` (``by_subreddit`` is
    empty when ``subreddits`` is None), every value a fraction or a position, never a percent.
    """
    if len(rankings) != len(golds):
        raise ValueError(f"{len(rankings)} rankings but {len(golds)} gold lists.")
    if subreddits is not None and len(subreddits) != len(rankings):
        raise ValueError(f"{len(rankings)} rankings but {len(subreddits)} subreddits.")
    for k in k_values:
        _check_k(k)
    scores = [
        per_conversation_metrics(r, g, k_values) for r, g in zip(rankings, golds, strict=True)
    ]
    by_subreddit: dict[str, list[dict[str, float]]] = defaultdict(list)
    for score, subreddit in zip(scores, subreddits or [], strict=False):
        by_subreddit[remap_subreddit(subreddit)].append(score)
    return {
        "overall": aggregate(scores),
        "by_subreddit": {sub: aggregate(group) for sub, group in sorted(by_subreddit.items())},
    }
