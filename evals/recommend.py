"""Open recommendation as an evaluation task: ``python -m evals run --task recommend``.

Conventions
-----------
- For each thread T a system sees T's request only (:class:`OpenRequest`: its id, community
  and query, and the kind of entity asked for: songs, :data:`GOLD_KIND`) and returns up to
  :data:`LIST_LENGTH` names of that kind, best first. It knows the other threads exactly
  as an engine built WITHOUT T would: every statistic is computed with T's contribution
  subtracted (``RecommendRequest.exclude_threads``), which tests/test_engine.py checks
  against a real rebuild without T.
- Scoring: T's ``limited_gt``, names compared as :func:`evals.metrics.normalize_title` does;
  Recall, nDCG and Hit at 5, 10 and 20 per thread, averaged over threads (± standard error).
- Runs reuse the ranking harness (:mod:`evals.runner`): ``run.json`` (with ``task``),
  ``predictions.jsonl`` appended as threads finish (resumable), ``metrics.json`` and
  ``report.md`` at the end; ``python -m evals compare`` pairs them on Hit@20, nDCG@20 and
  Recall@20.
- Systems: ``popularity`` (most recommended in T's community), ``neighbours`` (what the
  5 threads with the most similar requests got), ``search`` (name search of the catalog
  for the request text) and ``engine`` (:mod:`vectorstore.engine`, all sources fused).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tqdm import tqdm

from evals.metrics import aggregate, hit_at_k, ndcg_at_k, recall_at_k, remap_subreddit
from evals.runner import (
    Prediction,
    RunError,
    RunResult,
    RunSpec,
    record_predictions,
    resume_state,
    write_atomically,
)
from evals.systems import RunContext, SystemChoiceError
from vectorstore.cards import Kind
from vectorstore.engine import (
    RecommendationEngine,
    RecommendRequest,
    Weights,
    thread_records,
)
from vectorstore.musicrs import Conversation, resolve_data_path

LIST_LENGTH = 20
K_VALUES = (5, 10, 20)
NEIGHBOURS = 5
#: What the task asks for. MusiCRS's gold is songs (99.8 % of ``limited_gt`` items are listed
#: among their thread's songs: ``python -m evals headroom --split all``), so every system is
#: asked for songs; an artist or album in a list could never count.
GOLD_KIND: Kind = "song"


@dataclass(frozen=True)
class OpenRequest:
    """What a system may see of thread T in the recommend task."""

    name: str
    subreddit: str
    query: str
    kind: Kind = GOLD_KIND


def recommend_metrics(ranking: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """Recall, nDCG and Hit at 5/10/20 of one thread's list."""
    scores: dict[str, float] = {}
    for k in K_VALUES:
        scores[f"recall_at_{k}"] = recall_at_k(ranking, gold, k)
        scores[f"ndcg_at_{k}"] = ndcg_at_k(ranking, gold, k)
        scores[f"hit_at_{k}"] = hit_at_k(ranking, gold, k)
    return scores


def evaluate_lists(
    rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]], subreddits: Sequence[str]
) -> dict[str, dict]:
    """``{"overall": …, "by_subreddit": …}`` like :func:`evals.metrics.evaluate`."""
    scores = [recommend_metrics(r, g) for r, g in zip(rankings, golds, strict=True)]
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for score, subreddit in zip(scores, subreddits, strict=True):
        groups[remap_subreddit(subreddit)].append(score)
    return {
        "overall": aggregate(scores),
        "by_subreddit": {sub: aggregate(group) for sub, group in sorted(groups.items())},
    }


class RecommendSystem(ABC):
    """Recommends entities for a request, knowing every thread but the request's own."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def fit(self, conversations: Sequence[Conversation]) -> None:
        """Read the dataset's threads; :meth:`recommend` must then leave T's out."""
        from vectorstore.embeddings import MiniLMEmbeddingFunction
        from vectorstore.views import NameVectors

        embedder = MiniLMEmbeddingFunction()
        cache = self.context.cache_dir / "engine-vectors" / embedder.name()
        vectors = NameVectors(cache, embedder)
        records = thread_records(conversations, merge_aliases=False)
        self.engine = RecommendationEngine(
            records,
            vectors.matrix([r.request for r in records]),
            embedder,
            key_vectors=vectors.matrix,
            weights=self.weights,
        )

    weights: ClassVar[Weights] = Weights()

    @abstractmethod
    def recommend(self, request: OpenRequest) -> list[str]:
        """Up to :data:`LIST_LENGTH` entity names for thread T, best first."""


class EngineRequestSystem(RecommendSystem):
    """A system that is one engine request (its weights say which sources count)."""

    def recommend(self, request: OpenRequest) -> list[str]:
        answer = self.engine.recommend(self.engine_request(request))
        return [item.card.name for item in answer.items]

    @abstractmethod
    def engine_request(self, request: OpenRequest) -> RecommendRequest:
        """The engine request this system makes for thread T (T's evidence excluded)."""


def _only(**weights: float) -> Weights:
    """Weights with every source off except those given."""
    off = dict(
        similar_request=0.0, co_recommendation=0.0, graph_walk=0.0, popularity=0.0, search=0.0
    )
    return Weights(**{**off, **weights})


class PopularityRecommender(EngineRequestSystem):
    name = "popularity"
    description = "the entities recommended in most threads of T's community"
    weights = _only(popularity=1.0)

    def engine_request(self, request: OpenRequest) -> RecommendRequest:
        return RecommendRequest(
            k=LIST_LENGTH,
            kind=request.kind,
            community=None,
            prefer_community=request.subreddit,
            exclude_threads=(request.name,),
            text="",
        )


class NeighboursRecommender(RecommendSystem):
    name = "neighbours"
    description = f"what the {NEIGHBOURS} threads with the most similar requests were recommended"

    def recommend(self, request: OpenRequest) -> list[str]:
        """The nearest thread's recommendations of the kind asked for (best-voted first),
        then the next's, …"""
        names: dict[str, None] = {}
        for similar in self.engine.similar_requests(
            request.query, NEIGHBOURS, exclude_threads=(request.name,)
        ):
            names.update(
                (card.name, None) for card, _ in similar.recommended if card.kind == request.kind
            )
        return list(names)[:LIST_LENGTH]


class SearchRecommender(EngineRequestSystem):
    name = "search"
    description = "catalog name search (dense + BM25) for the request text"
    weights = _only(search=1.0)

    def engine_request(self, request: OpenRequest) -> RecommendRequest:
        return RecommendRequest(
            text=request.query, k=LIST_LENGTH, kind=request.kind, exclude_threads=(request.name,)
        )


class EngineRecommender(EngineRequestSystem):
    name = "engine"
    description = "the recommendation engine: every source fused, weights chosen on dev"

    def engine_request(self, request: OpenRequest) -> RecommendRequest:
        return RecommendRequest(
            text=request.query,
            k=LIST_LENGTH,
            kind=request.kind,
            prefer_community=request.subreddit,
            exclude_threads=(request.name,),
            named_may_return=True,
        )


SYSTEMS: dict[str, type[RecommendSystem]] = {
    cls.name: cls
    for cls in (PopularityRecommender, NeighboursRecommender, SearchRecommender, EngineRecommender)
}


def create_recommender(name: str, context: RunContext) -> RecommendSystem:
    if name not in SYSTEMS:
        raise SystemChoiceError(
            f"Unknown system {name!r} for the recommend task; choose one of: "
            f"{', '.join(sorted(SYSTEMS))}."
        )
    return SYSTEMS[name](context)


def run_recommend(
    spec: RunSpec, out: Path, *, limit: int | None = None, progress: bool = True
) -> RunResult:
    """Recommend for every selected thread (resuming), then score and report."""
    started = time.perf_counter()
    data = resolve_data_path(spec.data or None)
    spec = RunSpec(spec.system, spec.mode, spec.seed, spec.split, data, task="recommend")
    if limit is not None and limit < 1:
        raise RunError(f"--limit must be a positive number, got {limit}.")
    system = create_recommender(spec.system, RunContext(seed=spec.seed, data_path=data))
    conversations, selected, done = resume_state(data, spec, out, limit)
    todo = [c for c in selected if c.name not in done]
    if todo:
        system.fit(conversations)

    def recommended() -> Iterator[Prediction]:
        for conversation in tqdm(todo, desc=f"recommend {spec.system}", disable=not progress):
            began = time.perf_counter()
            names = system.recommend(
                OpenRequest(conversation.name, conversation.source_subreddit, conversation.query)
            )
            yield Prediction(
                name=conversation.name,
                source_subreddit=conversation.source_subreddit,
                ranking=names[:LIST_LENGTH],
                gold=list(conversation.limited_gt),
                seconds=round(time.perf_counter() - began, 4),
            )

    record_predictions(out, recommended(), done)
    predictions = [done[c.name] for c in selected]
    metrics = evaluate_lists(
        [p.ranking for p in predictions],
        [p.gold for p in predictions],
        [p.source_subreddit for p in predictions],
    )
    metrics["run"] = {"system": spec.system, "task": "recommend", "split": spec.split}
    write_atomically(out / "report.md", report(spec, metrics))
    write_atomically(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return RunResult(out, metrics, predictions, time.perf_counter() - started)


def results_table(spec: RunSpec, metrics: dict) -> str:
    """Markdown: Recall, nDCG and Hit at 5/10/20 (percent ± standard error)."""
    from evals.report import percent

    overall = metrics["overall"]
    columns = [f"{m}_at_{k}" for m in ("recall", "ndcg", "hit") for k in K_VALUES]
    header = " | ".join(c.replace("_at_", "@") + " (%)" for c in columns)
    return "\n".join(
        [
            f"| system | split | {header} | n |",
            "|---|---|" + "---|" * len(columns) + "---|",
            f"| {spec.system} | {spec.split} | "
            + " | ".join(percent(overall, c) for c in columns)
            + f" | {overall['num_samples']} |",
        ]
    )


def report(spec: RunSpec, metrics: dict) -> str:
    from evals.report import CREDIT

    return f"""# MusiCRS open recommendation: {spec.system} · split={spec.split}

Each thread's request alone; {LIST_LENGTH} songs from the evidence of every other thread;
scored against the thread's `limited_gt`.

{results_table(spec, metrics)}

{CREDIT}
"""
