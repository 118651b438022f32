"""``llm-direct``: the paper's generative protocol for any OpenAI-compatible chat model.

One request per thread: the candidates in the run's seeded shuffled order inside one
prompt modelled on the paper's ``build_ranking_prompt`` ("Rank these N songs ... Output
ONLY the exact song titles separated by commas"), the ``query`` in text modes, and in
audio modes the thread's clips as ``input_audio`` content parts (WAV, base64). The
answer is parsed robustly (:func:`parse_ranking`).

Conventions:

- Parsing: candidate titles found verbatim (case-insensitive, longest first, so titles
  that contain commas stay whole) are placed by their position in the answer; the
  remaining comma-separated pieces are matched to unused candidates with rapidfuzz
  (``WRatio`` ≥ :data:`FUZZY_CUTOFF`); pieces matching nothing are *out of list*.
  ``notes`` carries ``parsed``/``out_of_list`` counts and ``parse_failure`` (no candidate
  recognised at all); the runner appends what is missing and reports the rates.
- Usage is what the server reports; ``notes["cost_usd"]`` is computed for known OpenAI
  models at text-token list prices (:data:`PRICES_PER_MTOK`), absent otherwise.
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

from rapidfuzz import fuzz, process

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
    ranking: list[str]
    out_of_list: int
    parse_failure: bool


def parse_ranking(answer: str, candidates: Sequence[str]) -> ParsedRanking:
    """The candidates named in ``answer``, in the order named (see module conventions)."""
    lowered = answer.lower()
    taken = [False] * len(lowered)
    found: list[tuple[int, int]] = []  # (position in answer, candidate index)
    for index in sorted(range(len(candidates)), key=lambda i: -len(candidates[i])):
        title = candidates[index].lower().strip()
        if not title:
            continue
        for match in re.finditer(re.escape(title), lowered):
            start, end = match.span()
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                found.append((start, index))
                break
    used = {i for _, i in found}
    leftover = "".join(" " if t else c for c, t in zip(answer, taken, strict=True))
    out_of_list = 0
    position = 0
    for piece in re.split(r"[,\n]", leftover):
        cleaned = re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", piece).strip(" \"'`")
        start = leftover.find(piece, position)
        position = start + len(piece)
        if len(cleaned) < 2:
            continue
        pool = {i: candidates[i] for i in range(len(candidates)) if i not in used}
        best = process.extractOne(cleaned, pool, scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF)
        if best is None:
            out_of_list += 1
            continue
        used.add(best[2])
        found.append((start, best[2]))
    found.sort()
    return ParsedRanking([candidates[i] for _, i in found], out_of_list, parse_failure=not found)


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
                notes["cost_usd"] = round(
                    (usage["input_tokens"] * price[0] + usage["output_tokens"] * price[1]) / 1e6, 6
                )
        notes.update(
            parsed=len(parsed.ranking),
            out_of_list=parsed.out_of_list,
            parse_failure=parsed.parse_failure,
        )
        return RankedList(parsed.ranking, usage=usage, notes=notes)
