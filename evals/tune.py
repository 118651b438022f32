"""Grid search of a system's tunable class attributes on the DEV split only.

Tuning never sees the test split (docs/evaluation.md): the split is fixed to ``dev`` here. Each
grid point ranks every dev conversation in-process and reports Recall@20 and nDCG@20;
the best point by nDCG@20 is printed last. Nothing is written to disk.

    python -m evals tune --system lexical --param k1=0.5,1.2,2 --param b=0,0.5,0.75,1
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from tqdm import tqdm

from evals.metrics import evaluate
from evals.runner import build_request
from evals.systems import RunContext, SystemChoiceError, check_mode, system_class
from vectorstore.musicrs import load_conversations, select_split


def parse_grid(params: Sequence[str], system: type) -> dict[str, list[float]]:
    """``["k1=0.5,1.2"]`` → ``{"k1": [0.5, 1.2]}``, refusing attributes the system lacks."""
    grid = {}
    for param in params:
        name, sep, values = param.partition("=")
        if not sep or not values:
            raise SystemChoiceError(f"--param {param!r} should look like NAME=V1,V2,...")
        if not isinstance(getattr(system, name, None), int | float):
            raise SystemChoiceError(f"System {system.name!r} has no numeric setting {name!r}.")
        try:
            grid[name] = [float(v) for v in values.split(",")]
        except ValueError:
            raise SystemChoiceError(
                f"--param {param!r} holds a value that is not a number."
            ) from None
    return grid


def tune(
    system_name: str, mode: str, params: Sequence[str], data: str | None, seed: int = 42
) -> list[tuple[dict[str, float], float, float]]:
    """``[(setting, recall@20, ndcg@20)]`` for every grid point, on dev."""
    cls = system_class(system_name)
    mode = check_mode(cls, mode)
    grid = parse_grid(params, cls)
    context = RunContext(seed=seed, data_path=data)
    conversations = load_conversations(data)
    dev = select_split(conversations, "dev")
    results = []
    points = list(itertools.product(*grid.values()))
    for values in tqdm(points, desc=f"tune {system_name} on dev", unit="point"):
        setting = dict(zip(grid, values, strict=True))
        system = cls(context)
        for name, value in setting.items():
            setattr(system, name, value)
        system.fit(conversations)
        rankings = [system.rank(build_request(c, mode, context)).ranking for c in dev]
        overall = evaluate(rankings, [c.limited_gt for c in dev])["overall"]
        results.append((setting, overall["recall_at_20"], overall["ndcg_at_20"]))
    return results
