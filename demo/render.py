"""Turn agent events and results into what the page shows: chat thoughts, cards, panels.

Conventions:

- Pure functions, no Gradio state: each takes agent objects and returns plain dicts
  (Gradio chat messages) or HTML/Markdown strings, so they are tested without a server.
- Every string that came from the agent, a tool or the user is HTML-escaped here before it
  is put into HTML: tool output and model text are untrusted.
- Chat text is Markdown that the browser renders, so it goes through :func:`chat_text`:
  no raw HTML (``<`` is escaped), no images (``![`` becomes a plain link), links only to
  http(s) (any other link target or reference definition is shown as text), and no server
  path or internal address (:func:`public_text`). A model that obeys an injected
  instruction therefore cannot make the browser fetch anything.
- All patterns here are linear: possessive quantifiers or fixed-width lookarounds only.
- A chat message is a dict ``{"role", "content", "metadata"}``; a tool step is an
  assistant message whose ``metadata`` has ``title`` (Gradio shows it as a collapsible
  thought), ``id`` (unique in the chat: the turn's group id and the tool call id),
  ``parent_id`` (the turn's group), ``status`` (``pending`` while running, ``done`` once it
  succeeded; a failed step has none, so Gradio shows it unfolded with its error) and
  ``duration`` in seconds. All the steps of a turn nest in ONE group thought
  (:func:`steps_group`), whose title counts them, whose duration is their sum, and which
  opens with the failed steps' sentences when any failed. The page shows no copy button on
  steps (``demo.style``).
- Each card carries 👍 / 👎 / "more like this" buttons naming its 1-based number in the
  list (``data-action``, ``data-card``); ``demo.style.HEAD`` sends them to the feedback
  event. A card plays its YouTube video (an id checked by ``parse_youtube_url``, embedded
  from youtube-nocookie.com only once the user opens the player) or links a YouTube search,
  and shows the recommender's evidence with its thread link.
- Cards of the user's own recordings (:func:`local_cards_html`, ``demo.local_audio``) play
  the local file in an ``<audio>`` element; only the sound index's files get a URL.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from demo.playlists import watch_url, youtube_id, youtube_search_url

# What the user sees for each tool while it runs; unknown tools show their own name.
TOOL_LABELS = {
    "describe_audio": "Listening to the clip",
    "search_catalog": "Searching the catalog",
    "lookup_entity": "Looking it up",
    "fetch_youtube_audio": "Fetching the YouTube audio",
    "rank_candidates": "Ranking the candidates",
    "recommend": "Finding what people recommended",
    "similar_requests": "Reading similar requests",
}
_MAX_ARG_CHARS = 160

# An absolute path under a directory a server keeps things in (uploads, caches, the app).
# The first segment is matched against a list, not "any word", so that "/r/jazz" stays; the
# list adds the top folder of wherever this process lives (the app may be checked out under
# any name, such as /check or /build).
_COMMON_SERVER_ROOTS = (
    "tmp|var|home|root|usr|opt|srv|data|mnt|media|etc|proc|run|work|app|code|workspace|"
    "private|Users|Volumes|lib|dev|sys|nix|snap"
)


def _own_roots() -> str:
    """The top folders of this app, the working directory, home, the temp dir and Python."""
    here = [Path(__file__).resolve(), Path.cwd(), Path.home(), Path(tempfile.gettempdir())]
    here += [Path(sys.prefix), Path(sys.base_prefix)]
    tops = {path.parts[1] for path in here if len(path.parts) > 1}
    return "|".join(sorted(re.escape(top) for top in tops))


_SERVER_PATH = re.compile(
    rf"(?<![\w/.:~%-])~?/(?:{_COMMON_SERVER_ROOTS}|{_own_roots()})"
    rf"(?:/[^\s/'\"`<>()\[\]{{}}|\\,;]++)++"
)
_INTERNAL_ADDRESS = re.compile(
    r"(?<![\w.])(?:(?:\d{1,3}\.){3}\d{1,3}|localhost|\[[0-9a-fA-F:]++\])(?::\d{1,5})?+(?![\w.])"
)
_NOT_HTTP_LINK = re.compile(r"\]\((?!<?https?://)", re.IGNORECASE)
_REFERENCE_DEFINITION = re.compile(r"^( {0,3})\[(?=[^\]\n]*+\]:)", re.MULTILINE)


def public_text(text: str) -> str:
    """``text`` without server paths (kept as their file name) or internal addresses."""
    text = _SERVER_PATH.sub(lambda m: m.group(0).rsplit("/", 1)[-1], text)
    return _INTERNAL_ADDRESS.sub("the server", text)


def safe_markdown(text: str) -> str:
    """Markdown the browser may render: no HTML, no images, links to http(s) only."""
    text = text.replace("<", "&lt;").replace("![", "[")
    text = _NOT_HTTP_LINK.sub(r"]\\(", text)
    return _REFERENCE_DEFINITION.sub(r"\1\\[", text)


def chat_text(text: str) -> str:
    """Any text for the chat: :func:`public_text`, then :func:`safe_markdown`."""
    return safe_markdown(public_text(text))


def tool_label(name: str) -> str:
    return TOOL_LABELS.get(name, name.replace("_", " ").capitalize())


def steps_group(group_id: str) -> dict[str, Any]:
    """The one thought a turn's steps nest in, while they run."""
    return {
        "role": "assistant",
        "content": "Working on your request…",
        "metadata": {"title": "🔧 Working…", "id": group_id, "status": "pending"},
    }


def finished_group(
    group_id: str, steps: list[dict[str, Any]], failures: list[str]
) -> dict[str, Any]:
    """The group once the turn ended: how many steps, their total time, and ``failures``
    (each failed step's sentence), with which it stays open, as a failed step does."""
    count = f"{len(steps)} step{'s' if len(steps) != 1 else ''}"
    metadata: dict[str, Any] = {
        "title": f"✅ {count}" if not failures else f"⚠️ {count}, {len(failures)} failed",
        "id": group_id,
        "duration": round(sum(s["metadata"].get("duration", 0.0) for s in steps), 2),
    }
    if failures:
        content = "\n\n".join(failures)
    else:
        metadata["status"] = "done"
        content = " → ".join(dict.fromkeys(_plain_title(s) for s in steps))
    return {"role": "assistant", "content": content, "metadata": metadata}


def failure_sentence(name: str, error: str) -> str:
    """A failed step's sentence, as its thought and its group show it."""
    return f"**{tool_label(name)} failed:** {chat_text(error)}"


def _plain_title(step: dict[str, Any]) -> str:
    return step["metadata"]["title"].split(" ", 1)[-1].rstrip("…")


def started_message(group_id: str, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The pending thought shown as soon as a tool starts, nested in ``group_id``."""
    metadata = {
        "title": f"🔧 {tool_label(name)}…",
        "id": f"{group_id}/{call_id}",
        "parent_id": group_id,
        "status": "pending",
    }
    return {"role": "assistant", "content": chat_text(_args_text(args)), "metadata": metadata}


def finished_message(
    started: dict[str, Any] | None,
    group_id: str,
    call_id: str,
    name: str,
    ok: bool,
    duration_s: float,
    summary: str,
    error: str | None,
) -> dict[str, Any]:
    """The same thought once the tool is done: its duration and its result or error."""
    icon = "✅" if ok else "⚠️"
    body = chat_text(summary) if ok else failure_sentence(name, error or summary)
    if started and started.get("content"):
        body = f"{started['content']}\n\n{body}"
    metadata: dict[str, Any] = {
        "title": f"{icon} {tool_label(name)}",
        "id": f"{group_id}/{call_id}",
        "parent_id": group_id,
        "duration": round(max(duration_s, 0.0), 2),
    }
    if ok:
        metadata["status"] = "done"  # Gradio folds a done thought; a failed one stays open
    return {"role": "assistant", "content": body, "metadata": metadata}


def _args_text(args: dict[str, Any]) -> str:
    if not args:
        return ""
    text = json.dumps(args, ensure_ascii=False, default=str)
    text = text if len(text) <= _MAX_ARG_CHARS else text[: _MAX_ARG_CHARS - 1] + "…"
    return f"`{text}`"


def badge_html(brain_label: str) -> str:
    """The mode badge: which brain answers. ``brain_label`` never holds a key."""
    offline = brain_label == "offline brain"
    kind = "offline" if offline else "online"
    hint = "runs locally, no API key" if offline else "model server"
    return (
        f'<div class="brain-badge {kind}" title="{html.escape(hint)}">'
        f'<span class="dot"></span>{html.escape(brain_label)}</div>'
    )


def cards_html(recommendations: Iterable[Any]) -> str:
    """One card per recommendation: name, artist, why, evidence, a way to play it, and the
    feedback buttons."""
    cards = [_card(rank, rec) for rank, rec in enumerate(recommendations, 1)]
    if not cards:
        return ""
    return f'<div class="rec-cards">{"".join(cards)}</div>'


def _thread_link(url: str | None) -> str:
    """The evidence thread as a link, for http(s) links only (the agent copies the data's)."""
    if not url or not url.startswith(("https://", "http://")):
        return ""
    return (
        f'<a class="rec-link rec-thread" href="{html.escape(url)}" target="_blank" '
        f'rel="noopener nofollow">Read the thread ↗</a>'
    )


# (action, label, tooltip) of the buttons on every card.
_FEEDBACK_BUTTONS = (
    ("like", "👍", "I like it: use it as a seed next time"),
    ("dislike", "👎", "Not for me: leave it out from now on"),
    ("more", "More like this", "Recommend more like this one now"),
)


def _feedback_buttons(rank: int) -> str:
    buttons = "".join(
        f'<button type="button" class="rec-fb rec-fb-{action}" data-action="{action}" '
        f'data-card="{rank}" title="{html.escape(tip)}" aria-label="{html.escape(tip)}">'
        f"{label}</button>"
        for action, label, tip in _FEEDBACK_BUTTONS
    )
    return f'<div class="rec-feedback">{buttons}</div>'


def _evidence(rec: Any) -> str:
    """The recommender's strongest evidence and its thread, when it adds to ``why``."""
    evidence = public_text(getattr(rec, "evidence", None) or "").strip()
    thread = _thread_link(getattr(rec, "thread_url", None))
    if evidence and evidence.lower().rstrip(".") in public_text(rec.why).lower():
        evidence = ""
    if not (evidence or thread):
        return ""
    text = f"<span>{html.escape(evidence)}</span> " if evidence else ""
    return f'<div class="rec-evidence">🧵 {text}{thread}</div>'


def _card(rank: int, rec: Any) -> str:
    name = html.escape(public_text(rec.name))
    # A language model's own suggestion that the catalog does not know is shown as such.
    own = (
        '<div class="rec-own" title="not found in the catalog">the model\'s own suggestion</div>'
        if not getattr(rec, "in_catalog", True)
        else ""
    )
    artist = public_text(rec.artist or "")
    artist = f'<div class="rec-artist">{html.escape(artist)}</div>' if artist else ""
    why = html.escape(public_text(rec.why))
    confidence = max(0.0, min(float(rec.confidence), 1.0))
    video = youtube_id(rec.youtube_url)
    if video:
        watch = watch_url(video)
        # The player sits in a closed <details>: the iframe loads only when opened, so the
        # page makes no network request until the user asks to play.
        play = (
            f'<details class="rec-player"><summary>▶ Play a preview</summary>'
            f'<iframe loading="lazy" src="https://www.youtube-nocookie.com/embed/{video}" '
            f'title="{name}" allow="encrypted-media; picture-in-picture" allowfullscreen>'
            f'</iframe></details><a class="rec-link" href="{watch}" target="_blank" '
            f'rel="noopener">Open on YouTube ↗</a>'
        )
    else:
        search = html.escape(youtube_search_url(rec.name, rec.artist))
        play = (
            f'<a class="rec-link" href="{search}" '
            f'target="_blank" rel="noopener">Search on YouTube ↗</a>'
        )
    return (
        f'<div class="rec-card" data-card="{rank}"><div class="rec-head">'
        f'<div class="rec-name">{name}</div>'
        f'<div class="rec-rank" title="confidence {confidence:.0%}">#{rank}</div></div>'
        f'{artist}{own}<div class="rec-why" title="{why}">{why}</div>'
        f'{_evidence(rec)}<div class="rec-play">{play}</div>{_feedback_buttons(rank)}</div>'
    )


def local_cards_html(cards: Iterable[Any]) -> str:
    """The user's own recordings a clip sounds like (``demo.local_audio.LocalCard``): name,
    artist, what matched, and an ``<audio>`` player when the file may be played. The player's
    URL sits only in ``src``; every shown string goes through :func:`public_text`."""
    shown = []
    for card in cards:
        name = html.escape(public_text(card.name))
        artist = public_text(card.artist or "")
        artist = f'<div class="rec-artist">{html.escape(artist)}</div>' if artist else ""
        why = html.escape(public_text(card.why))
        play = (
            f'<audio controls preload="none" src="{html.escape(card.url)}" title="{name}"></audio>'
            if card.url
            else '<span class="rec-own">this file cannot be played from here</span>'
        )
        shown.append(
            f'<div class="rec-card local-card"><div class="rec-head">'
            f'<div class="rec-name">{name}</div></div>{artist}'
            f'<div class="rec-why" title="{why}">{why}</div>'
            f'<div class="rec-play">{play}</div></div>'
        )
    if not shown:
        return ""
    return (
        '<div class="rec-cards local-cards"><div class="local-title">In your music</div>'
        f"{''.join(shown)}</div>"
    )


# Feature fields worth showing, in order, with how to print them; others are skipped.
_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("tempo_bpm", "Tempo", "{:.0f} BPM"),
    ("loudness_lufs", "Loudness", "{:.1f} LUFS"),
    ("brightness_hz", "Brightness", "{:.0f} Hz"),
    ("onset_density", "Onsets", "{:.1f} /s"),
    ("percussive_ratio", "Percussive", "{:.0%}"),
    ("dynamic_range_db", "Dynamic range", "{:.1f} dB"),
    ("duration_analysed_s", "Analysed", "{:.0f} s"),
)


def audio_panel_html(description: Any) -> str:
    """The audio panel: what was heard, key features as tiles, top tags, words heard."""
    parts = []
    summary = public_text(getattr(description, "summary", "") or "")
    if summary:
        parts.append(f'<p class="clip-summary">{html.escape(summary)}</p>')
    features = getattr(description, "features", None)
    rows = _feature_rows(features) if features is not None else []
    if rows:
        tiles = "".join(
            f'<div class="feat"><span class="feat-k">{label}</span>'
            f'<span class="feat-v">{html.escape(value)}</span></div>'
            for label, value in rows
        )
        parts.append(f'<div class="feat-grid">{tiles}</div>')
    tags = list(getattr(description, "tags", None) or [])[:8]
    if tags:
        chips = "".join(
            f'<span class="tag">{html.escape(t.name)} <b>{t.score:.2f}</b></span>' for t in tags
        )
        parts.append(f'<div class="tags">{chips}</div>')
    lyrics = public_text(getattr(description, "lyrics", None) or "").strip()
    if lyrics:
        snippet = lyrics if len(lyrics) <= 200 else lyrics[:199] + "…"
        parts.append(f'<p class="clip-lyrics">Words heard: “{html.escape(snippet)}”</p>')
    skipped = dict(getattr(description, "skipped", None) or {})
    if skipped:
        why = public_text("; ".join(f"{part}: {reason}" for part, reason in skipped.items()))
        parts.append(f'<p class="clip-note">Not analysed: {html.escape(why)}</p>')
    return f'<div class="clip">{"".join(parts)}</div>'


def _feature_rows(features: Any) -> list[tuple[str, str]]:
    rows = []
    key, mode = getattr(features, "key", None), getattr(features, "mode", None)
    if key:
        rows.append(("Key", f"{key} {mode or ''}".strip()))
    for field, label, fmt in _FEATURES:
        value = getattr(features, field, None)
        if isinstance(value, int | float):
            rows.append((label, fmt.format(value)))
    vocals = getattr(features, "vocals_likely", None)
    if isinstance(vocals, bool):
        rows.append(("Vocals", "likely" if vocals else "unlikely"))
    return rows
