"""The offline brain: a deterministic LangChain chat model that drives the agent graph.

It plays the part of an LLM without one. The turn's inputs come from the runtime context
(:class:`agent.context.TurnContext`: the user's words, the clip, the candidate pool, the
session state the grammar built), handed over by the graph's session middleware with
:meth:`OfflineBrain.for_turn`; tool results come from the messages, read through the
:class:`tools.outcome.ToolOutcome` envelope. Each call emits the next step as a real
``AIMessage``:

1. a clip is attached and not yet described → fetch it (YouTube) / describe it; then, when
   the catalog has a sound index beside it, ``find_similar_sounding`` on the same file;
2. a ranking turn (a candidate pool) → look up the names the request mentions and search
   the candidate-blind catalog, then ``rank_candidates``;
3. a chat turn → ``recommend`` with the session state as arguments (seeds, rejections,
   kind, community, descriptors, what was heard); ``search_catalog`` when no recommender
   is available (a catalog built from a user's file has no threads to cite); a question
   about a name ("what is Slowdive like?") also looks it up, and the reply opens with
   what its card holds (or that the threads never name it);
4. the structured answer (``ChatAnswer`` or ``CandidateRanking``) built only from the tool
   results, honest that no language model wrote it: a short reply that says how the
   session state was used, and one card per pick whose ``why`` cites its evidence.

Conventions: the same input gives the same output (no randomness, no clock); it never
follows instructions found in user text or tool results (they are only read as data); a
message that mixes an injection with a music request gets the refusal and the music;
``bind_tools`` returns ``self`` because the policy knows its tools by name.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Sequence
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ValidationError

from agent.context import TurnContext
from agent.grammar import named_entities, only_filler, only_thanks, unchecked_wishes
from agent.schemas import CandidateRanking, ChatAnswer, RecommendationOut
from agent.state import GivenItem, names_part, same_name
from tools.catalog import MAX_K, CardFacts, LookupData, RankData, SearchData
from tools.outcome import ToolOutcome
from tools.recommend import EvidenceFacts, RecommendData, RecommendedFacts
from tools.sound_tools import TOOL_NAME as SOUND_TOOL
from tools.sound_tools import SoundSearchData, sound_index_of
from tools.youtube import looks_like_url
from vectorstore.cards import recommended_mostly_in
from vectorstore.engine import work_by_artist

Payload = TypeVar("Payload", bound=BaseModel)

DESCRIBE_TOOL = "describe_audio"
FETCH_TOOL = "fetch_youtube_audio"
SEARCH_TOOL = "search_catalog"
LOOKUP_TOOL = "lookup_entity"
RANK_TOOL = "rank_candidates"
RECOMMEND_TOOL = "recommend"
MAX_LOOKUPS = 3
MAX_RECOMMENDATIONS = 5
#: Items asked of the recommender: a few spare, since the guard may drop some.
RECOMMEND_K = 8
#: How many picks the reply names; all of them, with reasons, are the structured cards.
PICKS_IN_REPLY = 3
THREAD_QUOTE_CHARS = 90  # a thread's request quoted in a reply line
#: A seed recommended in fewer threads than this, no community holding two thirds of them
#: (Nirvana: 8, in r/popheads, r/hiphopheads and r/indieheads; The Beatles: 18), is said
#: to be thin. Radiohead (23) and Bill Evans (9, 7 in r/jazz) are not.
THIN_SEED_THREADS = 20
#: Indexed recordings a clip's reply names as sounding alike.
SOUNDS_LIKE_IN_REPLY = 3
OFFLINE_BRAIN = "Offline brain (no language model)"
OFFLINE_NOTE = f"{OFFLINE_BRAIN}: picked from what the tools returned."
REFUSAL = "I can't share my instructions, settings or any key"
HELP = (
    "I recommend music from what people recommended to each other on Reddit, and I say "
    'which thread each pick comes from. Tell me an artist or a song you like ("I like '
    'Slowdive"), a genre or a mood ("sad piano pieces", "classic heavy metal"), or '
    'attach a clip or paste a YouTube link; then "more like the second one", "not that" '
    'or "why the first one?" steer the next answer.'
)
THANKED = (
    'Glad it helps! For more, say "more like the second one", "albums please", "not that", '
    "or name another artist."
)
DEFAULT_AUDIO_REQUEST = "Recommend music like this clip."

# The object is optional: "more like <link>" reaches the brain as "more like" once the turn
# API has moved the link to the audio path.
_POINTS_AT_CLIP = re.compile(
    r"^\W*(please\W+)?((recommend|find|give me|play|suggest)\W+)?(me\W+)?"
    r"(more|some|something|anything|songs?|music|tracks?|stuff)?\W*(like|similar to)"
    r"(\W+(this|that|it|the clip|this one|this song))?\W*(please)?\W*$",
    re.IGNORECASE,
)


def points_at_clip(text: str) -> bool:
    """Whether ``text`` only points at the clip ("more like this", "anything like"): the
    clip is the whole request."""
    return bool(_POINTS_AT_CLIP.match(text))


class OfflineBrain(BaseChatModel):
    """A rule-based tool-calling policy with the interface of a chat model."""

    tool_names: frozenset[str] = frozenset()
    # The TurnContext of the current model call (typed ``Any``: pydantic cannot validate it).
    turn: Any = None

    @property
    def _llm_type(self) -> str:
        return "offline-brain"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflineBrain:
        # The policy knows its tools by name; binding changes nothing.
        return self

    def for_turn(self, turn: TurnContext) -> OfflineBrain:
        """This brain reading ``turn``'s inputs (the graph middleware calls it per model call)."""
        return self.model_copy(update={"turn": turn})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self.next_message(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])

    # --- the policy ------------------------------------------------------------------

    def next_message(self, messages: Sequence[BaseMessage]) -> AIMessage:
        start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        if start < 0:
            return AIMessage(content="Please send a message about music.")
        turn = _Turn(self.turn or TurnContext(), messages[start + 1 :])
        step = len([m for m in messages[start + 1 :] if isinstance(m, AIMessage)])
        calls = self._plan(turn)
        if calls:
            return AIMessage(
                content="",
                tool_calls=[
                    {"name": name, "args": args, "id": f"offline-{step}-{i}", "type": "tool_call"}
                    for i, (name, args) in enumerate(calls)
                ],
            )
        answer = self._ranking(turn) if turn.context.candidates else self._chat_answer(turn)
        return AIMessage(
            content="",
            tool_calls=[
                {
                    "name": type(answer).__name__,
                    "args": answer.model_dump(),
                    "id": f"offline-{step}-answer",
                    "type": "tool_call",
                }
            ],
        )

    def _has(self, name: str) -> bool:
        return not self.tool_names or name in self.tool_names

    def _plan(self, turn: _Turn) -> list[tuple[str, dict[str, Any]]]:
        audio = turn.context.audio
        if audio and self._has(DESCRIBE_TOOL) and not turn.ran(DESCRIBE_TOOL):
            # The turn API lets through only a single-video YouTube link or an existing file.
            is_link = looks_like_url(audio)
            if is_link and not turn.ran(FETCH_TOOL):
                if self._has(FETCH_TOOL):
                    return [(FETCH_TOOL, {"url": audio})]
            else:
                path = turn.fetched_path() if is_link else audio
                if path:
                    return [(DESCRIBE_TOOL, {"path": path})]
        if self._wants_sound_search(turn):
            return [(SOUND_TOOL, {"path": turn.clip_path(), "k": SOUNDS_LIKE_IN_REPLY})]
        if turn.context.candidates:
            return self._plan_ranking(turn)
        retry = turn.retry_unresolved()
        if retry:
            return [(RECOMMEND_TOOL, retry)]
        if (
            turn.session.more_by_seed_artists
            and turn.ran(RECOMMEND_TOOL)
            and not turn.ran(SEARCH_TOOL)
            and self._has(SEARCH_TOOL)
        ):
            # "more by X": the recommender found the company X keeps; the catalog's artist
            # filter, by the name the recommender resolved ("Beatles" → "The Beatles"),
            # finds X's own works, which come first.
            artist = turn.seed_artist
            search = {"query": artist, "k": MAX_K, "artist": artist}
            if turn.session.kind:
                search["kind"] = turn.session.kind
            return [(SEARCH_TOOL, search)]
        if (
            turn.ran(RECOMMEND_TOOL)
            or turn.ran(SEARCH_TOOL)
            or turn.injection_only
            or turn.nothing_asked
            or turn.thanked
        ):
            return []
        # "what is Slowdive like?": its card first, then picks as for "I like Slowdive".
        about = [(LOOKUP_TOOL, {"name": _work_of(name), "k": 3}) for name in turn.asks_about]
        about = about if self._has(LOOKUP_TOOL) else []
        if turn.session.explained:
            # "why the second one?" is answered from what the session kept; "tell me about
            # the second one" also from its card.
            return [] if turn.ran(LOOKUP_TOOL) else about
        if turn.context.engine is not None and self._has(RECOMMEND_TOOL):
            args = turn.recommend_args()
            return about + ([(RECOMMEND_TOOL, args)] if args else [])
        query = turn.search_query()
        return about + ([(SEARCH_TOOL, {"query": query, "k": RECOMMEND_K})] if query else [])

    def _wants_sound_search(self, turn: _Turn) -> bool:
        """A chat turn's clip, not yet matched, with a sound index beside the catalog (a
        ranking turn's candidate-blind view has none)."""
        return (
            not turn.context.candidates
            and turn.clip_path() is not None
            and turn.audio_error() is None
            and self._has(SOUND_TOOL)
            and not turn.ran(SOUND_TOOL)
            and sound_index_of(turn.context.catalog) is not None
        )

    def _plan_ranking(self, turn: _Turn) -> list[tuple[str, dict[str, Any]]]:
        if not turn.ran(SEARCH_TOOL) and not turn.ran(LOOKUP_TOOL):
            calls: list[tuple[str, dict[str, Any]]] = []
            if self._has(LOOKUP_TOOL):
                names = named_entities(turn.words(), MAX_LOOKUPS)
                calls += [(LOOKUP_TOOL, {"name": n}) for n in names]
            query = turn.search_query()
            if query and self._has(SEARCH_TOOL):
                args: dict[str, Any] = {"query": query, "k": 8}
                if turn.context.community:
                    args["community"] = turn.context.community
                calls.append((SEARCH_TOOL, args))
            if calls:
                return calls
        if not turn.ran(RANK_TOOL) and self._has(RANK_TOOL):
            return [(RANK_TOOL, {"query": turn.search_query() or "music"})]
        return []

    def _ranking(self, turn: _Turn) -> CandidateRanking:
        n = len(turn.context.candidates)
        ranked = turn.data(RANK_TOOL, RankData)
        order = [i for i in (ranked[0].order if ranked else []) if 0 <= i < n]
        order = list(dict.fromkeys(order)) + [i for i in range(n) if i not in set(order)]
        how = (
            "ordered by rank_candidates"
            if ranked
            else "kept in the given order (rank_candidates gave no result)"
        )
        return CandidateRanking(order=order, reply=f"{OFFLINE_NOTE} Candidates {how}.")

    def _chat_answer(self, turn: _Turn) -> ChatAnswer:
        lines = [OFFLINE_NOTE]
        if turn.session.injection:
            lines.append(
                f"{REFUSAL}, but I'm glad to recommend music"
                + (": here is what fits the music part of your message." if turn.music else
                   ": name an artist, describe a mood, or attach a clip.")
            )  # fmt: skip
            if turn.injection_only:
                return ChatAnswer(reply="\n".join(lines))
        if turn.session.explained:
            who = turn.session.asks_who
            lines += turn.about_lines()
            lines += [_explanation(item, who) for item in turn.session.explained]
            return ChatAnswer(reply="\n".join(lines))
        # Nothing was picked for these two: the note says only which brain answers.
        if turn.thanked:
            return ChatAnswer(reply=f"{OFFLINE_BRAIN}.\n{THANKED}")
        if turn.nothing_asked:
            greeted = re.match(r"\W*(?:hi|hey|hello|yo|hiya|howdy)\b", turn.music, re.IGNORECASE)
            return ChatAnswer(reply=f"{OFFLINE_BRAIN}.\n" + ("Hi! " if greeted else "") + HELP)
        heard = turn.heard_summary()
        if heard:
            lines.append(f"What I heard in your clip: {heard}")
        elif turn.context.audio:
            lines.append(f"I could not use your clip: {turn.audio_error() or 'no description'}")
        alike = turn.sounds_like()
        if alike:
            lines.append(alike)
        lines += turn.about_lines()
        used = turn.state_line()
        if used:
            lines.append(used)
        recommendations = turn.recommendations()
        if recommendations:
            top = [
                p.name + (f" by {p.artist}" if p.artist else "")
                for p in recommendations[:PICKS_IN_REPLY]
            ]
            more = len(recommendations) - len(top)
            lines.append("Top picks: " + ", ".join(top) + (f" and {more} more." if more else "."))
            notes = [turn.credited_to_seed(recommendations), turn.one_thread(recommendations)]
            notes = [note for note in notes if note] or [turn.thin_seed()]
            lines += [note for note in notes if note]
            return ChatAnswer(reply="\n".join(lines), recommendations=recommendations)
        failure = turn.error_of(RECOMMEND_TOOL) or turn.error_of(SEARCH_TOOL)
        if failure:
            lines.append(f"The recommender failed ({failure}), so I have nothing I can justify.")
        else:
            lines.append(
                "The catalog gave nothing I can justify recommending; try naming an artist, "
                "a genre or a mood."
            )
        return ChatAnswer(reply="\n".join(lines))


class _Turn:
    """What the brain knows about the current turn: its context and the tool results."""

    def __init__(self, context: TurnContext, after: Sequence[BaseMessage]) -> None:
        self.context = context
        self.session = context.session
        # A ranking turn's query goes to rank_candidates as given (the benchmark's words);
        # a chat turn's words are the grammar's music part (without an injection).
        self.music = (context.text if context.candidates else context.message.music).strip()
        self.injection_only = self.session.injection and not self.music
        # "hey", "what can you do?", "recommend me something" with nothing said before:
        # picks from nothing would be noise, so the answer says what it can go on.
        state = self.session
        # A chat message in words only (no candidates to rank, no clip, no injection, whose
        # refusal must be said): the only kind the two answers below are for.
        words_only = not (context.candidates or context.audio or state.injection)
        self.nothing_asked = (
            words_only
            and only_filler(self.music)
            and not (state.seeds or state.topic or state.descriptors or state.community)
            and not (state.kind or state.referenced or state.feedback or state.heard)
        )
        # "thanks!" after picks: no new picks unless asked.
        self.thanked = (
            words_only
            and bool(state.given)
            and not (state.referenced or state.feedback)
            and only_thanks(self.music)
        )
        # tool name -> outcomes in call order
        self.outcomes: dict[str, list[ToolOutcome]] = {}
        for message in after:
            if isinstance(message, ToolMessage):
                outcome = ToolOutcome.read(message.content) or ToolOutcome.failure(
                    "the tool gave no readable result"
                )
                self.outcomes.setdefault(message.name or "", []).append(outcome)

    def ran(self, name: str) -> bool:
        return name in self.outcomes

    @property
    def asks_about(self) -> tuple[str, ...]:
        """The names a chat message asks about ("what is Slowdive like?", or the picks of
        "tell me about the first one")."""
        message = self.context.message
        if self.context.candidates:
            return ()
        if message.asks_about_pick:
            return tuple(item.name for item in self.session.explained)[:MAX_LOOKUPS]
        return message.asks_about[:MAX_LOOKUPS]

    def about_lines(self) -> list[str]:
        """What the threads say of each name asked about, or that they never name it."""
        if not self.ran(LOOKUP_TOOL):
            return []
        matches = [m for found in self.data(LOOKUP_TOOL, LookupData) for m in found.matches]
        lines = []
        for name in self.asks_about:
            card = next((m for m in matches if same_name(m.name, _work_of(name))), None)
            unknown = f"The threads never name {name}, so I can't say what it is."
            lines.append(about_sentence(card) if card else unknown)
        return lines

    def data(self, name: str, model: type[Payload]) -> list[Payload]:
        """The successful payloads of tool ``name``, validated as ``model``."""
        payloads = []
        for outcome in self.outcomes.get(name, []):
            if outcome.ok:
                try:
                    payloads.append(model.model_validate(outcome.data))
                except ValidationError:
                    continue
        return payloads

    def error_of(self, name: str) -> str | None:
        errors = [o.error for o in self.outcomes.get(name, []) if not o.ok and o.error]
        return errors[0][:200] if errors else None

    def fetched_path(self) -> str | None:
        for outcome in self.outcomes.get(FETCH_TOOL, []):
            if outcome.ok and isinstance(outcome.data, dict):
                path = outcome.data.get("path")
                if isinstance(path, str) and path.strip():
                    return path.strip()
        return None

    def clip_path(self) -> str | None:
        """The local file of this turn's clip (a link's once fetched), else None."""
        audio = self.context.audio
        if not audio:
            return None
        return self.fetched_path() if looks_like_url(audio) else audio

    def sounds_like(self) -> str | None:
        """The sentence naming the indexed recordings the clip sounds like, and why."""
        error = self.error_of(SOUND_TOOL)
        found = self.data(SOUND_TOOL, SoundSearchData)
        if not found:
            return f"I could not match your clip by sound: {error}" if error else None
        hits = found[-1].hits[:SOUNDS_LIKE_IN_REPLY]
        if not hits:
            return None
        named = "; ".join(
            f"{h.name}" + (f" by {h.artist}" if h.artist else "") + f" ({h.why})" for h in hits
        )
        return f"In your indexed music it sounds most like: {named}."

    def audio_error(self) -> str | None:
        return self.error_of(DESCRIBE_TOOL) or self.error_of(FETCH_TOOL)

    def _description(self) -> dict[str, Any] | None:
        for outcome in self.outcomes.get(DESCRIBE_TOOL, []):
            if outcome.ok and isinstance(outcome.data, dict):
                return outcome.data
        return None

    def heard_summary(self) -> str | None:
        description = self._description() or {}
        summary = description.get("summary")
        return summary.strip()[:400] if isinstance(summary, str) and summary.strip() else None

    def heard_tags(self, limit: int = 6) -> list[str]:
        """Tags of this turn's clip, else of the session's latest clip."""
        description = self._description()
        if description is None:
            return list(self.session.heard_tags()[:limit])
        tags = [t.get("name") for t in description.get("tags") or [] if isinstance(t, dict)]
        return [t for t in tags if isinstance(t, str)][:limit]

    def words(self) -> str:
        """The user's request; empty when it only points at the clip ("more like this")."""
        text = self.music
        return "" if self.context.audio and points_at_clip(text) else text

    def search_query(self) -> str:
        return " ".join(p for p in (self.words(), " ".join(self.heard_tags())) if p).strip()

    def recommend_args(self) -> dict[str, Any]:
        """The ``recommend`` call the session state asks for (empty: nothing to go on)."""
        state = self.session
        tags = self.heard_tags()
        text = state.request_text()
        if _only_names(state.topic, (*state.seeds, *([state.style] if state.style else []))):
            # "I like Björk", "some shoegaze": the seed (or the style's names) says it all;
            # the word as text would only match requests that happen to share it.
            text = " ".join(state.descriptors)
        if not (text or state.seeds or tags or state.referenced) and self.words():
            text = self.words()  # a first message the grammar only half read
        args: dict[str, Any] = {"text": text, "k": RECOMMEND_K}
        if state.seeds:
            args["seeds"] = list(state.seeds)
        if tags:
            args["heard_tags"] = tags
        if state.rejected:
            args["exclude_artists"] = list(state.rejected)
        if state.kind:
            args["kind"] = state.kind
        if state.community:
            args["community"] = state.community
        if state.style_examples():
            args["examples"] = list(state.style_examples())
        if state.refused_communities:
            args["exclude_communities"] = list(state.refused_communities)
        if state.more_by_seed_artists:
            args["more_by_seed_artists"] = True
        clip = self.clip_path()
        if clip and getattr(self.context.engine, "sound", None) is not None:
            args["clip"] = clip  # the engine hears it beside the words
        if not (text or state.seeds or tags or state.community or "clip" in args):
            return {}
        return args

    @functools.cached_property
    def recommend_results(self) -> list[RecommendData]:
        """The ``recommend`` calls' results, validated once (a reply's lines each read them;
        a turn's tool results are fixed when it is built)."""
        return self.data(RECOMMEND_TOOL, RecommendData)

    @functools.cached_property
    def seed_cards(self) -> list[CardFacts]:
        """The seeds as the first ``recommend`` call resolved them (none before it ran)."""
        return self.recommend_results[0].seeds if self.recommend_results else []

    @functools.cached_property
    def seed_artist(self) -> str:
        """The first seed as the catalog names it ("The Beatles" for "beatles"), or as typed
        when the recommender did not know it (read once: the card filters ask per card)."""
        known = self.seed_cards
        return known[0].name if known else self.session.seeds[0]

    def unknown_seeds(self) -> tuple[str, ...]:
        """The seeds the catalog does not know (the first ``recommend`` call's unresolved)."""
        found = self.recommend_results
        return tuple(found[0].unresolved) if found else ()

    def retry_unresolved(self) -> dict[str, Any]:
        """A second ``recommend`` when the catalog knew none of the seeds and the request
        says more than their names ("I like Qwzx Trio, something dreamy"): the words go in
        alone. Names alone would find requests that only look alike: noise, not picks."""
        found = self.recommend_results
        if len(found) != 1 or not self.session.seeds:
            return {}
        unknown, topic = found[0].unresolved, self.session.topic
        if len(unknown) < len(self.session.seeds) or not topic or _only_names(topic, unknown):
            return {}
        args = {k: v for k, v in self.recommend_args().items() if k != "seeds"}
        args["text"] = self.session.request_text()
        return args

    def state_line(self) -> str:
        """One sentence saying how the conversation so far shaped this answer."""
        state = self.session
        liked, disliked = state.feedback_of("like"), state.feedback_of("dislike")
        parts = []
        if disliked:
            parts.append("leaving out " + ", ".join(i.label for i in disliked) + ", as you asked")
        if liked:
            seed = "a seed" if len(liked) == 1 else "seeds"
            parts.append("using " + ", ".join(i.label for i in liked) + f" as {seed}")
        unknown = self.unknown_seeds()
        # "I like the beatles", "I love Chopin": said as the catalog spells it, "The Beatles",
        # "Frédéric Chopin".
        spelt = {
            s: c.name
            for s in state.seeds
            for c in self.seed_cards
            if any(same_name(s, name) for name in (c.name, *c.aliases))
        }
        seeds = [
            spelt.get(s, s)
            for s in state.seeds
            if not any(same_name(s, i.name) for i in liked) and s not in unknown
        ]
        if state.artist_unknown:
            names = ", ".join(i.name for i in state.artist_unknown)
            parts.append(f"nobody in the threads said who made {names}, so here is more like it")
        elif state.referenced and state.more_by_seed_artists:
            by = zip(state.seeds, state.referenced, strict=False)
            parts.append("more by " + ", ".join(f"{seed} (#{i.position})" for seed, i in by))
        elif state.referenced:
            parts.append("more like " + ", ".join(f"#{i.position} ({i.label})"
                                                   for i in state.referenced))  # fmt: skip
        elif seeds:
            if state.more_by_seed_artists:
                parts.append("more by " + ", ".join(seeds))
            else:
                parts.append("going by " + ", ".join(seeds))
        unsaid = [name for name in unknown if name not in self.asks_about]  # said above
        if unsaid:
            parts.append("the threads never name " + " or ".join(unsaid))
        if state.unresolved_references:
            nums = ", ".join(f"#{n}" for n in state.unresolved_references)
            size = len(state.last_list)
            parts.append(f"there is no {nums} (the last list had {size})")
        # "I already know Bill Evans", "not Radiohead, other bands": a taste to go by,
        # without that artist's own records.
        known = [r for r in state.rejected if any(same_name(r, seed) for seed in state.seeds)]
        refused = [r for r in state.rejected if r not in known]
        if refused:
            parts.append("leaving out " + ", ".join(refused) + " as you asked")
        # An artist known is a taste without its records; a record known is only left out.
        artists = [c.name for c in self.seed_cards if c.kind == "artist"]
        known_artists = [k for k in known if any(same_name(k, a) for a in artists)]
        if known_artists:
            parts.append("but none of " + ", ".join(f"{k}'s own music" for k in known_artists))
        known_works = [k for k in known if k not in known_artists]
        if known_works:
            parts.append("leaving out " + ", ".join(known_works) + ", which you know")
        if state.kind:
            parts.append(f"{state.kind}s only")
        if state.descriptors:
            parts.append(", ".join(state.descriptors))
        if state.style_examples():
            *most, last = state.style_examples()
            parts.append(
                f"{state.style}, as in " + (f"{', '.join(most)} and " if most else "") + last
            )
        if state.surprise and state.community:
            parts.append(f"a surprise: what r/{state.community} recommends most")
        elif state.community:
            parts.append(f"from r/{state.community}")
        if state.refused_communities:
            refused = " or ".join(f"r/{c}" for c in state.refused_communities)
            parts.append(f"nothing recommended mostly in {refused}")
        if state.given:
            parts.append("nothing I already suggested")
        unchecked = unchecked_wishes(self.words())
        caveat = (
            f" I can't check {' or '.join(unchecked)} from what people recommended, so "
            "that part of your request is not checked."
            if unchecked
            else ""
        )
        caveat += "".join(
            f" Say “not {artist}” to leave out everything by {artist} too."
            for artist in dict.fromkeys(_artist_to_offer(i) for i in disliked)
            if artist and not state.is_rejected(artist)
        )
        if not parts:
            return caveat.strip()
        sentence = "; ".join(parts)
        return full_stop(sentence[0].upper() + sentence[1:]) + caveat

    def credited_to_seed(self, picks: Sequence[RecommendationOut]) -> str:
        """For "more by X": how many picks the threads credit to X, when not all of them
        are (the rest is what X's fans were recommended, not X's own)."""
        state = self.session
        if not (state.more_by_seed_artists and state.seeds and picks):
            return ""
        artist = self.seed_artist
        # "Miles" is Miles Davis here: the name the user asked by may be part of the credit.
        own = sum(bool(p.artist and names_part(p.artist, artist)) for p in picks)
        if own == len(picks):
            return ""
        if not own:
            return (
                f"The threads credit no record to {artist}; "
                "these are what their fans were recommended."
            )
        records = "record" if own == 1 else "records"
        return (
            f"The threads credit {own} {records} to {artist}; "
            "the rest is what their fans were recommended."
        )

    def thin_seed(self) -> str:
        """When the one seed gone by is recommended in few threads spread over communities:
        where, so the user knows how little the picks lean on (a Nirvana fan given pop
        picks sees that its threads are mostly r/popheads')."""
        state = self.session
        seeds = self.seed_cards
        if state.more_by_seed_artists or state.referenced or len(seeds) != 1:
            return ""
        where = sorted(seeds[0].threads_in.items(), key=lambda item: -item[1])
        total = sum(count for _, count in where)
        if not total or total >= THIN_SEED_THREADS or where[0][1] * 3 >= total * 2:
            return ""
        listed = ", ".join(f"r/{community} {count}" for community, count in where[:3])
        threads = "thread" if total == 1 else "threads"
        return (
            f"{seeds[0].name} is recommended in only {total} {threads} here ({listed}): "
            "these picks lean on those few conversations."
        )

    def one_thread(self, picks: Sequence[RecommendationOut]) -> str:
        """When the picks a reply names all come from one thread (a seed the threads name
        once, say): that thread, so the user weighs them as one conversation's opinion."""
        shown = picks[:PICKS_IN_REPLY]
        urls = {p.thread_url for p in shown}
        if len(shown) < 2 or len(urls) != 1 or self.session.more_by_seed_artists:
            return ""  # (an artist's own records are picked for being theirs)
        evidence = next(
            (
                e
                for found in self.recommend_results
                for item in found.items
                for e in item.evidence
                if e.thread_url and e.thread_url in urls
            ),
            None,
        )
        if evidence is None or not evidence.request:
            return ""
        if len({p.thread_url for p in picks}) == 1:
            every = "Both" if len(picks) == 2 else f"All {len(picks)}"
        else:
            every = f"The top {len(shown)}"
        request = textwrap.shorten(evidence.request, THREAD_QUOTE_CHARS, placeholder="…")
        return (
            f"{every} picks come from one r/{evidence.community} thread (“{request}”), so weigh "
            "them as one conversation's opinion."
        )

    def recommendations(self) -> list[RecommendationOut]:
        hits = [h for data in self.data(SEARCH_TOOL, SearchData) for h in data.hits]
        hits = [h for h in hits if not self._excluded(h)]
        if self.session.more_by_seed_artists:
            # "more by Bach": his most recommended works first, not those named "Bach …".
            hits.sort(key=lambda h: -h.mentions)
        picks = [self._from_search(h, hits) for h in hits]
        found = self.recommend_results
        if found:
            items = [i for i in found[-1].items if not self._excluded(i)]
            picks += [self._from_engine(i, rank) for rank, i in enumerate(items, 1)]
        unique = {p.entity_id: p for p in reversed(picks)}  # first occurrence wins
        return [p for p in picks if unique.get(p.entity_id) is p][:MAX_RECOMMENDATIONS]

    def _excluded(self, card: CardFacts) -> bool:
        state = self.session
        return (
            state.is_rejected(card.name, card.artists, card.kind)
            or state.was_given(card.name, card.id)
            or recommended_mostly_in(card.threads_in, state.refused_communities)
            or (not state.more_by_seed_artists and any(
                s.lower() in (a.lower() for a in [card.name, *card.artists]) for s in state.seeds
            ))
            # "more by Tom Waits" asks for his works, not for Tom Waits again (nor Miles Davis
            # for "more by Miles").
            or (state.more_by_seed_artists and any(
                same_name(s, card.name) for s in (*state.seeds, self.seed_artist)
            ))
        )  # fmt: skip

    def _heard_clause(self) -> str:
        tags = self.heard_tags(limit=3)
        return f" It fits what I heard in your clip ({', '.join(tags)})." if tags else ""

    def _from_engine(self, item: RecommendedFacts, rank: int) -> RecommendationOut:
        # A style's example may also be "recommended beside" itself: no reason to say so.
        evidence = [e for e in item.evidence if not same_name(e.seed or "", item.name)]
        evidence = evidence or item.evidence
        return RecommendationOut(
            name=item.name,
            artist=_artist_of(item),
            why=(evidence_sentence(evidence) if evidence else "Ranked by the recommender.")
            + self._heard_clause(),
            youtube_url=item.youtube_urls[0] if item.youtube_urls else None,
            confidence=round(0.9 / (1 + 0.15 * (rank - 1)), 2),
            entity_id=item.id,
            thread_url=next((e.thread_url for e in item.evidence if e.thread_url), None),
        )

    def _from_search(self, hit: CardFacts, hits: Sequence[CardFacts]) -> RecommendationOut:
        top = max((h.score or 0.0 for h in hits), default=0.0) or 1.0
        thread = hit.best_thread
        if thread is None:  # a catalog without threads (a user's file): the match is the reason
            communities = ", r/".join(hit.communities[:2])
            where = f", discussed in r/{communities}" if communities else ""
            why = f"A catalog match for “{self.search_query()[:60]}”{where}."
        else:
            times = f"{hit.mentions} times" if hit.mentions > 1 else "once"
            why = f"Recommended {times} in the catalog's threads, best in r/{thread.community}"
            why += f" — top reply +{thread.votes}." if thread.votes else "."
        if self.session.more_by_seed_artists and self.session.seeds:
            why = f"By {_artist_of(hit) or self.seed_artist}. {why}"
        return RecommendationOut(
            name=hit.name,
            artist=_artist_of(hit),
            why=why + self._heard_clause(),
            youtube_url=hit.youtube_urls[0] if hit.youtube_urls else None,
            confidence=round(0.9 * min(max((hit.score or 0.0) / top, 0.0), 1.0), 2),
            entity_id=hit.id,
            thread_url=thread.url if thread else None,
        )


def _explanation(item: GivenItem, who: bool = False) -> str:
    """Why an earlier pick was made, as it was shown, with the thread to read; first who
    made it when ``who`` was asked (as the threads credit it, or that they do not say)."""
    why = item.why or "I kept no reason for it."
    thread = f" The thread: {item.thread_url}" if item.thread_url else ""
    if who:
        return f"{_credit(item)} Why I picked it: {why}{thread}"
    return f"#{item.position} {item.label}: {why}{thread}"


def _credit(item: GivenItem) -> str:
    """Who made an earlier pick, as far as the threads say."""
    if item.kind == "artist":
        return f"#{item.position} {item.name} is an artist, not a record."
    if item.artists:
        by = ", ".join(item.artists)
        return f"#{item.position} {item.name} is by {by}, as the threads credit it."
    return f"Nobody in the threads said who made #{item.position} {item.name}."


def _work_of(name: str) -> str:
    """The work a name asks about: "Kind of Blue by Miles Davis" → "Kind of Blue"."""
    by_artist = work_by_artist(name)
    return by_artist[0] if by_artist else name


def _only_names(topic: str, names: Sequence[str]) -> bool:
    """True when ``topic`` says nothing beyond ``names`` (and filler)."""
    rest = topic.lower()
    for name in names:
        rest = rest.replace(name.lower(), " ")
    return bool(topic) and only_filler(rest)


def _artist_to_offer(item: GivenItem) -> str | None:
    """Whose work a 👎 on ``item`` could extend to: its artist, or the artist itself."""
    if item.artists:
        return item.artists[0]
    return item.name if item.kind == "artist" else None


def _artist_of(card: CardFacts) -> str | None:
    return next((a for a in card.artists if a.lower() != card.name.lower()), None)


def about_sentence(card: CardFacts) -> str:
    """What the threads hold about one card: who recommended it where, the names it keeps
    company with and its most upvoted thread (nothing of how it sounds: they do not say)."""
    credit = f", by {', '.join(card.artists)}" if card.artists and card.kind != "artist" else ""
    if card.mentions:
        plural = "s" if card.mentions != 1 else ""
        said = f"recommended by {card.mentions} comment{plural}"
        if card.communities:
            said += ", most in " + ", then ".join(f"r/{c}" for c in card.communities[:2])
    else:
        said = "named in requests, never recommended"
    if card.related:
        company = card.related[:3]
        said += "; often named with " + (
            f"{', '.join(company[:-1])} and {company[-1]}" if len(company) > 1 else company[0]
        )
    thread = f" Its best-voted thread: {card.best_thread.url}" if card.best_thread else ""
    return (
        f"About {card.name} ({card.kind}{credit}): {said}. The threads hold who recommended "
        f"it where, not how it sounds.{thread}"
    )


def evidence_sentence(evidence: Sequence[EvidenceFacts]) -> str:
    """The engine's strongest reasons as one sentence a person reads, with the best votes,
    naming the seed and the community when the engine's wording leaves them out."""
    best = evidence[0]
    detail = best.detail
    if best.seed:
        detail = detail.replace("your seeds", best.seed)
    if best.community and f"r/{best.community}" not in detail:
        detail += f" in r/{best.community}"
    sentence = detail[0].upper() + detail[1:]
    if best.votes:
        sentence += f" — top reply +{best.votes}"
    others = [e.detail for e in evidence[1:2] if e.source != best.source]
    if others:
        sentence += f"; also {others[0]}"
    return full_stop(sentence)


def full_stop(sentence: str) -> str:
    """``sentence`` ending in one full stop, also after a name ending in one ("Going by The
    Notorious B.I.G.")."""
    return sentence.rstrip(".") + "."
