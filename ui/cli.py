"""``rag serve``: registered through the ``rag.commands`` entry point, so ``rag`` itself never imports gradio."""

from __future__ import annotations

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
    from .app import serve as run  # gradio is imported only now: `rag --help` stays instant

    run(cfg)
