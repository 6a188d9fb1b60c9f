"""Batch evaluation: ask every question of a set through the pipeline, score it, write results and a report.

``rag eval`` is a thin shell over ``run_eval``; the pipeline comes from a factory so tests pass a fake.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import click

from .config import PROJECT_ROOT, Config, load_config, parse_set
from .errors import ConfigError, RagError
from .evaluate import ConfigRun, EvalQuestion, QuestionRun, evaluate_answer, load_questions, summarize
from .schema import Answer, Document

log = logging.getLogger(__name__)


class PipelineLike(Protocol):
    """The slice of ``rag.answer.Pipeline`` the evaluation needs."""

    def ask(self, question: str, history: Sequence[Mapping[str, str]] = ()) -> Answer: ...

    def document(self, source: str) -> Document: ...

    def info(self) -> dict[str, Any]: ...


PipelineFactory = Callable[[Config, bool], PipelineLike]


def load_pipeline(config: Config, progress: bool = True) -> PipelineLike:
    """The real pipeline; imported here so `rag eval --help` and metric tests never load models."""
    from .answer import Pipeline

    return Pipeline.load(config, progress=progress)


# --------------------------------------------------------------------------- configurations


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_compare(spec: str) -> tuple[str, list[tuple[str, str]]]:
    """``NAME=key=value[,key=value]`` -> (NAME, overrides). A bare ``NAME`` runs the base config."""
    name, _, rest = spec.partition("=")
    name = name.strip()
    if not _NAME.match(name):
        raise ConfigError(
            f"--compare {spec!r}: the name must be letters, digits, '_', '-' or '.' (it becomes a folder), "
            "e.g. --compare k2=retrieve.top_k=2"
        )
    pairs = [p for p in (part.strip() for part in rest.split(",")) if p] if rest else []
    try:
        return name, parse_set(pairs)
    except ConfigError:
        raise ConfigError(
            f"--compare {spec!r}: expected NAME=section.key=value[,section.key=value], e.g. "
            "--compare extractive=generate.backend=none"
        ) from None


def build_configs(
    config_file: str | None, sets: Iterable[str], compares: Iterable[str]
) -> dict[str, tuple[Config, list[tuple[str, str]]]]:
    """Name -> (config, overrides) for each run; ``--set`` applies to all, each ``--compare`` adds its own."""
    base = parse_set(sets)
    compares = list(compares)
    if not compares:
        return {"default": (load_config(config_file, base), base)}
    runs: dict[str, tuple[Config, list[tuple[str, str]]]] = {}
    for spec in compares:
        name, extra = parse_compare(spec)
        if name in runs:
            raise ConfigError(f"--compare name {name!r} is used twice; give each configuration its own name.")
        runs[name] = (load_config(config_file, base + extra), base + extra)
    return runs


# --------------------------------------------------------------------------- running


def source_texts(pipe: PipelineLike, config: Config) -> dict[str, str]:
    """Every source text, so gold evidence can be located in any document (not only retrieved ones)."""
    docs = (pipe.info() or {}).get("documents")
    if isinstance(docs, list) and docs:
        names = [d if isinstance(d, str) else d.get("source", "") for d in docs]
        return {n: pipe.document(n).text for n in names if n}
    from .corpus import load_corpus

    return {d.source: d.text for d in load_corpus(config.paths.corpus_dir, config.corpus.base_url).documents}


def _ask(pipe: PipelineLike, q: EvalQuestion) -> tuple[Answer, str]:
    try:
        return pipe.ask(q.question, q.history), ""
    except RagError as exc:  # e.g. an over-long question: a refusal of sorts, not a reason to stop the run
        log.warning("%s: %s", q.id, exc)
        return Answer(question=q.question, answer="", abstained=True, reason="invalid"), f"{type(exc).__name__}: {exc}"


def ask_all(
    pipe: PipelineLike,
    questions: Sequence[EvalQuestion],
    sources: dict[str, str],
    *,
    k: int | None = None,
    progress: bool = True,
    desc: str = "eval",
) -> list[QuestionRun]:
    """Ask and score each question in order, with a progress bar."""
    from tqdm import tqdm

    runs = []
    for q in tqdm(questions, desc=desc, unit="q", disable=not progress, file=sys.stderr):
        answer, error = _ask(pipe, q)
        for span in [*answer.passages, *answer.citations]:
            if span.source not in sources:  # a document the listing missed: fetch it rather than miss a hit
                try:
                    sources[span.source] = pipe.document(span.source).text
                except (KeyError, RagError):
                    pass
        result = evaluate_answer(q, answer, sources, k)
        if result.missing_evidence:
            log.warning("%s: evidence not found verbatim in any source, fix the question: %r", q.id, result.missing_evidence)
        runs.append(QuestionRun(q, answer, result, error))
    return runs


RESULT_KEYS = ("id", "question", "answer", "abstained", "citations", "retrieved", "latency_s", "ttft_s")


def result_row(run: QuestionRun) -> dict[str, Any]:
    """One results.jsonl line: the fixed keys first, then context and every metric."""
    q, a, r = run.question, run.answer, run.result
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "answer": a.answer,
        "abstained": a.abstained,
        "citations": [{"source": c.source, "start": c.start, "end": c.end, "text": c.text} for c in a.citations],
        "retrieved": [
            {"source": p.source, "start": p.start, "end": p.end, "score": p.score}
            for p in sorted(a.passages, key=lambda p: p.rank)
        ],
        "latency_s": a.timings.total_s,
        "ttft_s": a.timings.ttft_s,
        "type": q.type,
        "answerable": q.answerable,
        "standalone_question": a.standalone_question,
        "reason": a.reason,
        "generator": a.generator,  # extractive, lm (a direct answer), lm-judged, refusal
        "signals": a.signals,
    }
    if run.error:
        row["error"] = run.error
    for key, value in r.to_dict().items():
        row.setdefault(key, value)
    return row


def machine_info() -> dict[str, Any]:
    """Enough about the machine to read latencies in context."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    for module in ("torch", "transformers", "sentence_transformers", "faiss", "llama_cpp"):
        if module in sys.modules:  # only report what the run actually used; never import for this
            info[f"{module}_version"] = getattr(sys.modules[module], "__version__", "?")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _run_entry(run: ConfigRun) -> dict[str, Any]:
    summary = run.summary.to_dict()
    by_type = summary.pop("by_type")
    return {
        "overall": summary,
        "by_type": by_type,
        "overrides": [f"{k}={v}" for k, v in run.overrides],
        "config": run.config.to_dict(),
        "pipeline": run.pipeline_info,
    }


def run_eval(
    questions_path: str | Path,
    out_dir: str | Path,
    configs: Mapping[str, tuple[Config, list[tuple[str, str]]]],
    *,
    limit: int | None = None,
    pipeline_factory: PipelineFactory | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every configuration over the questions and write results.jsonl, summary.json and report.html.

    One configuration writes ``out/results.jsonl``; several write ``out/<name>/results.jsonl`` each and share
    one summary and one report, side by side. Returns the summary dict.
    """
    questions = load_questions(questions_path)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--limit {limit}: give a positive number of questions.")
        questions = questions[:limit]
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RagError(f"Cannot create the output folder {out}: {exc.strerror}. Pick another --out.") from None
    factory = pipeline_factory or load_pipeline  # looked up now, so tests can swap the module's loader
    compare = len(configs) > 1
    done: list[ConfigRun] = []
    for name, (config, overrides) in configs.items():
        pipe = factory(config, progress)
        sources = source_texts(pipe, config)
        runs = ask_all(pipe, questions, sources, k=config.retrieve.top_k, progress=progress, desc=name)
        run = ConfigRun(name, config, overrides, runs, summarize([r.result for r in runs]), pipe.info(), sources)
        run_dir = out / name if compare else out
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_jsonl(run_dir / "results.jsonl", (result_row(r) for r in runs))
        done.append(run)
        del pipe  # let one configuration's models go before the next loads its own
        gc.collect()

    summary: dict[str, Any] = {
        "questions": str(questions_path),
        "n_questions": len(questions),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "runs": {run.name: _run_entry(run) for run in done},
    }
    if not compare:  # one run: its numbers at the top level too, where a reader looks first
        summary.update({k: v for k, v in summary["runs"][done[0].name].items()})
    else:
        for run in done:
            (out / run.name / "summary.json").write_text(
                json.dumps(summary["runs"][run.name], indent=2, ensure_ascii=False), encoding="utf-8"
            )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")

    from .report import write_report

    write_report(out / "report.html", done, summary)
    return summary


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table of the headline metrics, one column per configuration."""
    from .report import HEADLINE_METRICS, fmt_metric

    names = list(summary["runs"])
    width = max(len(label) for _, label in HEADLINE_METRICS) + 2
    lines = ["".ljust(width) + "".join(n[:12].rjust(13) for n in names)]
    for key, label in HEADLINE_METRICS:
        cells = [fmt_metric(key, summary["runs"][n]["overall"].get(key)) for n in names]
        lines.append(label.ljust(width) + "".join(c.rjust(13) for c in cells))
    for n in names:
        failed = summary["runs"][n]["overall"]["failed"]
        lines.append(f"failed [{n}] ({len(failed)}): {' '.join(failed) or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command


@click.command("eval")
@click.argument("questions", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("evals/out"),
              show_default=True, help="Folder for results.jsonl, summary.json and report.html.")  # fmt: skip
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="A TOML config file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a setting for every run.")
@click.option("--compare", "compares", multiple=True, metavar="NAME=KEY=VALUE[,KEY=VALUE]",
              help="Add a named configuration; give two or more to compare them side by side.")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def eval_command(
    questions: Path,
    out_dir: Path,
    limit: int | None,
    config_file: str | None,
    sets: tuple[str, ...],
    compares: tuple[str, ...],
    progress: bool,
) -> None:
    """Answer every question of QUESTIONS (.jsonl or .csv); score answers, retrieval, citations and refusals.

    \b
    Writes OUT/results.jsonl, OUT/summary.json and OUT/report.html. Compare configurations side by side:
      rag eval evals/questions.jsonl --out evals/out/k --compare k2=retrieve.top_k=2 --compare k6=retrieve.top_k=6
    """
    configs = build_configs(config_file, sets, compares)
    summary = run_eval(questions, out_dir, configs, limit=limit, progress=progress)
    click.echo(format_summary(summary))
    click.echo(f"\nWrote {out_dir / 'summary.json'} and {out_dir / 'report.html'}")
