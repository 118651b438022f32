"""``python -m evals headroom``: where the evidence for the recommend task's gold lies."""

from __future__ import annotations

import json

import numpy as np

from evals.headroom import headroom, headroom_table
from vectorstore.musicrs import parse_line
from vectorstore.testing import thread_record


def conversations():
    """T0 asks about "Nude" and its gold holds Nude (an echo), Reckoner (recommended in
    T2, its least similar thread) and Unique (nowhere else)."""
    records = [
        thread_record(
            "t3_0",
            "indieheads",
            "songs like Nude",
            [{"songs": ["Reckoner"]}],
            ["X"],
            ["Nude", "Reckoner", "Unique"],
        ),
        thread_record("t3_1", "indieheads", "q1", [{"songs": ["Roads"]}], ["X"], ["Roads"]),
        thread_record("t3_2", "metal", "q2", [{"songs": ["Reckoner", "Nude"]}], ["X"], ["Nude"]),
    ]
    return [parse_line(json.dumps(r), n) for n, r in enumerate(records, 1)]


def test_headroom_counts_where_each_gold_item_was_recommended():
    threads = conversations()
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])  # T1 is T0's nearest
    found = headroom(threads, threads[:1], vectors)
    assert (found.threads, found.gold_items) == (1, 3)
    assert found.gold_songs == 1  # only Reckoner is among T0's comments' songs
    assert found.gold_elsewhere == 2 and found.gold_in_one_other == 2  # Nude, Reckoner in T2
    assert found.with_gold_elsewhere == 1 and found.echo_threads == 1
    assert found.median_similarity_rank == 2 and found.within_five == 1.0
    assert "2 (66.7 %)" in headroom_table(found, "dev")


def test_a_thread_never_counts_as_evidence_for_itself():
    threads = conversations()
    vectors = np.eye(3)
    found = headroom(threads, threads[1:2], vectors)  # Roads is recommended in T1 only
    assert found.gold_elsewhere == 0 and found.with_gold_elsewhere == 0
