"""``llm-direct``: the paper's generative protocol for any OpenAI-compatible chat model.

One request per thread: the candidates in the run's seeded shuffled order inside one
prompt modelled on the paper's ``build_ranking_prompt`` ("Rank these N songs ... Output
ONLY the exact song titles separated by commas"), the ``query`` in text modes, and in
audio modes the thread's clips as ``input_audio`` content parts (WAV, base64). The
answer is parsed robustly (:func:`parse_ranking`).

Conventions:

- Parsing: candidate titles found verbatim (case-insensitive, longest first, so titles
  that contain commas stay whole) are placed by their position in the answer; the
  remaining comma-separated pieces are matched to an unused candidate's full name or its
  title part (before " - "/" by ") by normalised edit distance (rapidfuzz ``ratio`` ≥
  :data:`FUZZY_CUTOFF`, so a piece is never matched merely for containing a short title);
  pieces matching nothing are *out of list*.
  ``notes`` carries ``parsed``/``out_of_list`` counts and ``parse_failure`` (no candidate
  recognised at all). Out-of-list pieces stay in the returned ranking, so the runner drops
  and counts them (its ``out_of_list_rate``) and appends the missing candidates (its
  ``parse_miss_rate``).
- Usage is what the server reports; ``usage["cost_microusd"]`` (millionths of a dollar,
  summed over the run by the runner) is added for known OpenAI models at text-token list
  prices (:data:`PRICES_PER_MTOK`).
- Options: ``model=`` (default ``$AGENT_MODEL`` or gpt-4o-mini), ``base_url=``,
  ``timeout=`` (s), ``retries=``, ``max_clips=`` (default 1), ``max_clip_s=`` (default 30).
  The key is read from ``OPENAI_API_KEY`` only. The system is thread-safe, so a runner may
  call :meth:`rank` from ``--concurrency N`` worker threads.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from evals.systems import RankedList, RankingRequest, RankingSystem, RunContext, SystemChoiceError

FUZZY_CUTOFF = 85.0
#: USD per million (input, output) text tokens, OpenAI list prices.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o-audio-preview": (2.50, 10.00),
    "gpt-4o-mini-audio-preview": (0.15, 0.60),
}


def build_ranking_prompt(query: str | None, candidates: Sequence[str], has_audio: bool) -> str:
    """The single ranking prompt (after the paper's ``build_ranking_prompt``)."""
    songs = "\n".join(f"- {name}" for name in candidates)
    context = []
    if query:
        context.append(f"User request: {query}")
    if has_audio:
        context.append("The user shared the attached audio clip(s) as a reference.")
    return (
        "You are a music recommendation expert.\n"
        + "\n".join(context)
        + f"\n\nRank these {len(candidates)} songs from most to least relevant to the user:\n"
        + songs
        + "\n\nOutput ONLY the exact song titles separated by commas, most relevant first, "
        "with no numbering and no other text."
    )


@dataclass(frozen=True)
class ParsedRanking:
    """``ranking``: the candidates recognised, in answer order; ``named``: the same with the
    out-of-list pieces kept in place (the runner drops and counts those)."""

    ranking: list[str]
    named: list[str]
    out_of_list: int
    parse_failure: bool


def title_part(candidate: str) -> str:
    """``"Title - Artist"`` → ``"Title"`` (models often drop the artist)."""
    return re.split(r"\s+[-–—]\s+|\s+by\s+", candidate, maxsplit=1)[0]


def closest_candidate(piece: str, candidates: Sequence[str], used: set[int]) -> int | None:
    """The unused candidate whose full name or title part is closest to ``piece`` by
    normalised edit distance (``fuzz.ratio`` ≥ :data:`FUZZY_CUTOFF`), else None."""
    best: tuple[float, int] | None = None
    for choices in (candidates, [title_part(c) for c in candidates]):
        pool = {i: choices[i] for i in range(len(choices)) if i not in used}
        match = process.extractOne(
            piece,
            pool,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=FUZZY_CUTOFF,
        )
        if match is not None and (best is None or match[1] > best[0]):
            best = (match[1], match[2])
    return None if best is None else best[1]


def parse_ranking(answer: str, candidates: Sequence[str]) -> ParsedRanking:
    """The candidates named in ``answer``, in the order named (see module conventions)."""
    taken = [False] * len(answer)
    found: list[tuple[int, int]] = []  # (position in answer, candidate index)
    for index in sorted(range(len(candidates)), key=lambda i: -len(candidates[i])):
        title = candidates[index].strip()
        if not title:
            continue
        for match in re.finditer(re.escape(title), answer, re.IGNORECASE):
            start, end = match.span()
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                found.append((start, index))
                break
    used = {i for _, i in found}
    unknown: list[tuple[int, str]] = []
    leftover = "".join(" " if t else c for c, t in zip(answer, taken, strict=True))
    out_of_list = 0
    position = 0
    for piece in re.split(r"[,\n]", leftover):
        cleaned = re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", piece).strip(" \"'`")
        start = leftover.find(piece, position)
        position = start + len(piece)
        if len(cleaned) < 2:
            continue
        best = closest_candidate(cleaned, candidates, used)
        if best is None:
            out_of_list += 1
            unknown.append((start, cleaned))
            continue
        used.add(best)
        found.append((start, best))
    found.sort()
    named = sorted([(at, candidates[i]) for at, i in found] + unknown)
    return ParsedRanking(
        ranking=[candidates[i] for _, i in found],
        named=[text for _, text in named],
        out_of_list=out_of_list,
        parse_failure=not found,
    )


def wav_part(path: Path, max_seconds: float) -> dict[str, object]:
    """An ``input_audio`` content part: the clip as 16 kHz mono WAV, at most ``max_seconds``."""
    import numpy as np
    import soundfile

    from tools.audio import load_audio

    decoded = load_audio(path)
    samples = np.asarray(decoded.samples, dtype=np.float32)[
        : int(max_seconds * decoded.sample_rate)
    ]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, decoded.sample_rate, format="WAV", subtype="PCM_16")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


class LLMDirectSystem(RankingSystem):
    name = "llm-direct"
    description = "one ranking prompt to an OpenAI-compatible model (the paper's protocol)"
    modes = frozenset({"query_only", "audio_only", "audio_query"})
    thread_safe = True

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        import openai

        options = context.options
        self.model = options.get("model") or os.environ.get("AGENT_MODEL") or "gpt-4o-mini"
        base_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
        api_key = os.environ.get("OPENAI_API_KEY")
        if not api_key and not base_url:
            raise SystemChoiceError(
                "llm-direct needs a model: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server (vLLM, Ollama, llama.cpp)."
            )
        self.client = openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            timeout=float(options.get("timeout", 60)),
            max_retries=int(options.get("retries", 3)),
        )
        self.max_clips = int(options.get("max_clips", 1))
        self.max_clip_s = float(options.get("max_clip_s", 30))

    def rank(self, request: RankingRequest) -> RankedList:
        import openai

        clips = list(request.audio_paths[: self.max_clips])
        content: list[dict[str, object]] = [
            {
                "type": "text",
                "text": build_ranking_prompt(request.query, request.candidates, bool(clips)),
            }
        ]
        notes: dict[str, object] = {"model": self.model}
        for clip in clips:
            try:
                content.append(wav_part(clip, self.max_clip_s))
            except ValueError as error:  # unreadable clip: rank without it, say so
                notes.setdefault("audio_errors", []).append(str(error))
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": content}],
                temperature=0,
            )
        except openai.OpenAIError as error:
            notes.update(parse_failure=True, error=f"{type(error).__name__}")
            return RankedList([], notes=notes)
        answer = (response.choices[0].message.content or "") if response.choices else ""
        parsed = parse_ranking(answer, request.candidates)
        usage = {}
        if response.usage is not None:
            usage = {
                "input_tokens": response.usage.prompt_tokens,
                "output_tokens": response.usage.completion_tokens,
            }
            price = PRICES_PER_MTOK.get(self.model)
            if price:
                # Micro-dollars, an integer, so the runner's usage total sums the run's cost.
                usage["cost_microusd"] = round(
                    usage["input_tokens"] * price[0] + usage["output_tokens"] * price[1]
                )
        notes.update(
            parsed=len(parsed.ranking),
            out_of_list=parsed.out_of_list,
            parse_failure=parsed.parse_failure,
        )
        return RankedList(parsed.named, usage=usage, notes=notes)
