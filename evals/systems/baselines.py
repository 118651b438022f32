"""The first ranking systems: seeded random, the paper's popularity, and lexical BM25.

None of them downloads a model or uses audio.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext
from vectorstore.musicrs import Conversation
from vectorstore.text import bm25_scores


def seeded_rng(seed: int, name: str) -> random.Random:
    """A generator that depends only on the run seed and the thread, never on run order."""
    return random.Random(f"{seed}:{name}")


class RandomSystem(RankingSystem):
    name = "random"
    description = "a seeded random order of the candidates"
    modes = frozenset({"query_only", "audio_only", "audio_query"})

    def rank(self, request: RankingRequest) -> RankedList:
        ranking = list(request.candidates)
        seeded_rng(self.context.seed, request.name).shuffle(ranking)
        return RankedList(ranking)


class PopularitySystem(RankingSystem):
    """The paper's baseline (``traditional/popularity.py``): candidates ordered by how often
    they occur in the candidate pools of the same subreddit, ties by original pool order."""

    name = "popularity"
    description = "ranks by how often a candidate occurs in its community's pools, no audio"
    uses_dataset = True

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.original_order: dict[str, tuple[str, ...]] = {}

    def fit(self, conversations: Sequence[Conversation]) -> None:
        for conversation in conversations:
            self.counts[conversation.source_subreddit].update(conversation.final_candidates)
            self.original_order[conversation.name] = conversation.final_candidates

    def rank(self, request: RankingRequest) -> RankedList:
        counts = self.counts[request.subreddit]
        pool = self.original_order.get(request.name, request.candidates)
        first_index = {c: i for i, c in reversed(list(enumerate(pool)))}
        ranking = sorted(pool, key=lambda c: (-counts[c], first_index[c]))
        return RankedList(ranking)


class LexicalSystem(RankingSystem):
    """BM25 with the query as the query and each candidate name as a document.

    Document frequencies come from the candidate pool itself, so nothing outside the
    request is read. Candidates with equal scores keep a seeded random order.
    ``k1`` and ``b`` were chosen on the dev split with
    ``python -m evals tune --system lexical --param k1=0.5,1.2,2 --param b=0,0.5,0.75,1``
    (the grid is nearly flat: nDCG@20 22.5-23.2% on dev).
    """

    name = "lexical"
    description = "BM25 match of the query text against candidate names"
    k1 = 1.2
    b = 1.0

    def rank(self, request: RankingRequest) -> RankedList:
        scores = bm25_scores(request.query or "", request.candidates, self.k1, self.b)
        order = list(range(len(request.candidates)))
        seeded_rng(self.context.seed, request.name).shuffle(order)
        order.sort(key=lambda i: -scores[i])
        return RankedList([request.candidates[i] for i in order])
