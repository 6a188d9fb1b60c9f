"""A self-contained HTML report of an evaluation run: metric tables, a latency plot, and every failure.

Everything user- or model-written is HTML-escaped; the plot is an inline base64 PNG so the file travels alone.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .evaluate import ConfigRun, QuestionRun, locate_evidence, overlaps

log = logging.getLogger(__name__)

# (summary key, label) in table order; rates are shown as percentages, *_s as seconds.
HEADLINE_METRICS: tuple[tuple[str, str], ...] = (
    ("n", "questions"),
    ("pass_rate", "pass rate"),
    ("answer_accuracy", "answer accuracy"),
    ("token_f1", "token F1"),
    ("hit_at_1", "retrieval hit@1"),
    ("hit_at_k", "retrieval hit@k"),
    ("mrr", "retrieval MRR"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("citation_hit_rate", "citation hit"),
    ("citation_exactness", "citation exactness"),
    ("abstention_accuracy", "abstention accuracy"),
    ("abstention_precision", "abstention precision"),
    ("abstention_recall", "abstention recall"),
    ("false_abstention_rate", "false abstention rate"),
    ("latency_p50_s", "latency p50"),
    ("latency_p95_s", "latency p95"),
    ("ttft_p50_s", "time to first token p50"),
    ("ttft_p95_s", "time to first token p95"),
)
TYPE_METRICS = ("n", "pass_rate", "answer_accuracy", "token_f1", "hit_at_k", "mrr", "citation_hit_rate",
                "abstention_accuracy", "latency_p50_s")  # fmt: skip
_LABELS = dict(HEADLINE_METRICS)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #dde;padding:.25rem .55rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f5f9}
.meta{color:#5b6375;font-size:12px}.pass{color:#17803d}.fail{color:#b42318}
details{border:1px solid #dde;border-radius:6px;margin:.4rem 0;padding:.3rem .7rem}summary{cursor:pointer}
.q{font-weight:600}.box{background:#f8f9fb;border-left:3px solid #c7cde0;padding:.3rem .6rem;margin:.3rem 0;
white-space:pre-wrap}.gold{border-left-color:#17803d}.rel{border-left-color:#2563eb}
.tag{display:inline-block;font-size:11px;padding:0 .4rem;border-radius:8px;background:#eef;margin-right:.3rem}
img{max-width:100%}
"""


def fmt_metric(key: str, value: Any) -> str:
    """Counts as integers, seconds with units, MRR as a fraction, rates as percentages, missing as an em dash."""
    if value is None:
        return "—"
    if key == "n" or key.startswith("n_"):
        return str(value)
    if key.endswith("_s"):
        return f"{value:.2f}s"
    if key in ("mrr", "reciprocal_rank"):
        return f"{value:.3f}"
    return f"{100 * value:.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def latency_plot_png(runs: Sequence[ConfigRun]) -> bytes | None:
    """Box plots of total latency and time to first token per configuration; None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed; the report has no latency plot.")
        return None
    names = [r.name for r in runs]
    total = [[q.answer.timings.total_s for q in r.runs] for r in runs]
    ttft = [[q.answer.timings.ttft_s for q in r.runs if q.answer.timings.ttft_s > 0] or [0.0] for r in runs]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
    for ax, data, title in ((axes[0], total, "total latency (s)"), (axes[1], ttft, "time to first token (s)")):
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _failure_html(qr: QuestionRun, sources: Mapping[str, str]) -> str:
    q, a, r = qr.question, qr.answer, qr.result
    gold, _ = locate_evidence(q.evidence, sources)
    why = []
    if r.false_abstention:
        why.append("refused an answerable question")
    elif not q.answerable:
        why.append(f"should have refused ({q.type})")
    elif r.answer_correct == 0:
        why.append("gold answer not in the answer")
    if r.hit_at_k == 0:
        why.append("no gold evidence retrieved")
    if qr.error:
        why.append(qr.error)
    parts = [
        f"<summary><span class='fail'>✗</span> <b>{escape(q.id)}</b> <span class='tag'>{escape(q.type)}</span>"
        f"{escape(q.question)} <span class='meta'>— {escape('; '.join(why))}</span></summary>"
    ]
    for turn in q.history:
        parts.append(f"<div class='meta'>{escape(turn['role'])}: {escape(turn['content'])}</div>")
    if a.standalone_question and a.standalone_question != q.question:
        parts.append(f"<div class='meta'>rewritten: {escape(a.standalone_question)}</div>")
    if q.answers:
        parts.append(f"<div class='meta'>gold answers: {escape(' | '.join(q.answers))}</div>")
    parts.extend(f"<div class='box gold'>{escape(e)}</div>" for e in q.evidence)
    state = f"abstained ({a.reason or 'no reason'})" if a.abstained else (a.generator or "answered")
    parts.append(f"<div class='q'>Answer <span class='tag'>{escape(state)}</span></div>")
    parts.append(f"<div class='box'>{escape(a.answer) or '<i>(empty)</i>'}</div>")
    if a.citations:
        parts.append("<div class='q'>Citations</div>")
        for c in a.citations:
            on_gold = any(overlaps(c.source, c.start, c.end, g) for g in gold)
            parts.append(
                f"<div class='box{' rel' if on_gold else ''}'>[{c.n}] {escape(c.source)}:{c.start}-{c.end}"
                f"{' (on gold)' if on_gold else ''}\n{escape(c.text)}</div>"
            )
    if a.passages:
        parts.append("<div class='q'>Retrieved passages</div>")
        for p in sorted(a.passages, key=lambda p: p.rank):
            on_gold = any(overlaps(p.source, p.start, p.end, g) for g in gold)
            parts.append(
                f"<div class='box{' rel' if on_gold else ''}'>#{p.rank} score {p.score:.3f} "
                f"{escape(p.source)}:{p.start}-{p.end}{' (relevant)' if on_gold else ''}\n{escape(p.text)}</div>"
            )
    return "<details>" + "".join(parts) + "</details>"


def render_report(runs: Sequence[ConfigRun], summary: Mapping[str, Any], plot_png: bytes | None = None) -> str:
    """The report as one HTML string."""
    names = [r.name for r in runs]
    esc_names = [escape(n) for n in names]
    machine = summary.get("machine", {})
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>rag eval — {escape(str(summary.get('questions', '')))}</title><style>{CSS}</style></head><body>",
        f"<h1>Evaluation: {escape(str(summary.get('questions', '')))}</h1>",
        f"<p class='meta'>{summary.get('n_questions', 0)} questions · {escape(str(summary.get('created', '')))} · "
        f"{escape(str(machine.get('platform', '')))} · {machine.get('cpu_count', '?')} CPUs · "
        f"commit {escape(str(machine.get('git_commit', '?')))}</p>",
    ]
    for run in runs:
        info = run.pipeline_info or {}
        desc = ", ".join(f"{k}: {v}" for k, v in info.items() if not isinstance(v, list | dict))
        overrides = ", ".join(f"{k}={v}" for k, v in run.overrides) or "defaults"
        out.append(f"<p class='meta'><b>{escape(run.name)}</b>: {escape(overrides)} · {escape(desc)}</p>")

    out.append("<h2>Metrics</h2>")
    rows = [
        [escape(label)] + [fmt_metric(key, getattr(r.summary, key)) for r in runs] for key, label in HEADLINE_METRICS
    ]
    out.append(_table(["metric", *names], rows))
    out.append(
        "<p class='meta'>Pass: the gold answer is in the answer, or a question to decline was declined. "
        "Retrieval and citation metrics count a span as relevant when it overlaps a gold evidence quote; "
        "“—” means no question had the gold data the metric needs.</p>"
    )

    out.append("<h2>By question type</h2>")
    type_names = sorted({t for r in runs for t in r.summary.by_type})
    rows = []
    for t in type_names:
        for r in runs:
            s = r.summary.by_type.get(t)
            if s is None:
                continue
            label = escape(t) + (f" <span class='meta'>{escape(r.name)}</span>" if len(runs) > 1 else "")
            rows.append([label] + [fmt_metric(k, getattr(s, k)) for k in TYPE_METRICS])
    out.append(_table(["type", *(_LABELS[k] for k in TYPE_METRICS)], rows))

    out.append("<h2>Latency</h2>")
    if plot_png:
        out.append(f"<img alt='latency box plots' src='data:image/png;base64,{base64.b64encode(plot_png).decode()}'>")
    else:
        out.append("<p class='meta'>No plot: matplotlib is not installed.</p>")

    if len(runs) > 1:
        out.append("<h2>Per question</h2>")
        ids = [qr.question.id for qr in runs[0].runs]
        verdicts = [{qr.question.id: qr.result.passed for qr in r.runs} for r in runs]
        differing = [i for i in ids if len({v.get(i) for v in verdicts}) > 1]
        out.append(f"<p class='meta'>{len(differing)} question(s) where the configurations disagree.</p>")
        cell = {True: "<span class='pass'>✓</span>", False: "<span class='fail'>✗</span>", None: "—"}
        out.append(_table(["question", *esc_names], [[escape(i)] + [cell[v.get(i)] for v in verdicts] for i in differing]))

    for run in runs:
        failed = [qr for qr in run.runs if not qr.result.passed]
        title = f"Failed questions ({len(failed)})" + (f" — {run.name}" if len(runs) > 1 else "")
        out.append(f"<h2>{escape(title)}</h2>")
        out.extend(_failure_html(qr, run.sources) for qr in failed)
        if not failed:
            out.append("<p class='pass'>None.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(path: str | Path, runs: Sequence[ConfigRun], summary: Mapping[str, Any]) -> Path:
    """Render the report (with its plot) to ``path``."""
    path = Path(path)
    png = latency_plot_png(runs)
    path.write_text(render_report(runs, summary, png), encoding="utf-8")
    return path
