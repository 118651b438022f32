"""Start-up preparation: the agent with its catalog open before the page opens, then warm.

Conventions:

- :func:`ready_agent` never raises for missing data and never stops the app from starting:
  its note is ``""`` when all is well, else ONE sentence shown on the page (e.g. offline
  with no data and no catalog).
- Catalog location: the catalog's own setting (``CATALOG_PATH``, default ``.cache/catalog``;
  see ``vectorstore.store``). Data for a build: what ``vectorstore.musicrs`` resolves
  (``$MUSICRS_DATA``, else ``../shared/musicrs/musicrs.jsonl`` beside the checkout), else the
  Hugging Face dataset ``rohan2810/MusiCRS`` (a Space has no local file; this is the only
  network use here).
- The build runs as ``python -m vectorstore build`` in a child process with its own
  progress bar on the console: it is resumable, so an interrupted start-up loses nothing.
- :func:`warm_up` runs in the background while the page starts: it only saves time.
- On a Hugging Face Space (``SPACE_ID`` set) musicnn and tf-keras are installed with
  ``--no-deps`` if missing: musicnn's 2019 metadata pins numpy<1.17, so a requirements
  file cannot hold it (the Makefile does the same locally).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
_WARM_UP_SESSION = "demo-warm-up"
NO_DATA = (
    "No catalog yet and the MusiCRS data could not be fetched from Hugging Face (no "
    "network?); set MUSICRS_DATA to a local musicrs.jsonl and restart for full answers."
)


def ready_agent(sessions_db: str | None = None) -> tuple[Any, str]:
    """The real agent with its catalog open (built first if missing), and a page note or "".

    ``sessions_db`` keeps its conversations in that SQLite file unless ``AGENT_SESSIONS_DB``
    names another."""
    from agent import Settings, build_agent

    if os.environ.get("SPACE_ID"):
        _install_tagger_packages()
    settings = Settings.from_env()
    settings = dataclasses.replace(settings, sessions_db=settings.sessions_db or sessions_db)
    agent = build_agent(settings)
    agent.warm_up()
    notice = ""
    if agent.catalog_status() != "open":
        log.info("The catalog is %s; building it now.", agent.catalog_status())
        data = find_data()
        notice = NO_DATA if data is None else build_catalog(data, settings.catalog_path)
        # The agent remembers a missing catalog, so a fresh one reads the new build.
        agent = build_agent(settings)
        agent.warm_up()
    status = agent.catalog_status()
    if status != "open":
        return agent, notice or f"The catalog is {status}; answers rest on your words only."
    return agent, ""


def warm_up(agent: Any) -> None:
    """Load what the first turns would otherwise wait for; run in the background.

    Text first (the embedding model and lexical index, ~8 s on 2 cores, through one
    throwaway offline turn; never with a model server, where it would be a paid request),
    then librosa's kernels and the tagger process for the first clip.
    """
    try:
        if agent.settings.provider == "offline":
            agent.run_turn(_WARM_UP_SESSION, "music like Miles Davis")
            agent.reset(_WARM_UP_SESSION)
        from tools.dsp import warm_up as warm_dsp
        from tools.tagger import get_tagger

        warm_dsp()
        get_tagger()
    except Exception as error:  # only time is lost: the turns themselves report problems
        log.warning("Warm-up stopped early (%s); the first turns will be slower.", error)


def catalog_path() -> str | None:
    """Where the agent looks for its catalog (``None``: the catalog's own setting)."""
    from agent import Settings

    return Settings.from_env().catalog_path


def catalog_problem(path: str | None) -> str | None:
    """Why the catalog cannot be opened (one sentence), or ``None`` when it is ready."""
    from vectorstore.errors import CatalogError
    from vectorstore.store import open_catalog

    try:
        open_catalog(path)
    except CatalogError as error:
        return str(error)
    return None


def find_data() -> Path | None:
    """The MusiCRS file for a build: the configured or shared one, else the Hugging Face
    dataset; ``None`` (logged) when neither can be had."""
    from vectorstore.musicrs import HF_DATASET_ID, DatasetError, data_file

    try:
        return data_file()
    except DatasetError as error:
        log.info("%s Trying the Hugging Face dataset %s.", error, HF_DATASET_ID)
    try:
        return data_file(HF_DATASET_ID)
    except DatasetError as error:  # the app starts anyway, with the NO_DATA note
        log.warning("%s", error)
        return None


def build_catalog(data: Path, catalog: str | None) -> str:
    """Run the resumable catalog build with progress; a note if it failed."""
    command = [sys.executable, "-m", "vectorstore", "build", "--data", str(data)]
    if catalog:
        command += ["--path", catalog]
    log.info("Building the catalog: %s", " ".join(command))
    # The child must import this checkout even when it is not pip-installed (a Space runs
    # `python demo/app.py` from the repository); the working directory stays ours, since
    # the default catalog path is relative to it.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(command, env=os.environ | {"PYTHONPATH": path}, check=False)
    if done.returncode != 0:
        return (
            "Building the catalog failed (see the console); answers are limited until "
            "`python -m vectorstore build` succeeds."
        )
    return ""


def _install_tagger_packages() -> None:
    if importlib.util.find_spec("musicnn") and importlib.util.find_spec("tf_keras"):
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["musicnn==0.1.0", "tf-keras==2.21.0"]
    if subprocess.run(command, check=False).returncode != 0:
        log.warning("Installing musicnn failed: clips are described without tags.")
