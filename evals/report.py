"""The human-readable side of a run: ``report.md`` beside the paper's published rows, a
per-subreddit bar chart, and the terminal table.

Published numbers are from Surana et al., arXiv:2509.19469 (MusiCRS), as percentages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evals.runner import RunSpec

#: (system, mode, Recall@20 %, nDCG@20 %) as published in the MusiCRS paper.
PUBLISHED_BASELINES: tuple[tuple[str, str, float, float], ...] = (
    ("CLAP", "query_only", 22.71, 15.90),
    ("Qwen2.5-Omni", "audio_query", 21.49, 16.21),
    ("CoLLAP", "—", 20.85, 14.14),
    ("Phi-4-MM", "audio_only", 20.04, 13.72),
    ("SALMONN-7B", "audio_only", 19.55, 13.66),
    ("Popularity", "—", 16.51, 11.09),
)
HEADLINE_KEYS = ("recall_at_20", "ndcg_at_20", "mrr", "hit_rate", "recall_at_10", "ndcg_at_10")
CREDIT = (
    "Data: MusiCRS (Surana, Namburi, Mundada, Lal, Novack, McAuley, Wu; arXiv:2509.19469), "
    "CC BY 4.0."
)


def percent(metrics: dict, key: str) -> str:
    """``12.34 ± 0.56`` (percent with standard error) or ``12.34`` without one."""
    value = f"{100 * metrics[key]:.2f}"
    if f"{key}_se" in metrics:
        value += f" ± {100 * metrics[f'{key}_se']:.2f}"
    return value


def results_table(spec: RunSpec, metrics: dict) -> str:
    """Markdown table: this run beside the published baselines (Recall@20, nDCG@20)."""
    overall = metrics["overall"]
    rows = [
        "| system | mode | Recall@20 (%) | nDCG@20 (%) | MRR (%) | hit rate (%) | n |",
        "|---|---|---|---|---|---|---|",
        f"| **{spec.system}** (this run, split={spec.split}) | {spec.mode} | "
        f"{percent(overall, 'recall_at_20')} | {percent(overall, 'ndcg_at_20')} | "
        f"{percent(overall, 'mrr')} | {percent(overall, 'hit_rate')} | {overall['num_samples']} |",
    ]
    rows += [
        f"| {name} (published) | {mode} | {recall:.2f} | {ndcg:.2f} | | | 477 |"
        for name, mode, recall, ndcg in PUBLISHED_BASELINES
    ]
    return "\n".join(rows)


def subreddit_table(metrics: dict) -> str:
    rows = ["| subreddit | n | Recall@20 (%) | nDCG@20 (%) | MRR (%) |", "|---|---|---|---|---|"]
    for subreddit, scores in metrics["by_subreddit"].items():
        rows.append(
            f"| {subreddit} | {scores['num_samples']} | {percent(scores, 'recall_at_20')} | "
            f"{percent(scores, 'ndcg_at_20')} | {percent(scores, 'mrr')} |"
        )
    return "\n".join(rows)


def plot_by_subreddit(metrics: dict, path: Path, title: str) -> None:
    """Grouped bars of Recall@20 and nDCG@20 per subreddit, with standard-error whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(metrics["by_subreddit"])
    groups = [metrics["by_subreddit"][n] for n in names]
    x = np.arange(len(names))
    figure, axes = plt.subplots(figsize=(9, 4))
    for offset, key, label in ((-0.2, "recall_at_20", "Recall@20"), (0.2, "ndcg_at_20", "nDCG@20")):
        axes.bar(
            x + offset,
            [100 * g[key] for g in groups],
            width=0.4,
            yerr=[100 * g.get(f"{key}_se", 0.0) for g in groups],
            label=label,
            capsize=3,
        )
    axes.set_xticks(x, [f"{n}\n(n={g['num_samples']})" for n, g in zip(names, groups, strict=True)])
    axes.set_ylabel("%")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(out: Path, spec: RunSpec, metrics: dict) -> None:
    """Write ``report.md`` and ``by_subreddit.png`` into ``out``."""
    from evals.runner import write_atomically

    title = f"{spec.system} · {spec.mode} · split={spec.split} · seed={spec.seed}"
    plot_by_subreddit(metrics, out / "by_subreddit.png", title)
    run = metrics.get("run", {})
    caveat = (
        "\n> This system reads other threads of the dataset (like the paper's popularity and "
        "NBCRS baselines); it is not candidate-blind.\n"
        if run.get("uses_dataset")
        else ""
    )
    cost = f" (about ${run['cost_usd']:.2f})" if run.get("cost_usd") is not None else ""
    text = f"""# MusiCRS run: {title}

{results_table(spec, metrics)}
{caveat}
Parse misses: {100 * run.get("parse_miss_rate", 0):.1f}% of conversations;
parse failures (nothing recognised): {100 * run.get("parse_failure_rate", 0):.1f}%;
out-of-list names: {100 * run.get("out_of_list_rate", 0):.1f}%.
Token usage: {run.get("usage") or "none"}{cost}.

## By subreddit (postrock → indieheads, ambientmusic → jazz)

{subreddit_table(metrics)}

![per-subreddit results](by_subreddit.png)

Values are means over conversations ± one standard error (ddof=1), as in the paper.
Random ordering scores about 21% Recall@20 and 15% nDCG@20.

{CREDIT}
"""
    write_atomically(out / "report.md", text)
