"""``python -m evals.results_file``: every finished run under ``runs/`` and the paper's
published rows in one small JSON file, ``runs/results.json``, which the demo's "How well
does it do?" tab reads (the demo may not import ``evals``; this file is the hand-over).

    python -m evals.results_file [--runs runs] [--out runs/results.json]

Layout (values are fractions in [0, 1], as in ``metrics.json``; published rows are the
percentages of :data:`evals.report.PUBLISHED_BASELINES`, converted to fractions here)::

    {"published": [{"system", "mode", "recall_at_20", "ndcg_at_20", "n"}],
     "runs": [{"name", "system", "mode", "split", "task", "n",
               "recall_at_20", "recall_at_20_se", "ndcg_at_20", "ndcg_at_20_se",
               "by_community": {"jazz": {"n", "recall_at_20", "ndcg_at_20"}}}]}

A run counts once its ``metrics.json`` exists (written when every thread is done); runs are
listed by folder name. Folders without one, or with one that does not parse, are skipped
with their name on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evals.report import PUBLISHED_BASELINES
from evals.runner import write_atomically

RESULTS_NAME = "results.json"
#: How many conversations the paper's published rows are over (all of MusiCRS).
PUBLISHED_N = 477
_SCORES = ("recall_at_20", "ndcg_at_20")


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    keys = [*_SCORES, *(f"{k}_se" for k in _SCORES)]
    return {k: float(metrics[k]) for k in keys if isinstance(metrics.get(k), int | float)}


def run_row(folder: Path) -> dict[str, Any]:
    """One finished run as a results row; raises ``ValueError`` when it cannot be read."""
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    overall, run = metrics["overall"], metrics.get("run", {})
    return {
        "name": folder.name,
        "system": run.get("system", folder.name),
        "mode": run.get("mode", "query_only"),
        "split": run.get("split", "all"),
        "task": run.get("task", "rank"),
        "n": int(overall["num_samples"]),
        **_scores(overall),
        "by_community": {
            community: {"n": int(scores["num_samples"]), **_scores(scores)}
            for community, scores in metrics.get("by_subreddit", {}).items()
        },
    }


def collect(runs: Path) -> dict[str, Any]:
    """The results file's content for the run folders under ``runs``."""
    rows = []
    for folder in sorted(p for p in runs.iterdir() if (p / "metrics.json").is_file()):
        try:
            rows.append(run_row(folder))
        except (ValueError, KeyError, TypeError) as error:
            reason = f"its metrics.json is unreadable ({error})"
            print(f"skipped {folder.name}: {reason}", file=sys.stderr)
    published = [
        {
            "system": system,
            "mode": mode,
            "recall_at_20": round(recall / 100, 6),
            "ndcg_at_20": round(ndcg / 100, 6),
            "n": PUBLISHED_N,
        }
        for system, mode, recall, ndcg in PUBLISHED_BASELINES
    ]
    return {"published": published, "runs": rows}


def write_results(runs: Path, out: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write the results file (default ``runs/results.json``); its path and content."""
    out = out or runs / RESULTS_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    results = collect(runs)
    write_atomically(out, json.dumps(results, indent=2) + "\n")
    return out, results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.results_file", description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder of run folders")
    parser.add_argument("--out", type=Path, help="default: RUNS/results.json")
    args = parser.parse_args(argv)
    if not args.runs.is_dir():
        print(
            f"error: {args.runs} is not a folder of runs; run `python -m evals run` first.",
            file=sys.stderr,
        )
        sys.exit(2)
    out, results = write_results(args.runs, args.out)
    print(f"Wrote {out} ({len(results['runs'])} runs).")


if __name__ == "__main__":
    main()
