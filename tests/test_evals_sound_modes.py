"""The benchmark's audio modes hear the thread's own clip (docs/evaluation.md).

Ranking thread T in ``audio_only`` / ``audio_query``, ``hybrid`` (and ``agent``, which ranks
with it) finds the clips of other threads that sound like T's clip and scores T's pool by
what those threads recommended, read through T's candidate-blind view. The invariance tests
edit the data and compare rankings: T's gold, comments and recommendations, its fold-mates'
clips and data, and T's candidates in other threads never change T's ranking; the
recommendations of the thread whose clip sounds like T's do.

The data are a few real MusiCRS threads (their names, requests, comments and pools); their
clips are rendered by :mod:`tools.synthetic_music` into the paper's layout
``<dir>/<thread name>/*.wav``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.runner import RunSpec, build_request, run
from evals.systems import RunContext, create_system
from tests.test_catalog_leakfree import without_pool
from tools.synthetic_music import corpus, render_corpus
from vectorstore.musicrs import fold_of, load_conversations

TARGET = "t3_vkhefz"  # fold 4, r/popheads
NEIGHBOUR = "t3_21llkq"  # fold 2: its clip sounds like T's (both house)
FOLD_MATE = "t3_2t1q0j"  # fold 4, like T: its clip sounds like T's too, but it may not answer
BALLADS = ("t3_mh6opy", "t3_tv27fb")  # folds 0 and 1: piano ballads
NO_CLIP = "t3_2zry3b"  # fold 0: no clip in the folder
THREADS = (TARGET, NEIGHBOUR, FOLD_MATE, *BALLADS, NO_CLIP)
CLIP_SECONDS = 6.0


@pytest.fixture(scope="module")
def records(musicrs_path: Path) -> dict[str, dict]:
    """The real records of :data:`THREADS`, by name."""
    found = {}
    with musicrs_path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["name"] in THREADS:
                found[record["name"]] = record
    assert set(found) == set(THREADS)
    assert fold_of(NEIGHBOUR) != fold_of(TARGET) == fold_of(FOLD_MATE)
    return found


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered clips in the paper's layout; :data:`NO_CLIP` has none."""
    house = render_corpus(corpus(3, seconds=CLIP_SECONDS, styles=("house",)))
    ballads = render_corpus(corpus(2, seconds=CLIP_SECONDS, styles=("piano_ballad",)))
    root = tmp_path_factory.mktemp("benchmark-audio")
    for thread, clip in zip((TARGET, NEIGHBOUR, FOLD_MATE, *BALLADS), house + ballads, strict=True):
        (root / thread).mkdir()
        shutil.copyfile(clip.path, root / thread / "clip.wav")
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run cache for every variant: fold catalogs are keyed by the data's content, and
    the clips' sound index is built once."""
    return tmp_path_factory.mktemp("run-cache")


def write_data(folder: Path, records: dict[str, dict], label: str) -> Path:
    path = folder / f"{label}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records.values()), encoding="utf-8")
    return path


def ranked(
    records: dict[str, dict],
    label: str,
    audio_dir: Path,
    cache_dir: Path,
    *,
    mode: str = "audio_only",
    thread: str = TARGET,
    system: str = "hybrid",
):
    data = write_data(cache_dir, records, label)
    context = RunContext(data_path=str(data), audio_dir=audio_dir, cache_dir=cache_dir)
    (conversation,) = [c for c in load_conversations(data) if c.name == thread]
    return create_system(system, mode, context).rank(build_request(conversation, mode, context))


def edited(records: dict[str, dict]) -> dict[str, dict]:
    return json.loads(json.dumps(records))


def recommending(names: list[str]) -> list[dict]:
    """Comments recommending ``names`` as songs, one per comment."""
    return [
        {
            "name": f"t1_edit{i}",
            "score": 50,
            "entities": {"artists": [], "albums": [], "songs": [n]},
        }
        for i, n in enumerate(names)
    ]


@pytest.mark.parametrize("mode", ["audio_only", "audio_query"])
def test_the_threads_own_gold_comments_and_recommendations_never_change_its_ranking(
    records, audio_dir, cache_dir, mode
) -> None:
    before = ranked(records, "original", audio_dir, cache_dir, mode=mode)
    assert before.notes["audio_missing"] is False
    assert before.notes["sound_neighbours"][0] == NEIGHBOUR
    changed = edited(records)
    target = changed[TARGET]
    pool = target["final_candidates"]
    target["comments"] = recommending([pool[-1], "Leak Song", *pool[:5]])
    target["limited_gt"] = target["ground_truth"] = [pool[-1]]
    target["submission_entities"] = [pool[-2]]
    target["combined_text"] = f"[{pool[-1]}](https://youtu.be/leak)"
    # T's fold-mate sounds like T, and is of T's fold: nothing of it may be heard either.
    changed[FOLD_MATE]["comments"] = recommending([f"{pool[-1]} (live)", "Fold Song"])
    after = ranked(changed, f"edited-{mode}", audio_dir, cache_dir, mode=mode)
    assert after.ranking == before.ranking
    assert after.notes["sound_neighbours"] == before.notes["sound_neighbours"]


def test_deleting_the_threads_candidates_from_other_threads_changes_nothing(
    records, audio_dir, cache_dir
) -> None:
    before = ranked(records, "original", audio_dir, cache_dir)
    scrubbed = {r["name"]: r for r in without_pool(list(records.values()), TARGET)}
    assert scrubbed != records
    assert ranked(scrubbed, "scrubbed", audio_dir, cache_dir).ranking == before.ranking


def test_what_the_thread_that_sounds_alike_recommended_moves_the_ranking(
    records, audio_dir, cache_dir
) -> None:
    before = ranked(records, "original", audio_dir, cache_dir)
    candidate = before.ranking[-1]  # last: nothing pointed at it
    changed = edited(records)
    # Not the candidate itself (the view never serves a pool entity), but a near namesake.
    changed[NEIGHBOUR]["comments"] = recommending([f"{candidate} (live)", f"{candidate} remix"])
    after = ranked(changed, "neighbour", audio_dir, cache_dir)
    assert after.ranking.index(candidate) < before.ranking.index(candidate)
    # The same words in a thread whose clip sounds less like T's move it less.
    far = edited(records)
    far[BALLADS[0]]["comments"] = recommending([f"{candidate} (live)", f"{candidate} remix"])
    distant = ranked(far, "ballad", audio_dir, cache_dir)
    assert after.ranking.index(candidate) < distant.ranking.index(candidate)


def test_audio_query_fuses_the_sound_with_the_words(records, audio_dir, cache_dir) -> None:
    heard = ranked(records, "original", audio_dir, cache_dir, mode="audio_query")
    words = ranked(records, "original", audio_dir, cache_dir, mode="query_only")
    sound = ranked(records, "original", audio_dir, cache_dir, mode="audio_only")
    assert sorted(heard.ranking) == sorted(words.ranking) == sorted(sound.ranking)
    assert heard.ranking not in (words.ranking, sound.ranking)


def test_a_thread_without_a_clip_is_ranked_and_reported(
    records, audio_dir, cache_dir, tmp_path
) -> None:
    answer = ranked(records, "original", audio_dir, cache_dir, thread=NO_CLIP)
    assert answer.notes["audio_missing"] is True
    assert sorted(answer.ranking) == sorted(records[NO_CLIP]["final_candidates"])
    data = write_data(cache_dir, records, "original")
    result = run(
        RunSpec("hybrid", "audio_only", data=str(data)),
        tmp_path / "run",
        audio_dir=audio_dir,
        progress=False,
    )
    assert result.metrics["run"]["without_audio"] == [NO_CLIP]
    by_name = {p.name: p for p in result.predictions}
    assert by_name[TARGET].notes["sound_neighbours"][0] == NEIGHBOUR


@pytest.mark.slow
def test_the_agent_ranks_with_the_same_sound_neighbours(records, audio_dir, cache_dir) -> None:
    hybrid = ranked(records, "original", audio_dir, cache_dir)
    agent = ranked(records, "original", audio_dir, cache_dir, system="agent")
    assert agent.notes["audio_missing"] is False
    assert agent.ranking == hybrid.ranking
