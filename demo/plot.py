"""The audio panel's one small plot: the clip's loudness over time.

Conventions:

- Input is a ``tools.describe.AudioDescription``: ``loudness_curve_db`` (RMS dBFS of the
  whole file, one value every ``loudness_curve_hop_s`` seconds) and ``analysed_windows_s``
  (the parts the features and tags describe, shaded). No curve means no plot, never an error.
- Times are seconds. Matplotlib's Agg backend: servers and Spaces have no display.
"""

from __future__ import annotations

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
