"""Draw ``docs/layers.svg``: the five packages and the directions imports may take.

Run ``python docs/draw_layers.py`` after changing the layers; the picture is committed so the
docs render without running anything. Edges are the allowed imports of docs/architecture.md
(the ones ``tests/test_layers.py`` enforces); text stays text in the SVG, so it is small and
diffable.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

OUT = Path(__file__).resolve().parent / "layers.svg"
# (x, y) centres on a 10 x 7 canvas, and the one-line job of each package.
BOXES = {
    "demo": ((2.5, 6.0), "Gradio chat page"),
    "evals": ((7.5, 6.0), "MusiCRS replay, metrics"),
    "agent": ((2.5, 4.0), "LangChain agent, turn API"),
    "tools": ((5.0, 2.3), "audio + catalog tools"),
    "vectorstore": ((5.0, 0.7), "data, catalog, search, views"),
}
# (source, target, curvature): edges that skip a layer bend around the boxes between.
EDGES = [
    ("demo", "agent", 0.0),
    ("demo", "tools", 0.0),
    ("demo", "vectorstore", 0.8),
    ("agent", "tools", 0.0),
    ("agent", "vectorstore", 0.2),
    ("evals", "agent", 0.0),
    ("evals", "tools", 0.0),
    ("evals", "vectorstore", -0.3),
    ("tools", "vectorstore", 0.0),
]
HALF_W, HALF_H = 1.45, 0.42


def draw(out: Path = OUT) -> Path:
    """Write the picture (format from the suffix; SVG by default) and return its path."""
    plt.rcParams["svg.fonttype"] = "none"
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7)
    ax.axis("off")
    for source, target, bend in EDGES:
        (x0, y0), (x1, y1) = BOXES[source][0], BOXES[target][0]
        skips = bend != 0.0  # enter the target from the side it comes from, not its top
        end = (x1 + HALF_W * (1 if x0 > x1 else -1), y1) if skips else (x1, y1 + HALF_H)
        ax.annotate(
            "",
            xy=end,
            xytext=(x0, y0 - HALF_H),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555555",
                "lw": 1.2,
                "connectionstyle": f"arc3,rad={bend}",
            },
        )
    for name, ((x, y), job) in BOXES.items():
        ax.add_patch(
            plt.Rectangle(
                (x - HALF_W, y - HALF_H), 2 * HALF_W, 2 * HALF_H, fc="#eef2fb", ec="#3b5998"
            )
        )
        ax.text(x, y + 0.12, name, ha="center", va="center", fontsize=12, weight="bold")
        ax.text(x, y - 0.18, job, ha="center", va="center", fontsize=8)
    ax.text(5.0, 6.85, "imports only go down; nothing imports tests", ha="center", fontsize=9)
    fig.savefig(out, bbox_inches="tight", metadata={"Date": None} if out.suffix == ".svg" else None)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(draw())
