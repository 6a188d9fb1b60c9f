"""The ``rag`` command: a thin shell over the library. Heavy imports happen inside commands."""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points
from typing import Any

import click

from .config import Config, load_config, parse_set
from .errors import RagError


class RagGroup(click.Group):
    """Prints ``RagError``s as one clear line (exit 2) instead of a traceback; loads plugin commands."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(2)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {ep.name for ep in entry_points(group="rag.commands")})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        for ep in entry_points(group="rag.commands"):
            if ep.name == name:
                try:
                    return ep.load()
                except ImportError as exc:
                    return _broken_plugin(name, exc)
        return None


def _broken_plugin(name: str, exc: ImportError) -> click.Command:
    """A stand-in that explains why a plugin command cannot run, instead of breaking `rag --help`."""

    def fail() -> None:
        raise click.ClickException(f"`rag {name}` is unavailable: {exc}. Reinstall the project: pip install -e .")

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})")


def config_options(func: Any) -> Any:
    """``--config`` and ``--set`` on every command that loads the config."""
    func = click.option(
        "--set", "overrides", multiple=True, metavar="KEY=VALUE",
        help="Override a setting, e.g. --set retrieve.top_k=3 (repeatable).",
    )(func)
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        help="TOML config file (default: $RAG_CONFIG or ./rag.toml if present).",
    )(func)


def get_config(config_path: str | None, overrides: tuple[str, ...]) -> Config:
    return load_config(config_path, parse_set(overrides))


@click.group(cls=RagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="grounded-rag")
def cli(verbose: int) -> None:
    """Ask questions about your documents; every answer cites the exact sentences it relies on.

    \b
    Quick start:
      rag serve                     chat UI at http://127.0.0.1:7860 (builds the index on first run)
      rag ask "What does the deployment guide say about rollbacks?"
      rag index --set paths.corpus_dir=~/wiki-export   index your own pages (txt, md, html, pdf)
      rag chat                      interactive session with follow-up questions
      rag eval evals/questions.jsonl --out evals/out
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("bm25s", "sentence_transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def load_pipeline(cfg: Config, progress: bool = True):  # type: ignore[no-untyped-def]
    from .answer import Pipeline

    return Pipeline.load(cfg, progress=progress)


@cli.command("index")
@config_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--full", is_flag=True, help="Re-parse and re-embed every file, not only added and changed ones.")
def index_command(config_path: str | None, overrides: tuple[str, ...], quiet: bool, full: bool) -> None:
    """Bring the index up to date with the corpus folder: only added and changed files are re-embedded.

    (Asking or serving also updates a stale index on its own.)
    """
    from .embed import load_embedder
    from .store import open_index

    cfg = get_config(config_path, overrides)
    embedder = load_embedder(cfg.embed.model, cfg.embed.batch_size)
    index = open_index(cfg, embedder, rebuild=full, progress=not quiet)
    m = index.manifest
    if index.changes:
        counts = ", ".join(f"{len(v)} {k}" for k, v in index.changes.items())
        click.echo(f"Files: {counts}.")
        for kind in ("added", "changed", "removed"):
            for source in index.changes[kind]:
                click.echo(f"  {kind:8} {source}")
    else:
        click.echo("The index is up to date.")
    click.echo(f"Index: {len(index.corpus.documents)} document(s), {m['n_chunks']} passages, "
               f"{m['n_sentences']} sentences, {m['dimension']}-dim vectors ({m.get('index_type', 'Flat')}) "
               f"-> {index.path}")
    for source, why in index.corpus.skipped.items():
        click.secho(f"Skipped {source}: {why}", fg="yellow", err=True)


def print_answer(answer: Any) -> None:
    style = {"fg": "yellow"} if answer.abstained else {}
    click.secho(answer.answer, **style)
    if answer.standalone_question:
        click.secho(f"(understood as: {answer.standalone_question})", dim=True)
    for c in answer.citations:
        where = f"{c.label} · {c.source}:{c.start}-{c.end}" + (f" · {c.url}" if c.url else "")
        click.echo(f"  [{c.n}] “{c.text}”")
        click.secho(f"      {where}", dim=True)


@cli.command("ask")
@click.argument("question")
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the full Answer as JSON.")
@click.option("--history", type=click.File("r"), default=None, help="JSON file with a [{role, content}] chat history.")
def ask_command(question: str, config_path: str | None, overrides: tuple[str, ...], as_json: bool, history: Any) -> None:
    """Answer one QUESTION with cited spans."""
    cfg = get_config(config_path, overrides)
    turns = []
    if history is not None:
        try:
            turns = json.load(history)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--history") from None
    from .guard import clean_question

    clean_question(question, cfg.limits.max_question_chars)  # a bad question fails before the models load
    pipe = load_pipeline(cfg, progress=not as_json)
    if as_json:
        click.echo(pipe.ask(question, turns).to_json(indent=2))
        return
    from .schema import Answer, TextDelta

    for event in pipe.stream(question, turns):
        if isinstance(event, Answer):
            click.echo()
            for c in event.citations:
                where = f"{c.label} · {c.source}:{c.start}-{c.end}" + (f" · {c.url}" if c.url else "")
                click.echo(f"  [{c.n}] “{c.text}”")
                click.secho(f"      {where}", dim=True)
            if event.standalone_question:
                click.secho(f"(understood as: {event.standalone_question})", dim=True)
        elif isinstance(event, TextDelta):
            if event.replace:  # the checked direct answer (or the judge's abstention) supersedes the text above
                click.echo()
                click.secho("→ ", nl=False, dim=True)
            click.echo(event.text, nl=False)
    sys.stdout.flush()


@cli.command("chat")
@config_options
def chat_command(config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Interactive session: follow-up questions use the conversation so far. Ctrl-D or 'exit' quits."""
    cfg = get_config(config_path, overrides)
    pipe = load_pipeline(cfg)
    history: list[dict[str, str]] = []
    click.secho("Ask about the documents (Ctrl-D or 'exit' to quit, '/reset' to forget the conversation).", dim=True)
    while True:
        try:
            question = click.prompt("you", prompt_suffix="> ")
        except (EOFError, click.Abort):
            click.echo()
            return
        if question.strip().lower() in {"exit", "quit", ":q"}:
            return
        if question.strip() == "/reset":
            history.clear()
            continue
        try:
            answer = pipe.ask(question, history)
        except RagError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            continue
        print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


@cli.command("config")
@config_options
def config_command(config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Print the effective configuration as TOML (defaults < file < RAG_SECTION__KEY env < --set)."""
    click.echo(get_config(config_path, overrides).to_toml())


# `rag eval`: batch evaluation; the command lives next to the runner it wraps (cheap import, no models).
from .evalrun import eval_command  # noqa: E402

cli.add_command(eval_command)


def main() -> None:
    cli(prog_name="rag")


if __name__ == "__main__":
    main()
