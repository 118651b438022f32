"""Loading and validating the MusiCRS JSONL, and the dev/test split.

Each line of the file is one Reddit thread. Validation is strict about the fields the
harness uses and names the line number and field of anything malformed, so a damaged file
fails with one actionable sentence instead of a traceback halfway through a run.

The split (docs/evaluation.md): ``fold(name) = int(sha256(name).hexdigest(), 16) % 5``; fold 0 is
the test split, folds 1-4 are dev.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_DATA_PATH = Path(__file__).resolve().parent.parent.parent / "shared/musicrs/musicrs.jsonl"
HF_DATASET_ID = "rohan2810/MusiCRS"
HF_ENDPOINT = ("huggingface.co", 443)
HF_PREFLIGHT_TIMEOUT_S = 4.0
Split = Literal["all", "dev", "test"]
SPLITS: tuple[Split, ...] = ("all", "dev", "test")
N_FOLDS = 5


class DatasetError(ValueError):
    """The dataset could not be found, fetched or parsed; the message says what to do."""


@dataclass(frozen=True)
class CommentEntities:
    """Entities one Reddit comment recommended (the dataset keeps no comment text)."""

    name: str
    score: float
    artists: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()
    songs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """One MusiCRS thread. Only ``query``, ``valid_urls`` and ``final_candidates`` may reach
    a ranking system; the rest is for scoring and for building leak-free catalogs."""

    name: str
    source_subreddit: str
    query: str
    final_candidates: tuple[str, ...]
    limited_gt: tuple[str, ...]
    valid_urls: tuple[str, ...] = ()
    combined_text: str = ""
    submission_entities: tuple[str, ...] = ()
    comments: tuple[CommentEntities, ...] = ()
    ground_truth: tuple[str, ...] = ()
    url: str = ""
    score: float = 0.0
    line_number: int = field(default=0, compare=False)

    @property
    def fold(self) -> int:
        return fold_of(self.name)

    @property
    def is_test(self) -> bool:
        return self.fold == 0


def fold_of(name: str) -> int:
    """The fold (0-4) of a thread: ``int(sha256(name).hexdigest(), 16) % 5``."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % N_FOLDS


def in_split(name: str, split: Split) -> bool:
    """Whether the thread ``name`` belongs to ``split`` ('all', 'dev' or 'test')."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    return split == "all" or (fold_of(name) == 0) == (split == "test")


def select_split(conversations: Iterable[Conversation], split: Split) -> list[Conversation]:
    return [c for c in conversations if in_split(c.name, split)]


@dataclass(frozen=True)
class DataSettings:
    """Where the MusiCRS file comes from: ``MUSICRS_DATA`` (a local JSONL path or a Hugging
    Face dataset id such as ``rohan2810/MusiCRS``), unset meaning the shared file beside the
    checkout. A path that does not exist is reported when the data is loaded."""

    source: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DataSettings:
        env = os.environ if environ is None else environ
        return cls(source=env.get("MUSICRS_DATA", "").strip() or None)


def resolve_data_path(data: str | os.PathLike[str] | None) -> str:
    """``--data`` if given, else ``$MUSICRS_DATA``, else ``../shared/musicrs/musicrs.jsonl``
    beside the working directory or the checkout."""
    if data:
        return str(data)
    configured = DataSettings.from_env().source
    if configured:
        return configured
    for candidate in (Path.cwd().parent / "shared/musicrs/musicrs.jsonl", DEFAULT_DATA_PATH):
        if candidate.is_file():
            return str(candidate)
    raise DatasetError(
        "No MusiCRS data found: pass --data PATH (a local musicrs.jsonl or the Hugging Face "
        f"id {HF_DATASET_ID}) or set MUSICRS_DATA."
    )


def data_file(data: str | os.PathLike[str] | None = None) -> Path:
    """The local JSONL file for ``data`` (resolved as :func:`resolve_data_path` does); a
    Hugging Face dataset id is downloaded first. Raises :class:`DatasetError`."""
    source = resolve_data_path(data)
    path = Path(source)
    if not path.exists() and source.count("/") == 1 and not source.endswith(".jsonl"):
        path = fetch_from_hub(source)
    if path.is_dir():
        raise DatasetError(
            f"Data file {source} is a directory; pass the musicrs.jsonl file inside it."
        )
    if not path.is_file():
        raise DatasetError(f"Data file {source} does not exist; check --data or MUSICRS_DATA.")
    return path


def load_conversations(data: str | os.PathLike[str] | None = None) -> list[Conversation]:
    """Load and validate every conversation from a local JSONL file or the HF dataset id."""
    source = resolve_data_path(data)
    path = data_file(source)
    try:
        with path.open(encoding="utf-8") as lines:
            conversations = [
                parse_line(text, number) for number, text in enumerate(lines, 1) if text.strip()
            ]
    except UnicodeDecodeError:
        raise DatasetError(
            f"{source} is not UTF-8 text (a binary or differently encoded file); pass the "
            "MusiCRS JSONL file."
        ) from None
    if not conversations:
        raise DatasetError(f"{source} holds no conversations.")
    seen: dict[str, int] = {}
    for conversation in conversations:
        if conversation.name in seen:
            raise DatasetError(
                f"{source} line {conversation.line_number}: name {conversation.name!r} "
                f"repeats line {seen[conversation.name]}."
            )
        seen[conversation.name] = conversation.line_number
    return conversations


def fetch_from_hub(dataset_id: str) -> Path:
    """Download the dataset's JSONL file from the Hugging Face Hub (the only network use of
    the data path); offline it fails within seconds, not after the hub client's retries."""
    try:
        socket.create_connection(HF_ENDPOINT, timeout=HF_PREFLIGHT_TIMEOUT_S).close()
        from huggingface_hub import HfApi, hf_hub_download

        files = HfApi().list_repo_files(dataset_id, repo_type="dataset")
        jsonl = sorted(f for f in files if f.endswith(".jsonl"))
        if not jsonl:
            raise DatasetError(f"The Hugging Face dataset {dataset_id} holds no .jsonl file.")
        return Path(hf_hub_download(dataset_id, jsonl[0], repo_type="dataset"))
    except DatasetError:
        raise
    except Exception as error:  # any hub/network failure becomes one sentence
        raise DatasetError(
            f"Could not fetch the Hugging Face dataset {dataset_id} ({type(error).__name__}; "
            "no network?): download musicrs.jsonl elsewhere and pass --data PATH."
        ) from None


def parse_line(text: str, line_number: int) -> Conversation:
    """Parse one JSONL line into a :class:`Conversation`, or raise :class:`DatasetError`."""
    where = f"line {line_number}"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{where} is not valid JSON ({error.msg}); is the file truncated?"
        ) from None
    if not isinstance(record, dict):
        raise DatasetError(f"{where} is not a JSON object.")

    def required(key: str, kind: type) -> object:
        if key not in record:
            raise DatasetError(f"{where}: field {key!r} is missing.")
        return checked(key, record[key], kind)

    def checked(key: str, value: object, kind: type) -> object:
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind):
            raise DatasetError(
                f"{where}: field {key!r} should be a {kind.__name__}, not {type(value).__name__}."
            )
        return value

    def string_list(key: str, *, needed: bool = False, non_empty: bool = False) -> tuple[str, ...]:
        value = required(key, list) if needed else checked(key, record.get(key, []), list)
        if not all(isinstance(item, str) for item in value):
            raise DatasetError(f"{where}: field {key!r} should be a list of strings.")
        if non_empty and not value:
            raise DatasetError(f"{where}: field {key!r} is empty.")
        return tuple(value)

    name = required("name", str)
    if not name.strip():
        raise DatasetError(f"{where}: field 'name' is empty.")
    return Conversation(
        name=name,
        source_subreddit=required("source_subreddit", str),
        query=required("query", str),
        final_candidates=string_list("final_candidates", needed=True, non_empty=True),
        limited_gt=string_list("limited_gt", needed=True),
        valid_urls=string_list("valid_urls"),
        combined_text=checked("combined_text", record.get("combined_text", ""), str),
        submission_entities=string_list("submission_entities"),
        comments=parse_comments(record.get("comments", []), where),
        ground_truth=string_list("ground_truth"),
        url=checked("url", record.get("url", ""), str),
        score=checked("score", record.get("score", 0.0), float),
        line_number=line_number,
    )


def parse_comments(raw: object, where: str) -> tuple[CommentEntities, ...]:
    if not isinstance(raw, list):
        raise DatasetError(f"{where}: field 'comments' should be a list.")
    comments = []
    for index, comment in enumerate(raw):
        entities = comment.get("entities") if isinstance(comment, dict) else None
        if not isinstance(entities, dict):
            raise DatasetError(f"{where}: comments[{index}] has no 'entities' object.")
        kinds = {}
        for kind in ("artists", "albums", "songs"):
            values = entities.get(kind) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise DatasetError(
                    f"{where}: comments[{index}].entities.{kind} is not a list of strings."
                )
            kinds[kind] = tuple(values)
        score = comment.get("score") or 0.0
        comments.append(
            CommentEntities(
                name=str(comment.get("name", "")),
                score=float(score) if isinstance(score, int | float) else 0.0,
                **kinds,
            )
        )
    return tuple(comments)
