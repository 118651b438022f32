"""The page's look (theme, CSS) and its one browser-side guard (``HEAD``).

Conventions:

- Gradio 6 takes ``theme``, ``css`` and ``head`` in ``launch()``, not in ``Blocks()``.
- Fonts are local system stacks: a Google font would make every page load reach the
  network, which an offline laptop (or CI) does not have.
- ``HEAD`` stops a file over the upload limit before the browser uploads it and reports
  it through the hidden ``#oversize-trigger`` button, so the refusal lands in the chat
  (Gradio's own limit would only show a toast). The server enforces the same limit.
  It also sends a card's 👍 / 👎 / "more like this" button (``demo.render``) through the
  hidden ``#feedback-trigger`` button and marks the card at once (``data-verdict``).
- A turn's steps nest in one group thought (``demo.render``); the per-message copy button
  is hidden on it (Gradio offers copy per chat, not per message), so only answers have one.
"""

from __future__ import annotations

import gradio as gr

from demo.inputs import MAX_UPLOAD_MB

THEME = gr.themes.Soft(
    primary_hue="violet",
    secondary_hue="amber",
    neutral_hue="slate",
    font=["Inter", "ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)

CSS = """
.gradio-container { max-width: 1280px !important; margin: auto; }
#header { align-items: center; gap: 12px; }
#header h1 { margin: 0; font-size: 1.6rem; }
#brain { display: flex; justify-content: flex-end; }
#header p { margin: 2px 0 0; opacity: .75; }
.brain-badge { display: inline-flex; align-items: center; gap: 8px; padding: 6px 14px;
  border-radius: 999px; font-weight: 600; font-size: .85rem; white-space: nowrap;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.brain-badge .dot { width: 9px; height: 9px; border-radius: 50%; background: #10b981; }
.brain-badge.online .dot { background: #7c3aed; }
#side h3 { margin: 4px 0 8px; }
.rec-cards { display: grid; grid-template-columns: 1fr; gap: 10px; }
.rec-card { border: 1px solid var(--border-color-primary); border-radius: 12px;
  padding: 12px 14px; background: var(--background-fill-primary);
  box-shadow: 0 1px 2px rgba(0,0,0,.05); }
.rec-head { display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
.rec-name { font-weight: 700; font-size: 1.02rem; }
.rec-rank { font-size: .75rem; font-weight: 700; padding: 1px 8px; border-radius: 999px;
  background: var(--color-accent-soft); color: var(--color-accent); }
.rec-artist { opacity: .8; font-size: .9rem; margin-top: 2px; }
.rec-why { margin: 8px 0; font-size: .9rem; line-height: 1.4; display: -webkit-box;
  -webkit-line-clamp: 4; -webkit-box-orient: vertical; overflow: hidden; }
.rec-link { font-size: .85rem; font-weight: 600; color: var(--color-accent); }
.rec-thread { margin-right: 10px; }
.rec-own { font-size: .75rem; font-style: italic; opacity: .75; margin-top: 2px; }
.rec-player summary { cursor: pointer; font-size: .85rem; font-weight: 600; margin-bottom: 4px; }
.rec-player iframe { width: 100%; aspect-ratio: 16 / 9; border: 0; border-radius: 8px; }
.rec-empty { opacity: .65; font-size: .9rem; }
.clip-summary { margin: 0 0 10px; line-height: 1.45; }
.feat-grid { display: grid; gap: 6px;
  grid-template-columns: repeat(auto-fill, minmax(112px, 1fr)); }
.feat { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 6px 10px;
  background: var(--background-fill-primary); display: flex; flex-direction: column; }
.feat-k { font-size: .7rem; text-transform: uppercase; letter-spacing: .04em; opacity: .65; }
.feat-v { font-weight: 650; font-size: .95rem; }
.tags { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0 4px; }
.tag { padding: 2px 10px; border-radius: 999px; font-size: .8rem;
  background: var(--color-accent-soft); color: var(--color-accent); }
.tag b { font-weight: 600; opacity: .7; }
.clip-lyrics, .clip-note { font-size: .85rem; opacity: .8; margin: 8px 0 0; }
.rec-evidence { font-size: .82rem; opacity: .85; margin: 0 0 8px; line-height: 1.35; }
.rec-play { display: flex; flex-direction: column; align-items: flex-start; gap: 4px; }
.rec-play details { align-self: stretch; }
.rec-play audio { align-self: stretch; width: 100%; }
.local-title { grid-column: 1 / -1; font-weight: 600; font-size: .9rem; }
.rec-feedback { display: flex; gap: 6px; margin-top: 8px; flex-wrap: wrap; }
.rec-fb { border: 1px solid var(--border-color-primary); border-radius: 999px;
  padding: 2px 10px; font-size: .82rem; background: var(--background-fill-secondary);
  cursor: pointer; }
.rec-fb:hover { border-color: var(--color-accent); }
.rec-card[data-verdict="like"] { border-color: #10b981; }
.rec-card[data-verdict="like"] .rec-fb-like { background: #d1fae5; border-color: #10b981; }
.rec-card[data-verdict="dislike"] { opacity: .55; }
.rec-card[data-verdict="dislike"] .rec-fb-dislike { background: #fee2e2; border-color: #ef4444; }
#feedback-note p { margin: 6px 0 0; font-size: .9rem; }
#export { gap: 6px; margin-top: 8px; }
#chat .message-row:has(.thought-group) + .message-buttons { display: none !important; }
#oversize-trigger, #feedback-trigger, #export-trigger { display: none !important; }
"""

_LIMIT_BYTES = MAX_UPLOAD_MB * 1_000_000

HEAD = f"""
<script>
(() => {{
  const LIMIT = {_LIMIT_BYTES};
  const report = (files) => {{
    const big = Array.from(files || []).find((f) => f.size > LIMIT);
    if (!big) return false;
    window.__musicrsOversize = JSON.stringify({{ name: big.name, size: big.size }});
    const trigger = document.querySelector("#oversize-trigger");
    (trigger && (trigger.tagName === "BUTTON" ? trigger : trigger.querySelector("button")))
      ?.click();
    return true;
  }};
  // Capture phase: runs before Gradio's own listeners, so the upload never starts.
  document.addEventListener("change", (event) => {{
    const input = event.target;
    if (input instanceof HTMLInputElement && input.type === "file" && report(input.files)) {{
      event.stopImmediatePropagation();
      input.value = "";
    }}
  }}, true);
  // A card's feedback button: remember what it says, mark the card, press the trigger.
  document.addEventListener("click", (event) => {{
    const button = event.target instanceof Element && event.target.closest(".rec-fb");
    if (!button) return;
    const action = button.dataset.action, card = button.dataset.card;
    window.__musicrsFeedback = {{ action, card }};
    const shown = button.closest(".rec-card");
    if (shown && action !== "more") shown.dataset.verdict = action;
    const trigger = document.querySelector("#feedback-trigger");
    (trigger && (trigger.tagName === "BUTTON" ? trigger : trigger.querySelector("button")))
      ?.click();
  }});
  document.addEventListener("drop", (event) => {{
    if (report(event.dataTransfer && event.dataTransfer.files)) {{
      event.preventDefault();
      event.stopImmediatePropagation();
    }}
  }}, true);
}})();
</script>
"""
