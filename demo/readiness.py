"""Start-up preparation: make sure a catalog exists before the page opens.

Conventions:

- :func:`prepare` never raises and never blocks the app from starting: it returns ``""``
  when all is well, else ONE sentence shown on the page (e.g. offline with no data).
- Catalog location: the agent's ``AGENT_CATALOG`` (else the catalog default,
  ``$CATALOG_PATH`` or ``.cache/catalog``). Data for a build: ``$MUSICRS_DATA``, else
  ``../shared/musicrs/musicrs.jsonl`` beside the checkout, else the Hugging Face dataset
  :data:`HF_DATASET_ID` (a Space has no local file; this is the only network use here).
- The build runs as ``python -m vectorstore build`` in a child process with its own
  progress bar on the console: it is resumable, so an interrupted start-up loses nothing.
- :func:`warm_audio_tools` runs after start-up, in the background: it only saves time.
- On a Hugging Face Space (``SPACE_ID`` set) musicnn and tf-keras are installed with
  ``--no-deps`` if missing: musicnn's 2019 metadata pins numpy<1.17, so a requirements
  file cannot hold it (the Makefile does the same locally).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

HF_DATASET_ID = "rohan2810/MusiCRS"
REPO = Path(__file__).resolve().parents[1]
NO_DATA = (
    "No catalog yet and the MusiCRS data could not be fetched from Hugging Face (no "
    "network?); set MUSICRS_DATA to a local musicrs.jsonl and restart for full answers."
)


def prepare() -> str:
    """Get the catalog (and on Spaces the tagger packages) ready; a note if not."""
    if os.environ.get("SPACE_ID"):
        _install_tagger_packages()
    catalog = catalog_path()
    problem = catalog_problem(catalog)
    if problem is None:
        return ""
    log.info("%s Building it now.", problem)
    data = local_data() or fetch_dataset()
    if data is None:
        return NO_DATA
    return build_catalog(data, catalog)


def catalog_path() -> str | None:
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


def local_data() -> Path | None:
    """The MusiCRS file configured or found beside the checkout, if any."""
    configured = os.environ.get("MUSICRS_DATA")
    candidates = [Path(configured)] if configured else []
    candidates += [Path.cwd().parent / "shared/musicrs/musicrs.jsonl"]
    candidates += [REPO.parent / "shared/musicrs/musicrs.jsonl"]
    return next((p for p in candidates if p.is_file()), None)


def fetch_dataset(dataset_id: str = HF_DATASET_ID) -> Path | None:
    """Download the dataset's JSONL from the Hugging Face Hub; ``None`` (logged) on failure."""
    try:
        from huggingface_hub import HfApi, hf_hub_download

        files = HfApi().list_repo_files(dataset_id, repo_type="dataset")
        jsonl = sorted(f for f in files if f.endswith(".jsonl"))
        if not jsonl:
            log.warning("The Hugging Face dataset %s holds no .jsonl file.", dataset_id)
            return None
        return Path(hf_hub_download(dataset_id, jsonl[0], repo_type="dataset"))
    except Exception as error:  # any hub or network failure: the app starts anyway
        log.warning("Could not fetch %s (%s).", dataset_id, type(error).__name__)
        return None


def build_catalog(data: Path, catalog: str | None) -> str:
    """Run the resumable catalog build with progress; a note if it failed."""
    command = [sys.executable, "-m", "vectorstore", "build", "--data", str(data)]
    if catalog:
        command += ["--path", catalog]
    log.info("Building the catalog: %s", " ".join(command))
    done = subprocess.run(command, cwd=Path.cwd(), check=False)
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


def warm_audio_tools() -> None:
    """Compile librosa's kernels and start the tagger so the first clip is answered fast."""
    try:
        from tools.dsp import warm_up
        from tools.tagger import get_tagger

        warm_up()
        get_tagger()
    except Exception as error:  # the clip's own turn will report what is wrong
        log.warning("Audio warm-up failed (%s); the first clip will be slower.", error)
