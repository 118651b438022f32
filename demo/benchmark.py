"""The "How well does it do?" tab: our benchmark runs beside the paper's published rows.

Conventions:

- The one input is the results file ``python -m evals.results_file`` writes
  (``runs/results.json`` by default; its layout is documented there): the demo may not
  import ``evals``, and the published rows live in ``evals.report`` alone.
- Scores in the file are fractions; the table shows percentages with two decimals (± one
  standard error where the run has one). Rows: ranking runs first, best Recall@20 first,
  then the published rows, then open-recommendation runs (a different task, not comparable).
- A missing or unreadable file is a sentence saying how to make one, never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where ``python -m evals.results_file`` writes by default (relative to the working folder).
RESULTS_FILE = Path("runs") / "results.json"
TABLE_HEADERS = ["system", "mode", "task", "split", "n", "Recall@20 (%)", "nDCG@20 (%)"]
NO_RESULTS = (
    "No benchmark results yet: run `python -m evals run --system lexical` (or any system), "
    "then `python -m evals.results_file`, and open this tab again."
)
UNREADABLE = (
    "The benchmark results file cannot be read; write it again with `python -m evals.results_file`."
)


@dataclass(frozen=True)
class RunScores:
    """One row of the table; ``by_community`` maps a community to its Recall@20 (fraction)."""

    system: str
    mode: str
    task: str
    split: str
    n: int
    recall_at_20: float
    ndcg_at_20: float
    recall_at_20_se: float | None = None
    ndcg_at_20_se: float | None = None
    published: bool = False
    by_community: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.system} (published)" if self.published else self.system

    def row(self) -> list[Any]:
        return [
            self.label,
            self.mode,
            self.task,
            self.split,
            self.n,
            _percent(self.recall_at_20, self.recall_at_20_se),
            _percent(self.ndcg_at_20, self.ndcg_at_20_se),
        ]


@dataclass(frozen=True)
class Benchmark:
    rows: list[RunScores]
    note: str = ""  # why there is nothing to show, when there is nothing

    def table(self) -> list[list[Any]]:
        return [r.row() for r in self.rows]

    @property
    def ranking_runs(self) -> list[RunScores]:
        """Our runs of the paper's ranking task (the ones with a per-community chart)."""
        return [r for r in self.rows if not r.published and r.task == "rank"]


def _percent(value: float, se: float | None) -> str:
    text = f"{100 * value:.2f}"
    return f"{text} ± {100 * se:.2f}" if se is not None else text


def _run(row: dict[str, Any]) -> RunScores:
    return RunScores(
        system=str(row["system"]),
        mode=str(row.get("mode", "")),
        task=str(row.get("task", "rank")),
        split=str(row.get("split", "all")),
        n=int(row["n"]),
        recall_at_20=float(row["recall_at_20"]),
        ndcg_at_20=float(row["ndcg_at_20"]),
        recall_at_20_se=row.get("recall_at_20_se"),
        ndcg_at_20_se=row.get("ndcg_at_20_se"),
        by_community={
            name: float(scores["recall_at_20"])
            for name, scores in (row.get("by_community") or {}).items()
        },
    )


def _published(row: dict[str, Any]) -> RunScores:
    return RunScores(
        system=str(row["system"]),
        mode=str(row.get("mode", "")),
        task="rank",
        split="all",
        n=int(row["n"]),
        recall_at_20=float(row["recall_at_20"]),
        ndcg_at_20=float(row["ndcg_at_20"]),
        published=True,
    )


def read_benchmark(path: Path = RESULTS_FILE) -> Benchmark:
    """The table's rows from the results file, or an empty one with :data:`NO_RESULTS`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ours = [_run(r) for r in data["runs"]]
        published = [_published(r) for r in data["published"]]
    except FileNotFoundError:
        return Benchmark([], NO_RESULTS)
    except (OSError, ValueError, KeyError, TypeError):
        return Benchmark([], UNREADABLE)
    ranked = sorted((r for r in ours if r.task == "rank"), key=lambda r: -r.recall_at_20)
    open_task = [r for r in ours if r.task != "rank"]
    return Benchmark([*ranked, *published, *open_task], "" if ours else NO_RESULTS)
