"""How much the open recommendation task allows: ``python -m evals headroom``.

Conventions
-----------
- An analysis of the dataset, not a system: it reads every thread's gold, so nothing here
  may feed a system. It says where the evidence for thread T's gold is, if anywhere.
- Names are compared as the scorer compares them (:func:`evals.metrics.normalize_title`);
  "recommended elsewhere" means named in a recommending comment of another thread.
- "Similarity rank" is the rank of a thread that recommended one of T's gold items among
  all other threads, ordered by the MiniLM similarity of their request to T's (1 = the
  most similar): the ``neighbours`` baseline reads ranks 1-5 only.
- "Labelled a song" counts gold items that T's own comments list among their songs: the
  benchmark's gold is songs, which is why the recommend task asks every system for songs.
- "Named in the request" counts gold items (over 3 characters) whose name appears in T's
  own request text: a system returning the names a request contains would collect them,
  which echoes the user rather than recommending, so no engine source ranks by it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evals.metrics import normalize_title
from vectorstore.engine import thread_records
from vectorstore.musicrs import Conversation

SHORTEST_ECHO = 4  # shorter gold names ("Up", "Low") appear inside ordinary words


@dataclass(frozen=True)
class Headroom:
    """Where the evidence for the selected threads' gold items is."""

    threads: int
    with_gold_elsewhere: int  # threads with a gold item recommended in another thread
    gold_items: int
    gold_songs: int  # gold items T's comments list among their songs
    gold_elsewhere: int  # gold items recommended in another thread
    gold_in_one_other: int  # … in exactly one other thread
    median_similarity_rank: float  # of the threads recommending a gold item elsewhere
    within_five: float  # share of those threads among T's five most similar
    echo_threads: int  # threads whose gold names an item of their own request


def headroom(
    conversations: Sequence[Conversation],
    selected: Sequence[Conversation],
    request_vectors: np.ndarray,
) -> Headroom:
    """:class:`Headroom` of ``selected``, with ``conversations`` as every thread and
    ``request_vectors`` their unit request vectors (same order as ``conversations``)."""
    records = thread_records(conversations, merge_aliases=False)
    row = {r.thread: i for i, r in enumerate(records)}
    recommended_in: dict[str, set[int]] = defaultdict(set)
    for i, record in enumerate(records):
        for mention in record.mentions:
            if mention.role == "recommended":
                recommended_in[normalize_title(mention.name)].add(i)
    with_gold = gold_items = songs = elsewhere = in_one = echoes = 0
    ranks: list[int] = []
    for conversation in selected:
        t = row[conversation.name]
        gold = {normalize_title(g) for g in conversation.limited_gt} - {""}
        others = {g: recommended_in.get(g, set()) - {t} for g in gold}
        found = {g for g, threads in others.items() if threads}
        gold_items += len(gold)
        songs += len(gold & {normalize_title(s) for c in conversation.comments for s in c.songs})
        elsewhere += len(found)
        in_one += sum(len(others[g]) == 1 for g in found)
        with_gold += bool(found)
        similarity = request_vectors @ request_vectors[t]
        similarity[t] = -np.inf
        rank_of = np.empty(len(similarity), dtype=int)
        rank_of[np.argsort(-similarity, kind="stable")] = np.arange(1, len(similarity) + 1)
        ranks += [int(rank_of[u]) for u in set().union(*(others[g] for g in found))]
        request = normalize_title(conversation.query)
        echoes += any(len(g) >= SHORTEST_ECHO and g in request for g in gold)
    return Headroom(
        threads=len(selected),
        with_gold_elsewhere=with_gold,
        gold_items=gold_items,
        gold_songs=songs,
        gold_elsewhere=elsewhere,
        gold_in_one_other=in_one,
        median_similarity_rank=statistics.median(ranks) if ranks else float("nan"),
        within_five=sum(r <= 5 for r in ranks) / len(ranks) if ranks else 0.0,
        echo_threads=echoes,
    )


def headroom_table(found: Headroom, split: str) -> str:
    """The figures as lines a reader can quote."""

    def percent(part: int, whole: int) -> str:
        return f"{part} ({100 * part / whole:.1f} %)" if whole else str(part)

    return "\n".join(
        [
            f"split {split}: {found.threads} threads, {found.gold_items} gold items",
            "gold items labelled a song in their thread: "
            + percent(found.gold_songs, found.gold_items),
            "threads with a gold item recommended in another thread: "
            + percent(found.with_gold_elsewhere, found.threads),
            "gold items recommended in another thread: "
            + percent(found.gold_elsewhere, found.gold_items)
            + f"; in exactly one other thread: {found.gold_in_one_other}",
            f"similarity rank of the threads holding them: median "
            f"{found.median_similarity_rank:g}; among the 5 most similar: "
            f"{100 * found.within_five:.1f} %",
            "threads whose gold names an item of their own request (an echo, which no "
            "source here ranks by): " + percent(found.echo_threads, found.threads),
        ]
    )
