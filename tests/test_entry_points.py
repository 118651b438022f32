"""The console commands of pyproject.toml resolve to the same mains as the ``python -m``
forms, and an installed command runs (``musicrs-evals systems`` needs no data)."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
SAME_AS = {
    "musicrs-agent": "agent",
    "musicrs-catalog": "vectorstore",
    "musicrs-evals": "evals",
    "musicrs-describe": "tools.describe",
    "musicrs-demo": "demo",
}


def test_every_package_has_its_command() -> None:
    assert set(SCRIPTS) == set(SAME_AS)


@pytest.mark.parametrize("command", sorted(SAME_AS))
def test_a_command_resolves_to_its_python_m_main(command: str) -> None:
    module_name, _, function = SCRIPTS[command].partition(":")
    target = getattr(importlib.import_module(module_name), function)
    # `python -m X` runs X/__main__.py (or the module itself), which calls this same function.
    python_m = SAME_AS[command]
    runs = importlib.util.find_spec(f"{python_m}.__main__") if "." not in python_m else None
    main_module = importlib.import_module(runs.name if runs else python_m)
    assert callable(target) and main_module.main is target


def test_an_installed_command_answers() -> None:
    command = shutil.which("musicrs-evals")
    if command is None:
        pytest.fail("musicrs-evals is not on PATH: run `make install` (pip install -e .)")
    done = subprocess.run([command, "systems"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "hybrid" in done.stdout
