"""The ``learned`` ranker: cross-fitted, so no thread is ranked by a model that saw its gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.systems import SystemChoiceError
from evals.systems.learned import TEST_FOLD
from tests.test_catalog_leakfree import dataset
from tests.test_catalog_systems import rank_all
from vectorstore.musicrs import fold_of

pytestmark = pytest.mark.slow  # loads MiniLM and builds fold catalogs


def rankings(records: list[dict], folder: Path) -> dict[str, list[str]]:
    """Every thread's ranking by ``learned`` fitted on ``records`` (their own data file)."""
    folder.mkdir()
    data = folder / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    return rank_all("learned", data, folder / "cache")


def test_a_threads_own_gold_never_reaches_its_ranking(tmp_path):
    records = dataset()
    folds = {fold_of(r["name"]) for r in records} - {TEST_FOLD}
    assert len(folds) >= 2  # the fixture spans several dev folds, so cross-fitting is real
    before = rankings(records, tmp_path / "before")
    for record in records:
        assert sorted(before[record["name"]]) == sorted(record["final_candidates"])
    # Relabel one dev thread's gold: only models of other folds may change.
    target = next(r for r in records if fold_of(r["name"]) != TEST_FOLD)
    changed = [dict(r) for r in records]
    changed[records.index(target)]["limited_gt"] = target["final_candidates"][-3:]
    after = rankings(changed, tmp_path / "after")
    assert after[target["name"]] == before[target["name"]]
    same_fold = [r["name"] for r in records if fold_of(r["name"]) == fold_of(target["name"])]
    assert all(after[name] == before[name] for name in same_fold)
    # Test threads are never trained on: relabelling one changes nothing at all.
    test_thread = next((r for r in records if fold_of(r["name"]) == TEST_FOLD), None)
    if test_thread is not None:
        relabelled = [dict(r) for r in records]
        relabelled[records.index(test_thread)]["limited_gt"] = test_thread["final_candidates"][:2]
        assert rankings(relabelled, tmp_path / "test-relabelled") == before


def test_too_few_dev_folds_is_one_sentence(tmp_path):
    records = [r for r in dataset() if fold_of(r["name"]) in {TEST_FOLD, fold_of("t3_0")}]
    with pytest.raises(SystemChoiceError, match="at least two folds"):
        rankings(records, tmp_path / "few")
