"""The Gradio app: layout, events and launch settings. ``python -m demo`` or
``python demo/app.py`` starts it (also the Hugging Face Space's ``app_file``).

Conventions:

- :func:`build_app` wires any agent with the ``MusicAgent`` turn API into a page; tests pass
  a stand-in, :func:`main` passes the real ``agent.build_agent()``.
- One server-side chat session per Gradio ``session_hash`` (see ``demo.sessions``).
- The ``/chat`` API endpoint takes the chat-box dict ``{"text", "files"}`` and returns
  (chat, box, cards HTML, audio panel HTML, plot, turn summary JSON); the last output is
  what API clients read (see ``demo.chat.turn_summary``). ``/feedback`` takes (action,
  card) and returns the same outputs plus the note under the cards and the feedback as
  JSON (its last output); ``/export`` returns the session's M3U8, CSV and JSPF playlists.
- The "How well does it do?" tab reads the benchmark results file (``demo.benchmark``)
  whenever it is opened.
- Environment: the server's settings (``demo.settings.ServerSettings``: host, port, turns
  run at once and waiting), plus the agent's own settings (``agent.settings``). A bad value
  stops ``main`` with one sentence before anything loads. No secret is ever shown.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a script (``python demo/app.py``, as Spaces do): make the repo importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr

from demo import render
from demo.benchmark import RESULTS_FILE, TABLE_HEADERS, read_benchmark
from demo.chat import ChatController, TurnAgent, View
from demo.inputs import MAX_UPLOAD_MB
from demo.local_audio import LocalAudio
from demo.plot import community_figure, timeline_figure
from demo.sessions import SessionStore, browser_secret
from demo.settings import ServerSettings, SessionSettings
from demo.style import CSS, HEAD, THEME

log = logging.getLogger(__name__)

TITLE = "musicrs-chat"
EXAMPLES = [
    {"text": "I love Boards of Canada and Tycho: dreamy, warm electronic music. What next?"},
    {"text": "Recommend modal jazz like Kind of Blue by Miles Davis."},
    {"text": "Heavy but melodic metal with clean vocals, something like Deftones?"},
    {"text": "https://www.youtube.com/watch?v=dQw4w9WgXcQ more songs with this vibe"},
]
EMPTY_CARDS = (
    '<div class="rec-empty">Recommendations appear here: say what you like, attach a clip '
    "or paste a YouTube link.</div>"
)
BOX_PLACEHOLDER = "Say what you like, paste a YouTube link, or attach a clip…"
BENCHMARK_INTRO = (
    "### How well does it do?\n"
    "The recommender replayed over [MusiCRS](https://arxiv.org/abs/2509.19469): real Reddit "
    "music requests, each with 100 candidates to rank, scored with the paper's metrics "
    "(Recall@20 and nDCG@20, mean ± one standard error). Our runs come from `python -m evals "
    "run`; the published rows are the paper's own. Open-recommendation runs (task "
    "`recommend`) answer a harder question and are not comparable with the ranking rows."
)
PLACEHOLDER = (
    "### 🎧 What are you in the mood for?\n"
    "Tell me artists or songs you love, paste a YouTube link, or attach or record a clip "
    "and I'll listen to it. You'll see each step as I work."
)


def _box(locked: bool | None) -> Any:
    if locked is None:
        return gr.skip()
    return gr.MultimodalTextbox(value={"text": "", "files": []}, interactive=not locked)


def _outputs(view: View) -> tuple[Any, ...]:
    """A :class:`View` as the ``/chat`` outputs, skipping what did not change."""
    cards = gr.skip() if view.cards is None else (view.cards or EMPTY_CARDS)
    if view.fresh:
        panel, text, plot = gr.Column(visible=False), "", None
    elif view.audio is None:
        panel = text = plot = gr.skip()
    else:
        panel = gr.Column(visible=True)
        text = render.audio_panel_html(view.audio)
        plot = timeline_figure(view.audio)
    turn = gr.skip() if view.turn is None else view.turn
    return (view.messages, _box(view.box_locked), cards, panel, text, plot, turn)


def build_app(
    agent: TurnAgent,
    brain_label: str,
    *,
    notice: str = "",
    server: ServerSettings | None = None,
    sessions: SessionSettings | None = None,
    results: Path = RESULTS_FILE,
    local_audio: LocalAudio | None = None,
) -> gr.Blocks:
    """The page for ``agent``; ``notice`` is an optional start-up note (e.g. no catalog);
    ``server`` defaults to :meth:`ServerSettings.from_env`; ``results`` is the benchmark
    results file the "How well does it do?" tab shows (``demo.benchmark``); ``local_audio``
    the user's indexed music, whose cards play (launch with the same one in
    :func:`launch_options`)."""
    # With ``sessions`` the chats and the browser's session id outlive a restart.
    store = (
        SessionStore(agent.reset, database=sessions.database, idle_s=sessions.idle_s)
        if sessions
        else None
    )
    controller = ChatController(agent, store, local_audio)
    server = server or ServerSettings.from_env()
    # Playlists are written per session under the temp folder, which Gradio may serve.
    exports = Path(tempfile.gettempdir()) / "musicrs-chat-exports"

    def respond(value: dict[str, Any] | None, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        for view in controller.respond(request.session_hash, value):
            yield _outputs(view)

    def new_conversation(request: gr.Request) -> tuple[Any, ...]:
        view = controller.new_conversation(request.session_hash)
        return (*_outputs(view), view.session_id or gr.skip())

    def restore(stored_id: object, request: gr.Request) -> tuple[Any, ...]:
        view = controller.restore(request.session_hash, stored_id)
        return view.messages, view.cards or EMPTY_CARDS, view.session_id

    def feedback(action: str, card: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        for view, answer in controller.feedback(request.session_hash, action, card):
            chat = _outputs(view) if view is not None else (gr.skip(),) * 7
            yield (*chat, answer["message"], answer)

    def export(request: gr.Request) -> tuple[Path | None, ...]:
        files = controller.export(request.session_hash, exports)
        return (files.m3u8, files.csv, files.jspf) if files else (None, None, None)

    def show_exports(request: gr.Request) -> tuple[Any, ...]:
        return tuple(gr.DownloadButton(value=p, visible=p is not None) for p in export(request))

    def benchmark() -> tuple[Any, ...]:
        scores = read_benchmark(results)
        return scores.note, scores.table(), community_figure(scores.ranking_runs)

    def oversize(report: str, request: gr.Request) -> tuple[Any, ...]:
        try:
            data = json.loads(report)
            view = controller.oversize(request.session_hash, str(data["name"]), int(data["size"]))
        except (ValueError, KeyError, TypeError):
            return (gr.skip(),) * 7
        return _outputs(view)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        with gr.Row(elem_id="header", equal_height=True):
            with gr.Column(scale=1):
                gr.Markdown(
                    f"# 🎧 {TITLE}\nTalk about music, play me a clip or paste a YouTube link, "
                    "and get recommendations I can justify.",
                    elem_id="title",
                )
            with gr.Column(scale=0, min_width=220):
                gr.HTML(render.badge_html(brain_label), elem_id="brain")
        if notice:
            gr.Markdown(f"ℹ️ {notice}", elem_id="notice")
        with gr.Tabs():
            with gr.Tab("💬 Chat", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        show_label=False,
                        height=580,
                        placeholder=PLACEHOLDER,
                        buttons=["copy"],  # answers only: demo.style hides it on steps
                        feedback_options=None,
                        group_consecutive_messages=False,
                    )
                    # file_types stays open: a wrong file must reach us to be answered
                    # in the chat; Gradio's own type check would only raise a toast.
                    box = gr.MultimodalTextbox(
                        elem_id="chat-box",
                        show_label=False,
                        sources=["upload", "microphone"],
                        file_count="single",
                        placeholder=BOX_PLACEHOLDER,
                        autofocus=True,
                    )
                    with gr.Row():
                        gr.Examples(EXAMPLES, inputs=box, label="Try one")
                    new_button = gr.Button("🔄 New conversation", variant="secondary", size="sm")
                with gr.Column(scale=2, elem_id="side"):
                    gr.Markdown("### 🎵 Recommendations")
                    cards = gr.HTML(EMPTY_CARDS, elem_id="cards")
                    feedback_note = gr.Markdown(elem_id="feedback-note")
                    with gr.Row(elem_id="export"):
                        downloads = [
                            gr.DownloadButton(
                                f"⬇ {label}", visible=False, size="sm", elem_id=f"export-{ext}"
                            )
                            for label, ext in (
                                ("M3U8", "m3u8"),
                                ("CSV", "csv"),
                                ("JSPF", "jspf"),
                            )
                        ]
                    with gr.Column(visible=False, elem_id="audio-panel") as panel:
                        gr.Markdown("### 🔊 Your clip")
                        panel_text = gr.HTML(elem_id="audio-text")
                        panel_plot = gr.Plot(show_label=False, elem_id="audio-plot")
            with gr.Tab("📊 How well does it do?", id="bench-tab") as bench_tab:
                gr.Markdown(BENCHMARK_INTRO, elem_id="bench-intro")
                bench_note = gr.Markdown(elem_id="bench-note")
                bench_table = gr.Dataframe(
                    headers=TABLE_HEADERS, interactive=False, elem_id="bench-table"
                )
                bench_plot = gr.Plot(show_label=False, elem_id="bench-plot")
        turn = gr.JSON(visible=False)
        oversize_report = gr.Textbox(visible="hidden")
        oversize_button = gr.Button("oversize", elem_id="oversize-trigger", visible="hidden")
        # A card's button (demo.style.HEAD) fills these and presses the hidden trigger.
        feedback_action = gr.Textbox(visible="hidden", label="action")
        feedback_card = gr.Textbox(visible="hidden", label="card")
        feedback_answer = gr.JSON(visible=False)
        feedback_button = gr.Button("feedback", elem_id="feedback-trigger", visible="hidden")
        export_button = gr.Button("export", elem_id="export-trigger", visible="hidden")
        # The conversation's id, kept by the browser across reloads (see demo.sessions).
        browser_session = gr.BrowserState(
            "",
            storage_key="musicrs-chat-session",
            secret=browser_secret(sessions.data_dir if sessions else None),
        )

        outputs = [chatbot, box, cards, panel, panel_text, panel_plot, turn]
        refresh = {"fn": show_exports, "outputs": downloads, "api_visibility": "private"}
        box.submit(
            respond,
            inputs=[box],
            outputs=outputs,
            api_name="chat",
            concurrency_limit=server.concurrency,
            trigger_mode="once",  # a double-click on send runs the turn once
            show_progress="hidden",  # the streamed steps are the progress display
        ).then(**refresh)
        new_button.click(
            new_conversation, outputs=[*outputs, browser_session], api_name="new_conversation"
        ).then(lambda: "", outputs=feedback_note, api_visibility="private").then(**refresh)
        # The chat's own trash button must forget the agent's memory too, not just the view.
        chatbot.clear(
            new_conversation, outputs=[*outputs, browser_session], api_visibility="private"
        ).then(**refresh)
        app.load(
            restore,
            inputs=[browser_session],
            outputs=[chatbot, cards, browser_session],
            api_visibility="private",
        ).then(**refresh)
        feedback_button.click(
            feedback,
            inputs=[feedback_action, feedback_card],
            outputs=[*outputs, feedback_note, feedback_answer],
            js="() => { const f = window.__musicrsFeedback || {}; return [f.action, f.card]; }",
            api_name="feedback",
            concurrency_limit=server.concurrency,
            show_progress="hidden",
        ).then(**refresh)
        export_button.click(export, outputs=downloads, api_name="export")
        # Read when the tab opens, so a results file written meanwhile shows up.
        bench_tab.select(
            benchmark, outputs=[bench_note, bench_table, bench_plot], api_visibility="private"
        )
        oversize_button.click(
            oversize,
            inputs=[oversize_report],
            outputs=outputs,
            js="() => [window.__musicrsOversize || '']",
            api_visibility="private",
        )
    app.queue(
        default_concurrency_limit=server.concurrency,
        max_size=server.queue_size,
    )
    return app


def launch_options(
    server: ServerSettings | None = None, local_audio: LocalAudio | None = None
) -> dict[str, Any]:
    """``launch()`` keyword arguments: network, limits, look, and the only local files
    served besides Gradio's own (the sound index's, ``demo.local_audio``)."""
    server = server or ServerSettings.from_env()
    return {
        "allowed_paths": local_audio.allowed_paths() if local_audio else [],
        "server_name": server.host,
        "server_port": server.port,
        # Decimal MB, the same limit the chat check and the audio tools apply.
        "max_file_size": MAX_UPLOAD_MB * 1_000_000,
        "show_error": False,
        "theme": THEME,
        "css": CSS,
        "head": HEAD,
    }


def main() -> None:
    """Get the real agent ready (building the catalog if needed), serve the page."""
    from agent import Settings
    from demo.readiness import ready_agent, warm_up
    from vectorstore.musicrs import DataSettings
    from vectorstore.store import store_location

    try:  # every setting is checked before the catalog and the models load
        server = ServerSettings.from_env()
        sessions = SessionSettings.from_env()
        Settings.from_env()
        store_location()
        DataSettings.from_env()
    except ValueError as error:  # the settings' errors are one sentence each
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    agent, notice = ready_agent(sessions_db=str(sessions.database))
    # The page starts while the models load; a turn arriving meanwhile just waits longer.
    threading.Thread(target=warm_up, args=(agent,), name="warm-up", daemon=True).start()
    local_audio = LocalAudio.beside(agent.settings.catalog_path)
    app = build_app(
        agent,
        agent.settings.brain_label,
        notice=notice,
        server=server,
        sessions=sessions,
        local_audio=local_audio,
    )
    app.launch(**launch_options(server, local_audio))


if __name__ == "__main__":
    main()
