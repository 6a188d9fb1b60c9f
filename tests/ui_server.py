"""Helpers for the UI and widget tests: serve an app on a free port in a thread, a static host page, Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SEED_QUESTION = "How many U.S. military personnel does Japan host?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_app(app: Any, port: int | None = None, root_path: str = "") -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread (lifespan on, so Gradio's queue starts); yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", root_path=root_path))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_static(directory: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """A plain http.server for a host page, on another port (so another origin) than the app."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (browser downloads are not possible here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def fake_pipeline(index_dir: Path, **overrides: Any) -> Any:
    """The real pipeline code over the seed article with the fake embedder and generator (fast)."""
    from rag.answer import Pipeline
    from rag.config import Config
    from rag.embed import FakeEmbedder
    from rag.generate import FakeGenerator

    # (FakeGenerator never copies a short answer phrase: the rules reading that as "not in the documents" are off.)
    cfg = Config().replace(**{"paths.index_dir": str(index_dir), "reader.judge_min_if_uncopied": 0.0,
                              "reader.judge_min_if_made_up": 0.0, **overrides})
    return Pipeline.load(cfg, embedder=FakeEmbedder(), generator=FakeGenerator(), progress=False)


class Faulty:
    """Wraps a pipeline: questions containing ``explode`` fail in the model, ``slow`` ones take a while."""

    def __init__(self, inner: Any, delay: float = 2.0) -> None:
        self.inner, self.delay = inner, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, question: str, history: Any = ()) -> Any:
        from rag.errors import GenerationError

        if "explode" in question:
            raise GenerationError("llama.cpp: KV cache exhausted (internal detail the user must not see)")
        if "slow" in question:
            time.sleep(self.delay)
        yield from self.inner.stream(question, history)

    def ask(self, question: str, history: Any = ()) -> Any:
        *_, answer = self.stream(question, history)
        return answer


def make_app(pipeline: Any, **overrides: Any) -> Any:
    """The real server app (UI, widget, API, guard) around ``pipeline`` with config overrides."""
    from rag.config import Config
    from ui.app import create_app
    from ui.service import ChatService

    cfg = Config().replace(**overrides) if overrides else Config()
    service = ChatService(pipeline, cfg.server.concurrency, cfg.limits.max_history_turns, cfg.server.max_queue)
    return create_app(service, cfg)
