"""Hugging Face Space readiness: front matter, apt packages, requirements in step."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "the README must open with the Space front matter"
    block = text[4 : text.index("\n---\n", 4)]
    return dict(line.split(": ", 1) for line in block.splitlines())


def test_readme_front_matter_describes_the_space() -> None:
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == "6.31.0"
    assert meta["app_file"] == "demo/app.py" and (ROOT / meta["app_file"]).is_file()
    assert meta["python_version"] == '"3.11"'  # quoted, or YAML reads the number 3.11


def test_space_installs_what_pyproject_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = set(project["project"]["dependencies"])
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = {line for line in lines if line and not line.startswith(("#", "-"))}
    assert listed == pinned
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert f"gradio=={front_matter()['sdk_version']}" in pinned


def test_apt_packages_include_ffmpeg() -> None:
    assert "ffmpeg" in (ROOT / "packages.txt").read_text().split()
