"""The ``clap`` system offline: a tiny randomly initialised ClapModel saved to a temporary
folder (never a download), generated audio, and the paper's protocol (segments, budget, the
three modes, the audio_query fusion, skipped threads, resuming)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evals.__main__ import main
from evals.runner import RunSpec, run
from evals.systems import RankingRequest, RunContext, SystemChoiceError, create_system
from evals.systems.clap import BUDGET_S, MAX_FILES, SEGMENT_S, audio_segments, segment_starts
from tests.audio_fixtures import write_wav
from tests.conftest import make_record, write_jsonl

pytestmark = pytest.mark.slow  # builds and runs a (tiny) transformer

RATE = 16_000  # the tiny feature extractor's rate, so test audio stays small


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ClapModel with a few thousand random weights and a byte-level tokenizer, saved as a
    model folder the system loads like any Hugging Face checkpoint."""
    import torch
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizer,
    )

    symbols = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "Ġ"] + [chr(c) for c in range(33, 127)]
    tokenizer = RobertaTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=[])
    features = ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=RATE,
        hop_length=160,
        max_length_s=2,
        fft_window_size=400,
        truncation="rand_trunc",
        padding="repeatpad",
    )
    config = ClapConfig(
        text_config={
            "vocab_size": len(symbols),
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "max_position_embeddings": 600,
        },
        audio_config={
            "spec_size": 64,
            "num_mel_bins": 16,
            "patch_size": 4,
            "patch_stride": (4, 4),
            "window_size": 4,
            "depths": [1, 1],
            "num_attention_heads": [1, 1],
            "patch_embeds_hidden_size": 8,
            "hidden_size": 16,
            "enable_fusion": False,
        },
        projection_dim=8,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-clap")
    ClapModel(config).eval().save_pretrained(folder)
    ClapProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tone(path: Path, seconds: float, hz: float) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    return write_wav(path, 0.3 * np.sin(2 * np.pi * hz * t), RATE)


CANDIDATES = ["So What", "Giant Steps", "Blue in Green", "Paranoid", "Teardrop", "Roygbiv"]


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    """Three threads; the first two have clips in the paper's layout, the third has none."""
    records = [
        make_record(f"t3_{i}", query=query, final_candidates=CANDIDATES)
        for i, query in enumerate(["modal jazz please", "heavy riffs", "trip hop at night"])
    ]
    data = write_jsonl(tmp_path / "data.jsonl", records)
    audio = tmp_path / "audio"
    for i, hz in enumerate((220.0, 880.0)):
        (audio / f"t3_{i}").mkdir(parents=True)
        tone(audio / f"t3_{i}" / "clip.wav", 4.0, hz)  # one segment: keeps the test fast
    return data, audio


def test_segments_spread_over_each_clip_within_the_budget(tmp_path):
    assert segment_starts(8.0, 30) == [0.0]  # a clip no longer than a segment gives one
    assert segment_starts(40.0, 3) == [0.0, 15.0, 30.0]  # first at 0, last ends at the end
    one = audio_segments([tone(tmp_path / "long.wav", 25.0, 440.0)], RATE, seed=42)
    assert len(one) == int(BUDGET_S // SEGMENT_S)  # 30 segments from one clip
    assert all(len(s) <= SEGMENT_S * RATE for s in one)
    many = [tone(tmp_path / f"c{i:02d}.wav", 11.0, 200.0 + i) for i in range(MAX_FILES + 2)]
    segments = audio_segments(many, RATE, seed=42)
    assert len(segments) == MAX_FILES * 3  # 10 clips sampled, ceil(30 / 10) segments each
    assert audio_segments(many, RATE, seed=42)[0].tolist() == segments[0].tolist()


def test_missing_weights_are_one_sentence_naming_the_option(tmp_path, dataset, capsys):
    context = RunContext(options={"model": str(tmp_path / "no-such-model")})
    with pytest.raises(SystemChoiceError, match=r"--option model="):
        create_system("clap", "query_only", context)
    data, _ = dataset
    argv = ["run", "--system", "clap", "--data", str(data), "--out", str(tmp_path / "run")]
    assert main([*argv, "--option", f"model={tmp_path / 'no-such-model'}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: clap could not load CLAP weights") and "\n" not in error


def test_three_modes_skip_what_the_paper_skips_and_fuse_audio_with_the_query(
    tiny_clap, dataset, tmp_path
):
    data, audio = dataset
    options = {"model": str(tiny_clap)}
    results = {
        mode: run(
            RunSpec("clap", mode, data=str(data)),
            tmp_path / mode,
            audio_dir=audio,
            progress=False,
            options=options,
        )
        for mode in ("query_only", "audio_only", "audio_query")
    }
    for result in results.values():
        for prediction in result.predictions:
            assert sorted(prediction.ranking) == sorted(CANDIDATES)
    assert results["query_only"].metrics["overall"]["num_samples"] == 3
    assert results["audio_only"].metrics["overall"]["num_samples"] == 2  # t3_2 has no clip
    assert results["audio_only"].metrics["run"]["skipped"] == ["t3_2"]
    assert results["audio_query"].metrics["overall"]["num_samples"] == 3
    by_mode = {m: {p.name: p.ranking for p in r.predictions} for m, r in results.items()}
    # Without a clip, audio_query falls back to the query alone.
    assert by_mode["audio_query"]["t3_2"] == by_mode["query_only"]["t3_2"]

    # With one, it ranks by cos(w·audio + (1−w)·query, name): with w = 0.5, by the sum of
    # the two single-input similarities.
    system = create_system("clap", "audio_query", RunContext(options=options))
    clip = (audio / "t3_0" / "clip.wav",)
    names = np.stack([system.text_vector(c) for c in CANDIDATES])
    fused = names @ system.audio_vector(clip) + names @ system.text_vector("modal jazz please")
    request = RankingRequest(
        "t3_0", "jazz", "audio_query", tuple(CANDIDATES), "modal jazz please", audio_paths=clip
    )
    ranking = system.rank(request).ranking
    assert ranking == [CANDIDATES[i] for i in np.argsort(-fused, kind="stable")]


def test_an_interrupted_run_resumes_to_the_same_rankings(tiny_clap, dataset, tmp_path):
    data, audio = dataset
    spec = RunSpec("clap", "audio_query", data=str(data))
    options = {"model": str(tiny_clap)}
    whole = run(spec, tmp_path / "whole", audio_dir=audio, progress=False, options=options)
    run(spec, tmp_path / "resumed", limit=1, audio_dir=audio, progress=False, options=options)
    resumed = run(spec, tmp_path / "resumed", audio_dir=audio, progress=False, options=options)
    assert [p.ranking for p in resumed.predictions] == [p.ranking for p in whole.predictions]
    assert resumed.metrics["overall"] == whole.metrics["overall"]
