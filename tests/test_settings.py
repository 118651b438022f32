"""The settings objects (catalog location, data, demo server): defaults, the one catalog
variable with its deprecated alias, and one sentence for each bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.settings import ServerSettings, ServerSettingsError
from vectorstore.errors import CatalogError
from vectorstore.musicrs import DatasetError, DataSettings, data_file
from vectorstore.store import DEFAULT_PATH, store_location

REPO = Path(__file__).resolve().parent.parent


def test_catalog_location_defaults_and_the_one_variable() -> None:
    assert store_location(environ={}).path == DEFAULT_PATH
    assert store_location(environ={"CATALOG_PATH": "/x"}).path == Path("/x")
    assert store_location("/arg", environ={"CATALOG_PATH": "/x"}).path == Path("/arg")
    server = store_location(environ={"CHROMA_HOST": "db", "CHROMA_PORT": "9000"})
    assert (server.host, server.port) == ("db", 9000)


def test_the_old_catalog_variable_still_works_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="AGENT_CATALOG is deprecated.*CATALOG_PATH"):
        assert store_location(environ={"AGENT_CATALOG": "/old"}).path == Path("/old")
    both = {"AGENT_CATALOG": "/old", "CATALOG_PATH": "/new"}
    assert store_location(environ=both).path == Path("/new")


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1"])
def test_a_bad_chroma_port_is_one_sentence(port: str) -> None:
    with pytest.raises(CatalogError, match=rf"^CHROMA_PORT='{port}' is not a port number"):
        store_location(environ={"CHROMA_PORT": port})


def test_server_settings_defaults_and_values() -> None:
    assert ServerSettings.from_env({}) == ServerSettings("127.0.0.1", 7860, 4, 64)
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080", "DEMO_CONCURRENCY": "2"}
    assert ServerSettings.from_env(env | {"DEMO_QUEUE_SIZE": " "}) == ServerSettings(
        "0.0.0.0", 8080, 2, 64
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEMO_CONCURRENCY", "abc"),
        ("DEMO_CONCURRENCY", "0"),
        ("DEMO_QUEUE_SIZE", "-3"),
        ("GRADIO_SERVER_PORT", "99999"),
        ("GRADIO_SERVER_PORT", "1.5"),
    ],
)
def test_a_bad_server_value_is_one_sentence(name: str, value: str) -> None:
    with pytest.raises(ServerSettingsError, match=rf"^{name}='{value}' is not a whole number"):
        ServerSettings.from_env({name: value})


def test_data_settings_and_a_missing_file(tmp_path: Path) -> None:
    assert DataSettings.from_env({}).source is None
    assert DataSettings.from_env({"MUSICRS_DATA": " x.jsonl "}).source == "x.jsonl"
    with pytest.raises(DatasetError, match="does not exist; check --data or MUSICRS_DATA"):
        data_file(tmp_path / "missing.jsonl")


@pytest.mark.slow
def test_the_demo_refuses_a_bad_setting_in_one_sentence() -> None:
    env = {**os.environ, "DEMO_CONCURRENCY": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: DEMO_CONCURRENCY='abc' is not a whole number of at least 1; fix it or unset it "
        "(default 4)."
    ]


def test_importing_the_packages_leaves_the_environment_alone() -> None:
    walk = (
        "import importlib, os, pkgutil, sys\n"
        "before = dict(os.environ)\n"
        "for package in ('vectorstore', 'tools', 'agent', 'evals', 'demo'):\n"
        "    importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(sys.modules[package].__path__, package + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "after = dict(os.environ)\n"
        "print(' '.join(sorted(k for k in {*before, *after} if before.get(k) != after.get(k))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", walk], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
