"""Paired comparison of finished runs with bootstrap confidence intervals.

Conventions: the first run is the reference. Runs are paired on the conversations they
share (by ``name``); each bootstrap resample draws conversations with replacement and takes
the mean per-conversation difference (run − reference). A difference is called significant
when its 95% percentile interval excludes 0. Resampling is seeded, so a comparison is
reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.metrics import per_conversation_metrics
from evals.runner import RunError, RunSpec, read_predictions

#: The metrics compared for each task (``RunSpec.task``).
TASK_METRICS = {
    "rank": ("recall_at_20", "ndcg_at_20", "mrr"),
    "recommend": ("hit_at_20", "ndcg_at_20", "recall_at_20"),
}


@dataclass(frozen=True)
class Difference:
    """A paired difference of one metric between a run and the reference (fractions)."""

    metric: str
    mean: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class LoadedRun:
    label: str
    spec: RunSpec
    scores: dict[str, dict[str, float]]  # conversation name -> metric -> value


def load_run(directory: Path) -> LoadedRun:
    """Per-conversation scores of a finished run directory."""
    manifest = directory / "run.json"
    if not manifest.is_file():
        raise RunError(
            f"{directory} holds no run.json; is it a `python -m evals run` --out folder?"
        )
    if not (directory / "metrics.json").is_file():
        raise RunError(
            f"{directory} is an unfinished run; finish it (run it again) before comparing."
        )
    spec = RunSpec(**json.loads(manifest.read_text(encoding="utf-8")))
    if spec.task == "recommend":
        from evals.recommend import recommend_metrics as score
    else:
        score = per_conversation_metrics
    scores = {
        p.name: score(p.ranking, p.gold) for p in read_predictions(directory / "predictions.jsonl")
    }
    return LoadedRun(f"{spec.system}/{spec.mode} ({directory.name})", spec, scores)


def paired_bootstrap(
    reference: np.ndarray, other: np.ndarray, *, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``other - reference`` and its 95% percentile bootstrap interval."""
    if reference.shape != other.shape or reference.size == 0:
        raise ValueError("Paired bootstrap needs two equally long, non-empty score arrays.")
    differences = other - reference
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, differences.size, size=(resamples, differences.size))
    means = differences[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)


def compare_runs(
    runs: list[LoadedRun], *, resamples: int = 10_000, seed: int = 0
) -> tuple[list[str], dict[str, list[Difference]]]:
    """Differences of every run against ``runs[0]`` on their shared conversations."""
    if len(runs) < 2:
        raise RunError("Give at least two run folders to compare.")
    shared = sorted(set.intersection(*(set(run.scores) for run in runs)))
    if not shared:
        raise RunError("These runs share no conversation; compare runs of the same split.")
    tasks = {run.spec.task for run in runs}
    if len(tasks) > 1:
        raise RunError(
            f"These runs are of different tasks ({', '.join(sorted(tasks))}); compare runs "
            "of one task."
        )
    compared = TASK_METRICS[runs[0].spec.task]
    reference = runs[0]
    differences: dict[str, list[Difference]] = {}
    for run in runs[1:]:
        differences[run.label] = []
        for metric in compared:
            base = np.array([reference.scores[n][metric] for n in shared])
            other = np.array([run.scores[n][metric] for n in shared])
            mean, low, high = paired_bootstrap(base, other, resamples=resamples, seed=seed)
            differences[run.label].append(Difference(metric, mean, low, high))
    return shared, differences


def format_difference(difference: Difference) -> str:
    """``+1.23 [+0.10, +2.40] *`` in percentage points; ``*`` marks significance."""
    d = difference
    marker = " *" if d.significant else ""
    return f"{100 * d.mean:+.2f} [{100 * d.low:+.2f}, {100 * d.high:+.2f}]{marker}"


def comparison_table(
    runs: list[LoadedRun], shared: list[str], differences: dict[str, list[Difference]]
) -> str:
    """Markdown: each run's means on the shared conversations, then its differences."""
    compared = TASK_METRICS[runs[0].spec.task]
    lines = [
        f"Paired on {len(shared)} shared conversations; reference: {runs[0].label}.",
        "",
        "| run | "
        + " | ".join(f"{m} (%)" for m in compared)
        + " | "
        + " | ".join(f"Δ {m} [95% CI]" for m in compared)
        + " |",
        "|---|" + "---|" * (2 * len(compared)),
    ]
    for run in runs:
        means = [100 * float(np.mean([run.scores[n][m] for n in shared])) for m in compared]
        deltas = differences.get(run.label)
        delta_cells = [format_difference(d) for d in deltas] if deltas else ["—"] * len(compared)
        lines.append(
            f"| {run.label} | "
            + " | ".join(f"{m:.2f}" for m in means)
            + " | "
            + " | ".join(delta_cells)
            + " |"
        )
    lines.append("")
    for label, diffs in differences.items():
        significant = [
            f"{'higher' if d.mean > 0 else 'lower'} {d.metric} ({100 * d.mean:+.2f} points)"
            for d in diffs
            if d.significant
        ]
        verdict = (
            "significantly " + ", ".join(significant)
            if significant
            else "no significant difference on any compared metric"
        )
        lines.append(f"- {label} vs {runs[0].label}: {verdict} (95% paired bootstrap).")
    return "\n".join(lines)
