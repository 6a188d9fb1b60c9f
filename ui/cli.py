"""``rag serve``: registered through the ``rag.commands`` entry point, so ``rag`` itself never imports gradio."""

from __future__ import annotations

import threading
from typing import Any

import click

from rag.cli import config_options, get_config


@click.command("serve")
@config_options
@click.option("--host", default=None, help="Interface to bind (default: server.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: server.port, 7860).")
def serve(config_path: str | None, overrides: tuple[str, ...], host: str | None, port: int | None) -> None:
    """Serve the chat UI at / and the embeddable widget at /widget (builds the index on first run)."""
    extra = tuple(overrides)
    if host is not None:
        extra += (f"server.host={host}",)
    if port is not None:
        extra += (f"server.port={port}",)
    cfg = get_config(config_path, extra)
    # Models and index load in a thread while gradio is imported (seconds each, mostly in C code that releases
    # the GIL); gradio is imported only now, so `rag --help` stays instant.
    loaded: dict[str, Any] = {}

    def load() -> None:
        from rag.answer import Pipeline

        try:
            loaded["pipeline"] = Pipeline.load(cfg)
        except BaseException as exc:  # re-raised in the main thread, with its message
            loaded["error"] = exc

    loader = threading.Thread(target=load, name="rag-load", daemon=True)
    loader.start()
    from .app import serve as run

    loader.join()
    if "error" in loaded:
        raise loaded["error"]
    if cfg.answer.correct_spelling:  # the English typo list, built while the server starts (~0.5 s)
        from rag.spelling import english

        threading.Thread(target=english, name="rag-spelling", daemon=True).start()
    run(cfg, loaded["pipeline"])
