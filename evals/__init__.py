"""MusiCRS evaluation: load the benchmark, rank candidates with a system, score like the paper.

Conventions
-----------
- A *conversation* is one MusiCRS thread (:class:`vectorstore.musicrs.Conversation`).
- A *system* ranks a conversation's candidate pool (:mod:`evals.systems`); it receives a
  :class:`evals.systems.RankingRequest`, which carries only what its input mode allows
  (docs/evaluation.md): never comments, gold, or other threads' knowledge about this thread.
- Metrics are fractions in [0, 1] (not percents) and follow the paper's
  ``calculate_comprehensive_metrics`` exactly (:mod:`evals.metrics`).
- The test split is every conversation with ``int(sha256(name), 16) % 5 == 0``.

This package may import ``vectorstore`` and ``agent`` (to rank through them); nothing in
``agent``, ``tools``, ``vectorstore`` or ``demo`` may import ``evals`` internals.
"""
