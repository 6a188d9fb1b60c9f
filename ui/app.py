"""The Gradio chat UI (at ``/``), the embeddable widget (at ``/widget``) and the ``/ask`` API, on one server.

Both pages are ``gr.Blocks`` mounted on one FastAPI app with ``gr.mount_gradio_app`` and share one
:class:`~ui.service.ChatService`, i.e. one loaded pipeline. Conversation state lives in ``gr.State``, which
Gradio keeps per browser session, so tabs and users never see each other's turns.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from rag.config import Config
from rag.schema import Answer, TextDelta

from . import render
from .security import PageCalls, add_security, max_request_bytes, route_path
from .service import ChatService, Turn, UserFacingError, parse_history

log = logging.getLogger(__name__)

WIDGET_PATH = "/widget"
SRC = "src"  # id prefix of highlighted spans in the source panel
QUOTE = "q"  # id prefix of quoted citations inside widget messages
# Browser sessions Gradio keeps per page (its default is 10,000, about 30 KB each even when empty); the oldest
# go first, so a flood of made-up sessions costs at most this many.
SESSIONS_PER_PAGE = 2000


# -- rendering turns as chat messages ---------------------------------------------------------------------------
def chat_messages(
    turns: list[Turn], widget: bool = False, corpus: str = render.DEFAULT_CORPUS
) -> list[dict[str, Any]]:
    """The chatbot value for ``turns``: exactly one user and one assistant message per turn (plus sources in the
    widget), rebuilt from server-side state so the display never feeds back into the pipeline's history."""
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        shown = turn.question if len(turn.question) <= 600 else turn.question[:600] + "…"
        messages.append({"role": "user", "content": render.escape_markdown(shown)})
        if turn.error:
            messages.append({"role": "assistant", "content": render.render_error(turn.error)})
        elif turn.answer is not None:
            prefix = QUOTE if widget else SRC
            messages.append({"role": "assistant", "content": render.render_answer(turn.answer, i, prefix, corpus)})
            if widget and turn.answer.citations:
                messages.append(
                    {
                        "role": "assistant",
                        "content": render.render_citations(turn.answer, i, quote_ids=QUOTE),
                        "metadata": {"title": f"Sources ({len(turn.answer.citations)})"},
                    }
                )
        elif turn.partial:
            messages.append({"role": "assistant", "content": render.escape_markdown(turn.partial)})
    return messages


def _selected(turns: list[Turn], index: int | None = None) -> tuple[Answer | None, int]:
    """The answered turn to show in the side panels: ``index`` if given, else the latest answered one."""
    candidates = range(len(turns)) if index is None else [index]
    for i in reversed(list(candidates)):
        if 0 <= i < len(turns) and turns[i].answer is not None:
            return turns[i].answer, i
    return None, 0


# -- the two pages ----------------------------------------------------------------------------------------------
def corpus_name(config: Config) -> str:
    """What the pages call the corpus: ``corpus.name`` ("the onboarding wiki"), else "the documents"."""
    return config.corpus.name or render.DEFAULT_CORPUS


def page_title(config: Config) -> str:
    return config.widget.title or f"Ask {corpus_name(config)}"


def build_blocks(service: ChatService, config: Config, widget: bool = False) -> gr.Blocks:
    """The full chat page (``widget=False``) or the compact embeddable one."""
    w = config.widget
    corpus = corpus_name(config)
    title = page_title(config)
    greeting = w.greeting or f"Ask me anything about {corpus}. Every answer cites its source."
    info = service.info()

    def panels(turns: list[Turn], index: int | None = None) -> tuple[str, str]:
        answer, i = _selected(turns, index)
        if answer is not None:
            sources = sorted({c.source for c in answer.citations})
        else:  # before an answer a one-document corpus shows its document; two are enough to tell
            sources = [d["source"] for d in info.get("documents", [])][:2]
        documents = [d for d in map(service.document, sources) if d is not None]
        return (
            render.render_citations(answer, i, SRC),
            render.render_sources(documents, answer, i, SRC, corpus=corpus),
        )

    def outputs_for(turns: list[Turn], box: str = "") -> tuple[Any, ...]:
        if widget:
            return chat_messages(turns, widget=True, corpus=corpus), turns, box
        return (chat_messages(turns, corpus=corpus), turns, box, *panels(turns))

    def respond(question: str, turns: list[Turn]) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat; failures end as a friendly message in the chat, not an exception."""
        turns = list(turns or [])
        turn = Turn(question=(question or "").strip())
        history = service.history(turns)
        turns.append(turn)
        yield outputs_for(turns)
        try:
            for event in service.stream(question, history):
                if isinstance(event, TextDelta):
                    turn.partial = event.text if event.replace else turn.partial + event.text
                    yield outputs_for(turns)
                elif isinstance(event, Answer):
                    turn.answer = event
        except UserFacingError as exc:
            turn.error = str(exc)
        if turn.answer is None and not turn.error:
            turn.error = "No answer came back. Please try again."
        yield outputs_for(turns)

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    def retry(turns: list[Turn]) -> Iterator[tuple[Any, ...]]:
        if not turns:
            yield outputs_for([])
            return
        yield from respond(turns[-1].question, list(turns[:-1]))

    def undo(turns: list[Turn]) -> tuple[Any, ...]:
        if not turns:
            return outputs_for([])
        return outputs_for(list(turns[:-1]), box=turns[-1].question)

    def select(turns: list[Turn], evt: gr.SelectData) -> tuple[str, str]:
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        return panels(turns, int(index) // 2 if isinstance(index, int) else None)

    examples = [{"text": q} for q in w.examples]
    with gr.Blocks(title=title, fill_height=widget, analytics_enabled=False) as demo:
        turns = gr.State([])  # list[Turn]; deep-copied per browser session by Gradio
        if widget:
            gr.Markdown(f"### {render.escape_markdown(title)}", elem_classes="widget-title")
        else:
            gr.Markdown(f"# {render.escape_markdown(title)}")
            gr.Markdown(render.render_about(info, corpus), elem_classes="about")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label=title,
                    show_label=False,
                    height=None if widget else 520,
                    min_height=300 if widget else None,
                    scale=1 if widget else None,
                    placeholder=render.escape_markdown(greeting),
                    examples=examples or None,
                    buttons=["copy"] if widget else ["copy", "copy_all"],
                    latex_delimiters=[],  # "$50 billion" is money, not maths
                    feedback_options=None,
                    elem_id="chat",
                )
                box = gr.Textbox(
                    placeholder=f"Ask a question about {corpus}…",
                    show_label=False,
                    lines=1,
                    max_lines=4,
                    submit_btn="Ask",
                    autofocus=not widget,
                    elem_id="question",
                )
                if not widget and w.examples:
                    gr.Examples(list(w.examples), inputs=box, label="Example questions")
            if not widget:
                with gr.Column(scale=2):
                    gr.Markdown("### Citations")
                    citations_html = gr.HTML(panels([])[0], elem_id="citations")
                    gr.Markdown("### Source")
                    source_html = gr.HTML(panels([])[1], elem_id="source", elem_classes="source-panel")

        outs: list[Any] = [chatbot, turns, box] + ([] if widget else [citations_html, source_html])
        ui = {"api_visibility": "private"}  # the UI's own events stay out of the API docs; /ask is the API
        box.submit(respond, [box, turns], outs, **ui)
        chatbot.example_select(pick_example, None, box, **ui).then(respond, [box, turns], outs, **ui)
        chatbot.retry(retry, turns, outs, **ui)
        chatbot.undo(undo, turns, outs, **ui)
        chatbot.clear(lambda: outputs_for([]), None, outs, **ui)
        if not widget:
            chatbot.select(select, turns, [citations_html, source_html], **ui)

            def ask(
                question: str, history: list[dict[str, str]] | None = None, request: gr.Request | None = None
            ) -> dict[str, Any]:
                """Answer one question about the corpus.

                Returns the Answer as JSON: ``answer`` with [n] markers, ``citations`` with exact character
                offsets into the source document, ``abstained`` when the documents do not say.
                """
                try:
                    return service.ask(question, parse_history(history)).to_dict()
                except UserFacingError as exc:
                    raise gr.Error(str(exc), print_exception=False) from None  # logged once by the service
                finally:
                    forget_session(demo, getattr(request, "session_hash", None))

            gr.api(ask, api_name="ask")
    # The service enforces the one server-wide limit (running + waiting answers across pages and API), so Gradio
    # hands every event straight to it; its per-page queue size stays only as a backstop.
    demo.queue(max_size=config.server.concurrency + config.server.max_queue, default_concurrency_limit=None)
    demo.state_session_capacity = SESSIONS_PER_PAGE
    return demo


def forget_session(demo: gr.Blocks, session_hash: str | None) -> None:
    """Drop the per-call session Gradio creates for each API call (it holds the call's inputs); /ask is stateless.

    A session that holds conversation state belongs to a page and is left alone.
    """
    holder = getattr(demo, "state_holder", None)
    if holder is None or not session_hash:
        return
    with holder.lock:
        session = holder.session_data.get(session_hash)
        if session is not None and not session.state_data:
            del holder.session_data[session_hash]
            holder.time_last_used.pop(session_hash, None)


def page_calls(demo: gr.Blocks) -> PageCalls:
    """The events a page has (``fn_index`` → number of inputs), its public API names and the select handlers
    (Gradio fails with a traceback when their event data lacks ``index`` or ``value``), for the request guard."""
    fns = {int(i): len(fn.inputs) for i, fn in demo.fns.items()}
    apis = {fn.api_name: len(fn.inputs) for fn in demo.fns.values() if fn.api_name and fn.api_visibility != "private"}
    selects = {int(i): ("index", "value") for i, fn in demo.fns.items() if _takes(fn.fn, gr.SelectData)}
    return PageCalls(fns=fns, apis=apis, event_keys=selects)


def _takes(fn: Any, kind: type) -> bool:
    """Whether ``fn`` has a parameter annotated with ``kind`` (how Gradio decides to pass event data)."""
    try:
        hints = typing.get_type_hints(fn) if fn is not None else {}
    except (NameError, TypeError):
        return False
    return any(isinstance(h, type) and issubclass(h, kind) for h in hints.values())


# -- the server -------------------------------------------------------------------------------------------------
def _gradio_js() -> str:
    """Gradio's own web-component loader, so hosts embed with ``<script src=…/gradio.js>`` and no CDN."""
    return (Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js").read_text(encoding="utf-8")


def create_app(service: ChatService, config: Config) -> FastAPI:
    """One FastAPI app: the widget at ``/widget``, the full UI and ``/ask`` at ``/``, security middleware around."""
    app = FastAPI(title=page_title(config), docs_url=None, redoc_url=None, openapi_url=None)
    loader = _gradio_js()
    theme = "dark" if config.widget.theme.lower() == "dark" else "light"

    @app.get("/gradio.js", include_in_schema=False)
    def gradio_js() -> Response:
        return Response(loader, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.add_middleware(WidgetTheme, path=WIDGET_PATH, theme=theme)

    widget = build_blocks(service, config, widget=True)
    full = build_blocks(service, config, widget=False)
    css = render.CSS + _WIDGET_CSS
    # The widget first: a mount at "/" would otherwise swallow /widget. No root_path here: behind a proxy,
    # uvicorn's root_path puts the public prefix in every request's scope, where Gradio and the guard read it.
    # show_error=False: clients see the messages of gr.Error (our friendly ones), never raw exception text.
    common = {
        "run_history": False, "css": css, "js": render.CITE_JS, "ssr_mode": False, "show_error": False,
        "enable_monitoring": config.server.monitoring,
    }
    gr.mount_gradio_app(app, widget, WIDGET_PATH, footer_links=[], **common)
    gr.mount_gradio_app(app, full, "/", footer_links=["api"], **common)
    limit = max_request_bytes(config.limits, config.server.max_request_bytes)
    add_security(app, config.widget, limit, pages={WIDGET_PATH: page_calls(widget), "/": page_calls(full)})
    return app


class WidgetTheme:
    """Redirect ``/widget`` to ``/widget/?__theme=…``: Gradio takes the light/dark theme from that URL parameter."""

    def __init__(self, app: Any, path: str, theme: str) -> None:
        self.app, self.path, self.theme = app, path, theme

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and route_path(scope).rstrip("/") == self.path:
            query = scope.get("query_string", b"").decode("latin-1")
            if "__theme=" not in query:
                root = scope.get("root_path", "").rstrip("/")
                target = f"{root}{self.path}/?{query + '&' if query else ''}__theme={self.theme}"
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)


_WIDGET_CSS = """
.widget-title h3 { margin: 0; }
"""


def serve(config: Config, pipeline: Any | None = None, progress: bool = True) -> None:
    """Load the pipeline (building the index on first run) and serve until interrupted. Never a public share link."""
    import uvicorn

    if pipeline is None:
        from rag.answer import Pipeline

        pipeline = Pipeline.load(config, progress=progress)
    service = ChatService(
        pipeline, config.server.concurrency, config.limits.max_history_turns, config.server.max_queue
    )
    app = create_app(service, config)
    host, port = config.server.host, config.server.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    if config.server.root_path:
        base = f"<your proxy>{config.server.root_path.rstrip('/')}"  # with a root_path, pages only work through it
        print(f"Listening on {host}:{port}, for a reverse proxy that strips {config.server.root_path}.")
    print(f"Chat UI:  {base}/")
    print(f"Widget:   {base}{WIDGET_PATH}/   (embed: {base}/gradio.js)")
    print("API:      /ask (see 'Use via API' at the bottom of the chat page)")
    uvicorn.run(
        app, host=host, port=port, root_path=config.server.root_path.rstrip("/"), log_level="warning",
        proxy_headers=True, forwarded_allow_ips="127.0.0.1",
    )
