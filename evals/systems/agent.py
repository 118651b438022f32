"""``agent``: benchmark replay through the product's own agent and turn API.

Each thread becomes one turn of a fresh session: the ``query`` (text modes) and the first
clip (audio modes) go in as the user message, the shuffled candidates as the numbered
list, the community as context, and the catalog tools read the candidate-blind view of
DESIGN.md §5 (``vectorstore.views.leak_free_catalog``). The agent must answer with the
structured ``CandidateRanking`` (indices into the shown list); the names are looked up
from those indices, nothing is parsed from text. The session is reset afterwards.

Encoded candidate names are cached in ``<cache_dir>/agent-name-vectors.npz`` (a vector
depends only on its name), so a second run does not re-encode them.

Options (``--option KEY=VALUE``): ``brain=offline`` (default) or ``brain=env`` to use the
brain configured by the environment (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from agent import Settings, build_agent
from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext, SystemChoiceError
from tools.catalog import name_vectors

#: Encoded candidate names are saved after this many new ones (a cache, not a result).
SAVE_EVERY = 256


class AgentSystem(RankingSystem):
    name = "agent"
    description = "the chat agent replayed through its turn API (offline brain by default)"
    modes = frozenset({"query_only", "audio_only", "audio_query"})

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        settings = Settings.from_env()
        brain = context.options.get("brain", "offline")
        if brain == "offline":
            settings = dataclasses.replace(settings, provider="offline")
        elif brain != "env":
            raise SystemChoiceError(f"--option brain={brain!r}: use brain=offline or brain=env.")
        self.agent = build_agent(settings)
        try:
            from vectorstore.views import leak_free_catalog
        except ImportError as error:
            raise SystemChoiceError(
                f"The agent system needs the catalog package ({error}); build it first."
            ) from None
        self.leak_free_catalog = leak_free_catalog
        self.vector_cache = context.cache_dir / "agent-name-vectors.npz"
        name_vectors.load(self.vector_cache)

    def rank(self, request: RankingRequest) -> RankedList:
        session = f"replay:{request.name}"
        audio = str(request.audio_paths[0]) if request.audio_paths else None
        catalog = self.leak_free_catalog(
            request.name,
            request.candidates,
            data=self.context.data_path,
            cache_dir=self.context.cache_dir,
        )
        try:
            result = self.agent.run_turn(
                session,
                request.query or "",
                audio,
                candidates=request.candidates,
                community=request.subreddit,
                catalog=catalog,
            )
        finally:
            self.agent.reset(session)
        if name_vectors.unsaved >= SAVE_EVERY:
            name_vectors.save(self.vector_cache)
        order = result.ranking or []
        notes: dict[str, object] = {
            "tools": dict(Counter(step.name for step in result.trace)),
            "brain": result.brain,
        }
        if not result.ok or result.ranking is None:
            notes["error"] = result.reply
        if any(not step.ok for step in result.trace):
            notes["tool_errors"] = [step.error for step in result.trace if not step.ok]
        usage = {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
        }
        ranking = [request.candidates[i] for i in order if 0 <= i < len(request.candidates)]
        return RankedList(ranking, usage=usage, notes=notes)
