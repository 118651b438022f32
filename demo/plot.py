"""The page's plots: the clip's loudness over time (audio panel) and the benchmark's
Recall@20 per community ("How well does it do?" tab).

Conventions:

- Input is a ``tools.describe.AudioDescription``: ``loudness_curve_db`` (RMS dBFS of the
  whole file, one value every ``loudness_curve_hop_s`` seconds) and ``analysed_windows_s``
  (the parts the features and tags describe, shaded). No curve means no plot, never an error.
- Times are seconds. Matplotlib's Agg backend: servers and Spaces have no display.
- The benchmark chart takes ``demo.benchmark.RunScores`` (fractions, shown as percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_LINE = "#7c3aed"
_WINDOW = "#f59e0b"


def timeline_figure(description: Any) -> Figure | None:
    """Loudness (dBFS) against time, analysed windows shaded; ``None`` without a curve."""
    curve = [float(v) for v in getattr(description, "loudness_curve_db", None) or []]
    if len(curve) < 2:
        return None
    hop = float(getattr(description, "loudness_curve_hop_s", 0.5) or 0.5)
    times = [i * hop for i in range(len(curve))]
    floor = min(curve)
    figure, axis = plt.subplots(figsize=(5.2, 1.9))
    for start, end in getattr(description, "analysed_windows_s", None) or []:
        axis.axvspan(start, end, color=_WINDOW, alpha=0.12, linewidth=0)
    axis.plot(times, curve, color=_LINE, linewidth=1.6)
    axis.fill_between(times, curve, floor, color=_LINE, alpha=0.15)
    axis.set_xlabel("time (s)", fontsize=8)
    axis.set_ylabel("loudness (dBFS)", fontsize=8)
    axis.set_xlim(0, times[-1])
    axis.tick_params(labelsize=7)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(alpha=0.25, linewidth=0.5)
    figure.tight_layout()
    # gr.Plot renders the figure object; closing it keeps pyplot's registry from growing by
    # one figure per turn in a long-running server.
    plt.close(figure)
    return figure


#: Runs drawn side by side per community; more would make the bars unreadable.
MAX_RUNS_IN_CHART = 5


def community_figure(runs: Sequence[Any]) -> Figure | None:
    """Recall@20 (%) per community, one bar per run (the best runs first); ``None`` when no
    run has per-community scores."""
    runs = [r for r in runs if r.by_community][:MAX_RUNS_IN_CHART]
    if not runs:
        return None
    communities = sorted({c for r in runs for c in r.by_community})
    width = 0.8 / len(runs)
    figure, axis = plt.subplots(figsize=(8.5, 3.4))
    for i, run in enumerate(runs):
        xs = [c + (i - (len(runs) - 1) / 2) * width for c in range(len(communities))]
        values = [100 * run.by_community.get(name, 0.0) for name in communities]
        axis.bar(xs, values, width=width, label=run.label)
    axis.set_xticks(range(len(communities)), communities, rotation=20, ha="right", fontsize=8)
    axis.set_ylabel("Recall@20 (%)", fontsize=8)
    axis.tick_params(axis="y", labelsize=7)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="y", alpha=0.25, linewidth=0.5)
    axis.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    plt.close(figure)  # see timeline_figure
    return figure
