"""``agent``: benchmark replay through the product's own agent and turn API.

Each thread becomes one turn of a fresh session: the ``query`` (text modes) is the user
message; the first clip (audio modes), the shuffled candidates and the community travel in
the turn's runtime context (never in the prompt), and the catalog tools read the
candidate-blind view of docs/evaluation.md (``vectorstore.views.leak_free_catalog``). The
agent must answer with the structured ``CandidateRanking`` (indices into the shown list);
the names are looked up from those indices, nothing is parsed from text. The session is
reset afterwards.

``rank_candidates`` scores the pool with the ``hybrid`` system's leak-free ranker (passed
as the turn's scorer), so the agent's number is hybrid's ranking reached through the agent
graph, tools and structured output; in the audio modes that includes hybrid's ``sound``
column (what the threads whose clips sound like the thread's own recommended).

Options (``--option KEY=VALUE``): ``brain=offline`` (default) or ``brain=env`` to use the
brain configured by the environment (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``);
``youtube=1`` lets a thread without a clip in ``--audio-dir`` use its first YouTube link
(downloaded once into the audio cache by the agent's ``fetch_youtube_audio`` tool; off by
default because each unreachable link costs a network timeout). Only the first clip of a
thread is described. In audio modes ``notes["audio_missing"]`` is true when no clip could
be described, which the runner reports.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence

from agent import Settings, build_agent
from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext, SystemChoiceError
from evals.systems.catalog_systems import HybridSystem
from vectorstore.musicrs import Conversation
from vectorstore.views import leak_free_catalog


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
        self.hybrid = HybridSystem(context)
        self.youtube = context.options.get("youtube", "0") == "1"

    def fit(self, conversations: Sequence[Conversation]) -> None:
        """Lets ``hybrid`` warm its name-vector cache in one batch; rankings are identical
        without it (no knowledge of other threads is used, see ``HybridSystem.fit``)."""
        self.hybrid.fit(conversations)

    def hybrid_scores(
        self, request: RankingRequest, query: str, candidates: Sequence[str]
    ) -> list[float]:
        """The ``hybrid`` system's ranking of ``candidates`` for ``query`` as scores (higher
        is better), so ``rank_candidates`` reproduces its order, ties included."""
        asked = dataclasses.replace(request, query=query, candidates=tuple(candidates))
        position = {name: i for i, name in enumerate(self.hybrid.rank(asked).ranking)}
        return [-float(position[name]) for name in candidates]

    def rank(self, request: RankingRequest) -> RankedList:
        session = f"replay:{request.name}"
        audio = str(request.audio_paths[0]) if request.audio_paths else None
        if audio is None and self.youtube and request.audio_urls:
            audio = request.audio_urls[0]  # fetched (or read from the download cache) by a tool
        catalog = leak_free_catalog(
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
                scorer=functools.partial(self.hybrid_scores, request),
            )
        finally:
            self.agent.reset(session)
        order = result.ranking or []
        notes: dict[str, object] = {
            "tools": dict(Counter(step.name for step in result.trace)),
            "brain": result.brain,
        }
        if not result.ok or result.ranking is None:
            notes["error"] = result.reply
        if request.mode != "query_only":
            # Missing means no clip was described, whether absent, unfetchable or unreadable.
            notes["audio_missing"] = result.audio_description is None
        if any(not step.ok for step in result.trace):
            notes["tool_errors"] = [step.error for step in result.trace if not step.ok]
        usage = {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
        }
        ranking = [request.candidates[i] for i in order if 0 <= i < len(request.candidates)]
        return RankedList(ranking, usage=usage, notes=notes)
