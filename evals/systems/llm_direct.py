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
- ``protocol=paper`` sends the paper's own prompt, audio and parser instead (its
  ``generative/utils.py``): :func:`paper_prompt` (``build_ranking_prompt``), one clip mixed
  by :func:`paper_audio_part` (``load_and_mix_audio``: at most 10 clips, 300 s shared
  equally, a random window of each, concatenated, 16 kHz) sent before the text, and
  :func:`paper_parse` (``parse_and_filter_ranking``: comma split, exact match after the
  paper's normalisation, repeats dropped, missing candidates appended in presented order).
  Its random choices use a generator seeded by the run seed and the thread (the paper's one
  global stream cannot survive resuming or concurrency). Threads without a clip are
  skipped in ``audio_only`` (``notes["skipped"]``), as the paper's scripts skip them.
- Options: ``model=`` (default ``$AGENT_MODEL`` or gpt-4o-mini), ``base_url=``,
  ``timeout=`` (s), ``retries=``, ``max_clips=`` (default 1), ``max_clip_s=`` (default 30),
  ``protocol=`` (``robust``, the default, or ``paper``).
  The key is read from ``OPENAI_API_KEY`` only. The system is thread-safe, so a runner may
  call :meth:`rank` from ``--concurrency N`` worker threads.
"""

from __future__ import annotations

import base64
import io
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from evals.metrics import normalize_title
from evals.systems import (
    TEXT_MODES,
    RankedList,
    RankingRequest,
    RankingSystem,
    RunContext,
    SystemChoiceError,
)
from evals.systems.baselines import seeded_rng

FUZZY_CUTOFF = 85.0
PROTOCOLS = ("robust", "paper")
PAPER_MAX_CLIPS = 10  # generative/utils.py load_and_mix_audio
PAPER_BUDGET_S = 300.0
PAPER_RATE = 16_000
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


def paper_prompt(query: str | None, candidates: Sequence[str], mode: str) -> str:
    """The paper's ``build_ranking_prompt`` text for candidates already in presented order."""
    parts = [query.strip()] if mode in TEXT_MODES and query else []
    parts.append(f"Here are {len(candidates)} candidate songs; rank most relevant first:")
    parts.extend(f"- {name}" for name in candidates)
    inputs = {"audio_only": "the audio", "audio_query": "the audio and query"}
    parts.append(
        f"Rank these {len(candidates)} songs from most to least relevant based on "
        f"{inputs.get(mode, 'the query')}. "
        "Output ONLY the exact song titles separated by commas. Do not include numbers or extra "
        "text. Example format: Song Title A, Song Title B, Song Title C."
    )
    return "\n".join(parts)


def paper_parse(answer: str, candidates: Sequence[str]) -> ParsedRanking:
    """The paper's ``parse_and_filter_ranking`` with ``fill_missing``: comma-separated pieces
    matched exactly after :func:`~evals.metrics.normalize_title`, repeats dropped, then the
    unnamed candidates in presented order. ``named`` keeps unmatched pieces and repeats in
    place for the runner to drop and count; ``ranking`` is the paper's list."""
    by_key = {normalize_title(c): c for c in candidates}
    named: list[str] = []
    chosen: list[str] = []
    out_of_list = 0
    for piece in (p.strip() for p in answer.split(",")):
        if not piece:
            continue
        match = by_key.get(normalize_title(piece))
        if match is None or match in chosen:
            out_of_list += 1
            named.append(piece)
            continue
        chosen.append(match)
        named.append(match)
    rest = [c for c in candidates if c not in chosen]
    return ParsedRanking(
        ranking=(chosen + rest)[: len(candidates)],
        named=named + rest,
        out_of_list=out_of_list,
        parse_failure=not chosen,
    )


def paper_audio_part(paths: Sequence[Path], rng: random.Random) -> dict[str, object]:
    """The paper's ``load_and_mix_audio`` as one ``input_audio`` part: up to
    :data:`PAPER_MAX_CLIPS` clips sampled, each a random window of ``budget / clips``
    seconds, concatenated at 16 kHz, cut to the budget, padded to at least 1 s."""
    import librosa
    import numpy as np
    import soundfile

    chosen = rng.sample(list(paths), k=min(len(paths), PAPER_MAX_CLIPS))
    window_s = PAPER_BUDGET_S / len(chosen)
    pieces = []
    for path in chosen:
        try:
            info = soundfile.info(str(path))
            total_s = info.frames / info.samplerate if info.samplerate else 0.0
            start = rng.uniform(0, max(0.0, total_s - window_s)) if total_s > window_s else 0.0
            samples, _ = librosa.load(str(path), sr=PAPER_RATE, offset=start, duration=window_s)
        except Exception:  # an unreadable clip is left out, as the paper does
            continue
        pieces.append(samples.astype(np.float32))
    mixed = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    mixed = mixed[: int(PAPER_RATE * PAPER_BUDGET_S)]
    mixed = np.pad(mixed, (0, max(0, PAPER_RATE - len(mixed))))
    buffer = io.BytesIO()
    soundfile.write(buffer, mixed, PAPER_RATE, format="WAV", subtype="PCM_16")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


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
        self.protocol = options.get("protocol", "robust")
        if self.protocol not in PROTOCOLS:
            raise SystemChoiceError(
                f"--option protocol={self.protocol} is unknown; choose one of: "
                f"{', '.join(PROTOCOLS)}."
            )

    def content(self, request: RankingRequest, notes: dict[str, object]) -> list[dict[str, object]]:
        """The user message's parts under the chosen protocol (module conventions)."""
        if self.protocol == "paper":
            text = {
                "type": "text",
                "text": paper_prompt(request.query, request.candidates, request.mode),
            }
            if request.mode == "query_only" or not request.audio_paths:
                return [text]
            rng = seeded_rng(self.context.seed, "audio:" + request.name)
            return [paper_audio_part(request.audio_paths, rng), text]
        clips = list(request.audio_paths[: self.max_clips])
        content: list[dict[str, object]] = [
            {
                "type": "text",
                "text": build_ranking_prompt(request.query, request.candidates, bool(clips)),
            }
        ]
        for clip in clips:
            try:
                content.append(wav_part(clip, self.max_clip_s))
            except ValueError as error:  # unreadable clip: rank without it, say so
                notes.setdefault("audio_errors", []).append(str(error))
        return content

    def rank(self, request: RankingRequest) -> RankedList:
        import openai

        notes: dict[str, object] = {"model": self.model, "protocol": self.protocol}
        if self.protocol == "paper" and request.mode == "audio_only" and not request.audio_paths:
            notes["skipped"] = "no audio"
            return RankedList(list(request.candidates), notes=notes)
        content = self.content(request, notes)
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
        parse = paper_parse if self.protocol == "paper" else parse_ranking
        parsed = parse(answer, request.candidates)
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
