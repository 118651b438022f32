"""The registry of ranking systems and the one small interface they share.

A system receives a :class:`RankingRequest` — the thread id, its community, the inputs of
its mode (the ``query`` in text modes, the audio in audio modes) and the candidate pool in
a seeded shuffled order — and returns every candidate in its preferred order. It never
receives comments or gold: the leak-free rule (docs/evaluation.md) is enforced by what the
request carries. A system that needs the whole dataset (the paper's popularity baseline
counts candidate pools) gets it in :meth:`RankingSystem.fit` and must say so in
``uses_dataset``.

Adding a system: write a subclass, then add one line to ``_REGISTRY`` (``name`` →
``"module:Class"``). Modules are imported only when chosen, so ``random`` never loads torch.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from vectorstore.musicrs import Conversation

Mode = Literal["query_only", "audio_only", "audio_query"]
MODES: tuple[Mode, ...] = ("query_only", "audio_only", "audio_query")
TEXT_MODES: frozenset[Mode] = frozenset({"query_only", "audio_query"})
AUDIO_MODES: frozenset[Mode] = frozenset({"audio_only", "audio_query"})


class SystemChoiceError(ValueError):
    """A system or mode cannot be used as asked; the message says what to choose instead."""


@dataclass(frozen=True)
class RunContext:
    """Run-wide options every system may read."""

    seed: int = 42
    data_path: str | None = None
    audio_dir: Path | None = None
    cache_dir: Path = Path(".cache")
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RankingRequest:
    """What a system may see when it ranks one thread (the leak-free rule, docs/evaluation.md)."""

    name: str
    subreddit: str
    mode: Mode
    candidates: tuple[str, ...]
    query: str | None = None
    audio_urls: tuple[str, ...] = ()
    audio_paths: tuple[Path, ...] = ()


@dataclass
class RankedList:
    """A system's answer: candidates best first, and what the answer cost."""

    ranking: list[str]
    usage: dict[str, int] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


class RankingSystem(ABC):
    """Ranks a thread's candidate pool. Subclasses set the class attributes below."""

    name: ClassVar[str]
    description: ClassVar[str]
    modes: ClassVar[frozenset[Mode]] = frozenset({"query_only"})
    #: True when :meth:`fit` reads other threads (reports say so beside the score).
    uses_dataset: ClassVar[bool] = False
    #: True when :meth:`rank` may be called from several threads at once (``--concurrency``).
    thread_safe: ClassVar[bool] = False

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def fit(self, conversations: Sequence[Conversation]) -> None:  # noqa: B027 - optional hook
        """See the whole dataset once before ranking; the default ignores it."""

    @abstractmethod
    def rank(self, request: RankingRequest) -> RankedList:
        """Return the candidates of ``request`` in ranked order."""


_REGISTRY: dict[str, str] = {
    "random": "evals.systems.baselines:RandomSystem",
    "popularity": "evals.systems.baselines:PopularitySystem",
    "lexical": "evals.systems.baselines:LexicalSystem",
    "minilm": "evals.systems.catalog_systems:MiniLMSystem",
    "nbcrs": "evals.systems.catalog_systems:NbcrsSystem",
    "hybrid": "evals.systems.catalog_systems:HybridSystem",
    "agent": "evals.systems.agent:AgentSystem",
    "llm-direct": "evals.systems.llm_direct:LLMDirectSystem",
    "clap": "evals.systems.clap:ClapSystem",
    "learned": "evals.systems.learned:LearnedSystem",
}


def system_names() -> list[str]:
    return sorted(_REGISTRY)


def system_class(name: str) -> type[RankingSystem]:
    """The class registered as ``name``, imported on demand."""
    if name not in _REGISTRY:
        raise SystemChoiceError(
            f"Unknown system {name!r}; choose one of: {', '.join(system_names())}."
        )
    module_name, class_name = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def check_mode(cls: type[RankingSystem], mode: str) -> Mode:
    """Refuse a mode the system cannot serve, rather than pretending."""
    if mode not in MODES:
        raise SystemChoiceError(f"Unknown mode {mode!r}; choose one of: {', '.join(MODES)}.")
    if mode not in cls.modes:
        served = ", ".join(sorted(cls.modes))
        raise SystemChoiceError(
            f"System {cls.name!r} cannot serve mode {mode!r} ({cls.description}); "
            f"it serves: {served}."
        )
    return mode  # type: ignore[return-value]


def create_system(name: str, mode: str, context: RunContext) -> RankingSystem:
    """Instantiate a registered system after checking it can serve ``mode``."""
    cls = system_class(name)
    check_mode(cls, mode)
    return cls(context)
