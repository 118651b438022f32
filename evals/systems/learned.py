"""``learned``: a learned (logistic) fusion of ``hybrid``'s leak-free features, cross-fitted.

Conventions
-----------
- Features (:data:`LEARNED_FEATURES`): ``hybrid``'s five standardised columns
  (:data:`evals.systems.catalog_systems.FEATURES`: BM25, MiniLM, catalog expansion mean and
  max, pseudo-relevance feedback) plus each candidate's rank inside its pool by BM25 and by
  MiniLM (as a fraction of the pool), its name's word count and whether it reads as
  "title - artist". All of them read only the query, the pool's names and the thread's
  candidate-blind catalog view, as ``hybrid`` does.
- Labels: whether a candidate is in the thread's ``limited_gt`` (the paper's normalisation).
  Only dev threads (``fold != 0``) are ever trained on.
- Cross-fitting: a dev thread of fold k is scored by a model trained on the other three dev
  folds; a test thread by a model trained on all four. No thread is ever scored by a model
  that saw its gold, so the dev figures are out-of-fold and comparable with ``hybrid``'s.
- Model: scikit-learn's ``LogisticRegression`` (pointwise, ``class_weight="balanced"``,
  ``C`` = :attr:`LearnedSystem.C`), candidates ordered by predicted probability. Chosen by
  cross-fitted dev nDCG@20 among five settings (gradient-boosted trees of three sizes, and
  logistic regression with and without balancing): the trees overfit the few positives
  per pool (dev nDCG@20 21.9-23.0 vs 24.2-24.5 for the linear models). Training is
  deterministic, so ``python -m evals run --system learned`` retrains the same models every
  run: the command is the saved recipe, :data:`LEARNED_FEATURES` the feature list.
- It reads other threads' gold to train, hence ``uses_dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evals.metrics import normalize_title
from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext, SystemChoiceError
from evals.systems.catalog_systems import FEATURES, HybridSystem, order_by
from vectorstore.musicrs import Conversation, fold_of

LEARNED_FEATURES = (*FEATURES, "lexical_rank", "dense_rank", "name_words", "title_artist")
TEST_FOLD = 0  # the test split is fold 0 (vectorstore.musicrs)


def pool_rank(column: np.ndarray) -> np.ndarray:
    """Each candidate's rank in its pool by ``column`` (0 best), as a fraction of the pool."""
    order = np.argsort(-column, kind="stable")
    ranks = np.empty(len(column))
    ranks[order] = np.arange(len(column))
    return ranks / max(1, len(column) - 1)


def learned_features(hybrid: np.ndarray, candidates: Sequence[str]) -> np.ndarray:
    """Hybrid's columns plus the extra columns of :data:`LEARNED_FEATURES`."""
    words = np.array([len(name.split()) for name in candidates], dtype=np.float64)
    title_artist = np.array([" - " in name for name in candidates], dtype=np.float64)
    extra = [pool_rank(hybrid[:, 0]), pool_rank(hybrid[:, 1]), words, title_artist]
    return np.column_stack([hybrid, *extra])


class LearnedSystem(RankingSystem):
    name = "learned"
    description = "logistic fusion of hybrid's leak-free features, cross-fitted on dev"
    uses_dataset = True
    C = 0.1  # inverse regularisation strength, chosen on dev folds (module conventions)

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.hybrid = HybridSystem(context)
        self.models: dict[int, object] = {}

    def features(self, request: RankingRequest) -> np.ndarray:
        return learned_features(self.hybrid.memo_features(request), request.candidates)

    def fit(self, conversations: Sequence[Conversation]) -> None:
        """Train one model per fold on the dev folds it may see (module conventions)."""
        from sklearn.linear_model import LogisticRegression

        from evals.runner import build_request  # the runner's request, so features are shared

        self.hybrid.fit(conversations)
        rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for conversation in conversations:
            if conversation.fold == TEST_FOLD:
                continue
            request = build_request(conversation, "query_only", self.context)
            gold = {normalize_title(g) for g in conversation.limited_gt}
            labels = np.array([normalize_title(c) in gold for c in request.candidates])
            rows.setdefault(conversation.fold, []).append((self.features(request), labels))
        for held_out in sorted({TEST_FOLD, *rows}):
            train = [row for fold, seen in rows.items() if fold != held_out for row in seen]
            if not train:
                raise SystemChoiceError(
                    "learned needs dev threads in at least two folds to cross-fit; "
                    "give it a larger --data file."
                )
            model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
            model.fit(np.vstack([x for x, _ in train]), np.concatenate([y for _, y in train]))
            self.models[held_out] = model

    def rank(self, request: RankingRequest) -> RankedList:
        fold = fold_of(request.name)
        model = self.models[fold]
        scores = model.predict_proba(self.features(request))[:, 1]
        return RankedList(order_by(scores, request, self.context.seed), notes={"model_fold": fold})
