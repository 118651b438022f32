"""The LangChain audio tools and the audio CLIs: errors come back as results, never raised."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from langchain.messages import ToolMessage

from tests import audio_fixtures as fx
from tests.test_audio_ingest import assert_one_sentence
from tools import describe as describe_module
from tools import fetch_musicrs_audio as bulk
from tools import youtube
from tools.audio import AudioInputError
from tools.audio_tools import AUDIO_TOOLS, describe_audio_tool, fetch_youtube_audio_tool
from tools.describe import AudioDescription


def call(tool, **args) -> ToolMessage:
    return tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tool_names_and_typed_arguments() -> None:
    assert [t.name for t in AUDIO_TOOLS] == ["describe_audio", "fetch_youtube_audio"]
    assert set(describe_audio_tool.args) == {"path", "tags", "lyrics"}
    assert describe_audio_tool.args["tags"]["type"] == "boolean"
    assert set(fetch_youtube_audio_tool.args) == {"url", "start_seconds", "duration_seconds"}
    for tool in AUDIO_TOOLS:
        assert "Returns JSON" in tool.description and '"ok": false' in tool.description


def test_describe_tool_returns_compact_json_and_the_full_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tags and lyrics need the models (covered in test_audio_describe); here DSP only.
    real = describe_module.describe_audio
    monkeypatch.setattr(
        describe_module,
        "describe_audio",
        lambda path, **kw: real(path, **{**kw, "tags": False, "lyrics": False}),
    )
    message = call(describe_audio_tool, path=str(fx.click_track(tmp_path / "click.wav")))
    outcome = json.loads(message.content)
    assert outcome["ok"] is True
    payload = outcome["data"]
    assert 118 <= payload["features"]["tempo_bpm"] <= 122
    assert payload["summary"].startswith("A 30-second clip")
    assert "loudness_curve_db" not in payload  # the plot series goes to the artifact only
    assert isinstance(message.artifact, AudioDescription)
    assert message.artifact.loudness_curve_db and message.artifact.summary == payload["summary"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: fx.text_renamed_mp3(d / "notes.mp3"), "not an audio file"),
        (lambda d: fx.silence(d / "silence.wav", seconds=60), "silent"),
        (lambda d: d / "missing.wav", "No audio file"),
        (lambda d: "https://vimeo.com/1234", "Only YouTube video links"),
        (lambda d: "https://www.youtube.com/playlist?list=PL123", "playlist"),
    ],
)
def test_describe_tool_returns_errors_as_results(tmp_path: Path, make, expected: str) -> None:
    message = call(describe_audio_tool, path=str(make(tmp_path)))
    outcome = json.loads(message.content)
    assert outcome["ok"] is False and expected in outcome["error"]
    assert message.artifact is None
    assert_one_sentence(outcome["error"])


def test_describe_tool_survives_unexpected_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("tools.audio_tools.describe_source", crash)
    message = call(describe_audio_tool, path=str(tmp_path / "x.wav"))
    outcome = json.loads(message.content)
    assert not outcome["ok"]
    assert outcome["error"].startswith("Describing the audio failed unexpectedly")


def test_fetch_tool_without_network_returns_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(youtube, "YOUTUBE_ENDPOINT", ("127.0.0.1", closed_port()))
    monkeypatch.setenv(youtube.CACHE_ENV, str(tmp_path))
    result = fetch_youtube_audio_tool.invoke({"url": "https://youtu.be/VCLxJd1d84s?t=214"})
    outcome = json.loads(result)
    assert not outcome["ok"] and outcome["error"].startswith("Could not reach YouTube")
    assert "upload" in outcome["error"]


def test_fetch_tool_returns_the_cached_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(youtube.CACHE_ENV, str(tmp_path))
    cached = youtube.cache_path(youtube.YouTubeRef(video_id="VCLxJd1d84s"), 214.0, 30.0, tmp_path)
    fx.piano_melody(cached, seconds=2)
    result = json.loads(
        fetch_youtube_audio_tool.invoke(
            {"url": "https://youtu.be/VCLxJd1d84s?t=214", "duration_seconds": 30}
        )
    )
    assert result["ok"] is True
    assert result["data"] == {
        "path": str(cached),
        "video_id": "VCLxJd1d84s",
        "start_s": 214.0,
        "duration_s": 30.0,
    }


def test_describe_cli_prints_one_sentence_for_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert describe_module.main([str(fx.text_renamed_mp3(tmp_path / "a.mp3"))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an audio file" in err
    assert_one_sentence(err.removeprefix("error: "))


def test_describe_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = fx.click_track(tmp_path / "click.wav", seconds=5)
    assert describe_module.main([str(path), "--json", "--no-tags", "--no-lyrics"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["skipped"] == {
        "tags": "switched off by the caller",
        "lyrics": payload["skipped"]["lyrics"],
    }
    assert payload["features"]["duration_analysed_s"] == pytest.approx(5.0, abs=0.05)


# --- python -m tools.fetch_musicrs_audio ---------------------------------------------


def write_dataset(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROWS = [
    {"name": "t3_a", "valid_urls": ["https://youtu.be/VCLxJd1d84s?t=214", "https://x.org/a"]},
    {"name": "t3_b", "valid_urls": ["https://www.youtube.com/watch?v=dQw4w9WgXcQhttps://y"]},
    {"name": "t3_c", "valid_urls": []},
]


def test_bulk_fetch_without_network_fails_fast_and_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(youtube, "YOUTUBE_ENDPOINT", ("127.0.0.1", closed_port()))
    data = write_dataset(tmp_path / "m.jsonl", ROWS)
    code = bulk.main(["--data", str(data), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no network connection" in err and err.count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_bulk_fetch_is_resumable_and_summarises_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(youtube, "check_network", lambda *args, **kwargs: None)
    calls: list[tuple[str, float | None]] = []

    def fake_fetch(url: str, start, duration, *, cache_root: Path) -> Path:
        calls.append((url, start))
        if "dQw4w9WgXcQ" in url:
            raise AudioInputError("This YouTube video is private; upload the audio file instead.")
        cache_root.mkdir(parents=True, exist_ok=True)
        return fx.click_track(cache_root / "x.wav", seconds=1)

    monkeypatch.setattr(youtube, "fetch_youtube_audio", fake_fetch)
    data = write_dataset(tmp_path / "m.jsonl", ROWS)
    out = tmp_path / "out"
    jobs, invalid = bulk.read_jobs(data, out)
    assert [j.target.relative_to(out).as_posix() for j in jobs] == [
        "t3_a/VCLxJd1d84s_214000.wav",
        "t3_b/dQw4w9WgXcQ_0.wav",
    ]
    assert len(invalid) == 1 and "x.org" in invalid[0]["url"]

    done, failures, stopped = bulk.run(
        jobs, seconds=None, cache_root=out / ".cache", fetch=fake_fetch, progress=False
    )
    assert (done, len(failures), stopped) == (1, 1, None)
    assert (out / "t3_a/VCLxJd1d84s_214000.wav").is_file()
    assert calls[0] == ("https://www.youtube.com/watch?v=VCLxJd1d84s", 214.0)
    assert not list(out.rglob("*.partial*"))

    calls.clear()
    code = bulk.main(["--data", str(data), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1 and [c[0] for c in calls] == ["https://www.youtube.com/watch?v=dQw4w9WgXcQ"]
    assert "1 already present" in printed and "1 of 2 clips present, 2 failed." in printed
    logged = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert {f["name"] for f in logged} == {"t3_a", "t3_b"}


def test_bulk_fetch_stops_when_the_network_drops(tmp_path: Path) -> None:
    def offline(url: str, start, duration, *, cache_root: Path) -> Path:
        raise AudioInputError("Could not reach YouTube (no network connection); upload it.")

    jobs, _ = bulk.read_jobs(
        write_dataset(
            tmp_path / "m.jsonl",
            [
                {"name": f"t3_{i}", "valid_urls": [f"https://youtu.be/VCLxJd1d84{i}"]}
                for i in "abcdef"
            ],
        ),
        tmp_path / "out",
    )
    done, failures, stopped = bulk.run(
        jobs, seconds=None, cache_root=tmp_path, fetch=offline, progress=False
    )
    assert done == 0 and len(failures) == bulk.MAX_CONSECUTIVE_NETWORK_FAILURES
    assert stopped is not None and "no network" in stopped


def test_bulk_fetch_rejects_a_malformed_dataset_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "m.jsonl"
    data.write_text('{"name": "t3_a", "valid_urls": []}\nnot json\n')
    assert bulk.main(["--data", str(data), "--out", str(tmp_path / "out")]) == 2
    assert "Line 2" in capsys.readouterr().err
