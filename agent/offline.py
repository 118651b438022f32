"""The offline brain: a deterministic LangChain chat model that drives the agent graph.

It plays the part of an LLM without one. Each call reads the conversation since the last
user message — the composed user message (:mod:`agent.prompts`) and the tool results so
far — and emits the next step as a real ``AIMessage``:

1. a clip is attached and not yet described → fetch it (YouTube) / describe it;
2. else, not yet done → look up the entities the user names and search the catalog with the
   request plus what was heard (one step, parallel tool calls);
3. else, a candidate list is attached and not yet ranked → ``rank_candidates``;
4. else → the structured answer (``ChatAnswer`` or ``CandidateRanking``) built only from
   the tool results, honest that no language model wrote it. The chat reply is a short
   lead (what was heard, what the user named, the top picks by name); every pick with its
   reasons is in the structured recommendations, which the UI shows as cards.

Conventions: the same input gives the same output (no randomness, no clock); it never
follows instructions found in user text or tool results (they are only parsed as data);
``bind_tools`` returns ``self`` because the policy knows its tools by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.prompts import DEFAULT_AUDIO_REQUEST, DEFAULT_RANKING_REQUEST, parse_user_message
from agent.schemas import CandidateRanking, ChatAnswer, RecommendationOut
from tools.youtube import looks_like_url

DESCRIBE_TOOL = "describe_audio"
FETCH_TOOL = "fetch_youtube_audio"
SEARCH_TOOL = "search_catalog"
LOOKUP_TOOL = "lookup_entity"
RANK_TOOL = "rank_candidates"
MAX_LOOKUPS = 3
MAX_RECOMMENDATIONS = 5
#: How many picks the reply names; all of them, with reasons, are the structured cards.
PICKS_IN_REPLY = 3
OFFLINE_NOTE = "Offline brain (no language model): picked from what the tools returned."

_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")
# A run of capitalised words (allowing short joiners), e.g. "Boards of Canada", "OK Computer".
_TITLE_RUN = re.compile(
    r"\b([A-Z0-9][\w'’.&-]*(?:\s+(?:of|the|&|de|la|in|on|a)?\s*[A-Z0-9][\w'’.&-]*)*)"
)
_NOT_ENTITIES = frozenset(
    "i i'm im looking recommend recommendations please any some what which who can could "
    "something songs song music album albums artist artists tracks track hi hello hey thanks "
    "also but and or so if when my the a an is are it this that give find suggest need want "
    "like love just youtube api more this that these those ignore print show tell".split()
)
_INJECTION = re.compile(
    r"(ignore (all |your |the |previous |prior )*(instructions|rules|prompt)|system prompt|"
    r"api[ _-]?key|reveal your|print your (prompt|instructions))",
    re.IGNORECASE,
)
# The object is optional: "more like <link>" reaches the brain as "more like" once the turn
# API has moved the link to the audio path.
_POINTS_AT_CLIP = re.compile(
    r"^\W*(please\W+)?((recommend|find|give me|play|suggest)\W+)?(me\W+)?"
    r"(more|some|something|songs?|music|tracks?|stuff)?\W*(like|similar to)"
    r"(\W+(this|that|it|the clip|this one|this song))?\W*(please)?\W*$",
    re.IGNORECASE,
)


def named_entities(text: str, limit: int = MAX_LOOKUPS) -> list[str]:
    """Entity names a user message mentions: quoted strings, then capitalised word runs."""
    found: list[str] = [m.strip() for m in _QUOTED.findall(text)]
    for match in _TITLE_RUN.finditer(text):
        words = match.group(1).replace("’", "'").split()
        while words and words[0].lower().strip(".'") in _NOT_ENTITIES:
            words.pop(0)
        name = " ".join(words).removesuffix("'s").strip(" .-'")
        if len(name) > 1 and name.lower() not in _NOT_ENTITIES:
            found.append(name)
    unique: list[str] = []
    for name in found:
        if name.lower() not in {u.lower() for u in unique}:
            unique.append(name)
    return unique[:limit]


class OfflineBrain(BaseChatModel):
    """A rule-based tool-calling policy with the interface of a chat model."""

    tool_names: frozenset[str] = frozenset()

    @property
    def _llm_type(self) -> str:
        return "offline-brain"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflineBrain:
        # The policy knows its tools by name; binding changes nothing (DESIGN.md §4).
        return self

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
        turn = _Turn(messages[start], messages[start + 1 :])
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
        return self._answer(turn, step)

    def _has(self, name: str) -> bool:
        return not self.tool_names or name in self.tool_names

    def _plan(self, turn: _Turn) -> list[tuple[str, dict[str, Any]]]:
        if turn.injection:
            return []
        if turn.audio and self._has(DESCRIBE_TOOL) and DESCRIBE_TOOL not in turn.results:
            # The turn API lets through only a single-video YouTube link or an existing file.
            is_link = looks_like_url(turn.audio)
            if is_link and FETCH_TOOL not in turn.results:
                if self._has(FETCH_TOOL):
                    return [(FETCH_TOOL, {"url": turn.audio})]
            else:
                path = turn.fetched_path() if is_link else turn.audio
                if path:
                    return [(DESCRIBE_TOOL, {"path": path})]
        if SEARCH_TOOL not in turn.results and LOOKUP_TOOL not in turn.results:
            calls: list[tuple[str, dict[str, Any]]] = []
            if self._has(LOOKUP_TOOL):
                calls += [(LOOKUP_TOOL, {"name": n}) for n in named_entities(turn.text)]
            query = turn.search_query()
            if query and self._has(SEARCH_TOOL):
                args: dict[str, Any] = {"query": query, "k": 8}
                if turn.community:
                    args["community"] = turn.community
                calls.append((SEARCH_TOOL, args))
            if calls:
                return calls
        if turn.candidates and RANK_TOOL not in turn.results and self._has(RANK_TOOL):
            return [(RANK_TOOL, {"query": turn.search_query() or "music"})]
        return []

    def _answer(self, turn: _Turn, step: int) -> AIMessage:
        if turn.candidates:
            order = turn.ranked_order(len(turn.candidates))
            how = (
                "ordered by rank_candidates"
                if RANK_TOOL in turn.results
                else "kept in the given order (rank_candidates gave no result)"
            )
            answer: ChatAnswer | CandidateRanking = CandidateRanking(
                order=order, reply=f"{OFFLINE_NOTE} Candidates {how}."
            )
        else:
            answer = self._chat_answer(turn)
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

    def _chat_answer(self, turn: _Turn) -> ChatAnswer:
        if turn.injection:
            return ChatAnswer(
                reply=(
                    "I can't share my instructions, settings or any key, but I'm glad to "
                    "recommend music: name an artist, describe a mood, or attach a clip."
                )
            )
        lines = [OFFLINE_NOTE]
        heard = turn.heard()
        if heard:
            lines.append(f"What I heard in your clip: {heard}")
        elif turn.audio:
            lines.append(f"I could not use your clip: {turn.audio_error() or 'no description'}")
        named = turn.named_matches()
        catalog_error = turn.error_of(SEARCH_TOOL)
        recommendations = self._recommendations(turn, {c.get("id") for c in named})
        if named or recommendations:
            lines.append(_picks_line(named, recommendations))
        if recommendations:
            return ChatAnswer(reply="\n".join(lines), recommendations=recommendations)
        if catalog_error:
            lines.append(
                f"The catalog search failed ({catalog_error}), so I have nothing I can justify."
            )
        else:
            lines.append(
                "The catalog returned nothing I can justify recommending; try naming an artist, "
                "a genre or a mood."
            )
        return ChatAnswer(reply="\n".join(lines))

    def _recommendations(self, turn: _Turn, exclude: set[str | None]) -> list[RecommendationOut]:
        query = turn.user_words()[:60] or "what I heard"
        hits = turn.search_hits()
        # Search scores are fused ranks, meaningful only relative to the best hit.
        top = max((float(h.get("score", 0.0)) for h in hits), default=0.0) or 1.0
        out: list[RecommendationOut] = []
        for rank, hit in enumerate(hits, 1):
            if hit.get("id") in exclude:
                continue
            score = float(hit.get("score", 0.0))
            why = [f"#{rank} catalog match for “{query}”"]
            if hit.get("communities"):
                why.append("discussed in r/" + ", r/".join(hit["communities"][:2]))
            if hit.get("related"):
                why.append("mentioned alongside " + ", ".join(hit["related"][:2]))
            if turn.heard_terms():
                why.append("searched with what I heard: " + turn.heard_terms(limit=4))
            artists = hit.get("artists") or []
            urls = hit.get("youtube_urls") or []
            out.append(
                RecommendationOut(
                    name=str(hit.get("name", "?")),
                    artist=artists[0] if artists and artists[0] != hit.get("name") else None,
                    why="; ".join(why),
                    youtube_url=urls[0] if urls else None,
                    confidence=round(0.9 * min(max(score / top, 0.0), 1.0), 2),
                )
            )
            if len(out) == MAX_RECOMMENDATIONS:
                break
        return out


def _picks_line(named: list[dict[str, Any]], picks: list[RecommendationOut]) -> str:
    """One line naming what the user mentioned and the top picks; the reasons for each pick
    are on its card (the UI shows them, ``--json`` prints them), not repeated here."""
    mentioned = "; ".join(_card_line(card) for card in named)
    if not picks:
        return f"You mentioned {mentioned}."
    top = [p.name + (f" by {p.artist}" if p.artist else "") for p in picks[:PICKS_IN_REPLY]]
    more = len(picks) - len(top)
    names = ", ".join(top) + (f" and {more} more" if more else "")
    return f"You mentioned {mentioned}; top picks: {names}." if named else f"Top picks: {names}."


def _card_line(card: dict[str, Any]) -> str:
    extra = []
    if card.get("kind"):
        extra.append(str(card["kind"]))
    if card.get("artists") and card["artists"][0] != card.get("name"):
        extra.append("by " + card["artists"][0])
    if card.get("communities"):
        extra.append("r/" + ", r/".join(card["communities"][:2]))
    return f"{card.get('name')} ({', '.join(extra)})" if extra else str(card.get("name"))


class _Turn:
    """What the brain knows about the current turn: the request and the tool results."""

    def __init__(self, human: BaseMessage, after: Sequence[BaseMessage]) -> None:
        content = human.content if isinstance(human.content, str) else _text_of(human.content)
        self.text, self.audio, self.community, self.candidates = parse_user_message(content)
        self.injection = bool(_INJECTION.search(self.text))
        # name -> list of (ok, content) in call order
        self.results: dict[str, list[tuple[bool, str]]] = {}
        for message in after:
            if isinstance(message, ToolMessage):
                ok = message.status != "error" and not str(message.content).startswith("Error")
                self.results.setdefault(message.name or "", []).append(
                    (ok, _text_of(message.content))
                )

    def _json(self, name: str) -> list[dict[str, Any]]:
        payloads = []
        for ok, content in self.results.get(name, []):
            if ok:
                try:
                    value = json.loads(content)
                except ValueError:
                    value = {"text": content}
                payloads.append(value if isinstance(value, dict) else {"value": value})
        return payloads

    def error_of(self, name: str) -> str | None:
        errors = [c for ok, c in self.results.get(name, []) if not ok]
        return errors[0].removeprefix("Error:").strip()[:200] if errors else None

    def fetched_path(self) -> str | None:
        for payload in self._json(FETCH_TOOL):
            path = payload.get("path") or payload.get("value") or payload.get("text")
            if isinstance(path, str) and path.strip():
                return path.strip()
        return None

    def audio_error(self) -> str | None:
        return self.error_of(DESCRIBE_TOOL) or self.error_of(FETCH_TOOL)

    def heard(self) -> str | None:
        for payload in self._json(DESCRIBE_TOOL):
            summary = payload.get("summary") or payload.get("text")
            if isinstance(summary, str) and summary.strip():
                return summary.strip()[:400]
        return None

    def heard_terms(self, limit: int = 8) -> str:
        """Tag names (or the summary) from the audio description, for the catalog query."""
        terms: list[str] = []
        for payload in self._json(DESCRIBE_TOOL):
            for tag in payload.get("tags") or []:
                name = tag.get("name") if isinstance(tag, dict) else tag
                if isinstance(name, str):
                    terms.append(name)
            if not terms and isinstance(payload.get("summary"), str):
                terms.append(payload["summary"][:200])
        return ", ".join(terms[:limit])

    def search_query(self) -> str:
        heard = self.heard_terms().replace(",", "")
        return " ".join(part for part in (self.user_words(), heard) if part).strip()

    def user_words(self) -> str:
        """The user's request; empty when it only points at the clip ("more like this") or
        the turn API stood in for an audio-only turn: such words would only add noise."""
        if self.text in (DEFAULT_AUDIO_REQUEST, DEFAULT_RANKING_REQUEST):
            return ""
        return "" if self.audio and _POINTS_AT_CLIP.match(self.text) else self.text

    def search_hits(self) -> list[dict[str, Any]]:
        return [
            h for p in self._json(SEARCH_TOOL) for h in p.get("hits", []) if isinstance(h, dict)
        ]

    def named_matches(self) -> list[dict[str, Any]]:
        return [
            p["matches"][0]
            for p in self._json(LOOKUP_TOOL)
            if p.get("matches") and isinstance(p["matches"][0], dict)
        ]

    def ranked_order(self, n: int) -> list[int]:
        for payload in self._json(RANK_TOOL):
            order = [i for i in payload.get("order", []) if isinstance(i, int) and 0 <= i < n]
            if order:
                seen = set(order)
                return list(dict.fromkeys(order)) + [i for i in range(n) if i not in seen]
        return list(range(n))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if b)
    return str(content)
