"""Fit the reader's sentence-scoring weights (``[reader]`` *_weight/_bonus/_penalty) leave-one-corpus-out.

    python evals/fit_selector.py                      # collect features, fit, write evals/report-dev/selector.md
    python evals/fit_selector.py --features F.jsonl   # refit from features collected before

For every answerable question with gold evidence, the retrieved passages' sentences are scored by
``Reader.rank`` and their named features (``rag.extract`` SENTENCE_FEATURES) recorded with whether the
sentence overlaps the gold evidence. A conditional logit (softmax over one question's sentences, the
gold ones being right) is fitted on all corpora but one and scored on the one left out: the share of its
questions whose best-scored sentence is gold ("top-1"). The seed article's three sets count as one corpus.
No language model is involved: this is the extractive reader's choice of sentence.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from rag.config import FEATURE_WEIGHTS, ReaderConfig, load_config  # noqa: E402
from rag.extract import SENTENCE_FEATURES  # noqa: E402

# Fitted; "followup" keeps its configured weight (the dev sets have too few follow-ups to fit it).
FITTED = [f for f in SENTENCE_FEATURES if f != "followup"]
# Scores are scaled so that these weights sum to 1, keeping min_support and companion_margin in familiar units.
SIMILARITY = ["dense", "lexical", "context"]


def corpus_group(name: str) -> str:
    return "seed" if name.startswith("seed_") else name


def collect(out: Path, index_root: Path) -> list[dict]:
    from multicorpus import corpora

    from rag.answer import Pipeline
    from rag.embed import load_embedder
    from rag.evaluate import load_questions, locate_evidence, overlaps
    from rag.extract import analyze

    base = load_config(overrides=[("generate.backend", "none")])
    embedder = load_embedder(base.embed.model, base.embed.batch_size)
    rows = []
    for name, (folder, qfile) in corpora().items():
        cfg = load_config(overrides=[("generate.backend", "none"), ("paths.corpus_dir", str(folder)),
                                     ("paths.index_dir", str(index_root / folder.name))])
        pipe = Pipeline.load(cfg, embedder=embedder, generator=None, progress=False)
        sources = {d.source: d.text for d in pipe.index.corpus.documents}
        for q in load_questions(qfile):
            if q.history or not q.answerable or q.type == "summary":
                continue
            gold, _ = locate_evidence(q.evidence, sources)
            if not gold:
                continue
            named = pipe.reader.named_document(q.question) if len(sources) > 1 else None
            retrieval = pipe.retriever.search(q.question, source=named)
            info = analyze(q.question)
            qvec = pipe.embedder.embed([info.main])[0] if info.main else retrieval.query_vector
            ranked = pipe.reader.rank(info, retrieval.passages, qvec)
            rows.append({
                "corpus": name, "id": q.id, "kind": info.kind, "question": q.question,
                "sentences": [e.sentence.text for e in ranked],
                "features": [[e.features[f] for f in FITTED] for e in ranked],
                "gold": [any(overlaps(e.sentence.source, e.sentence.start, e.sentence.end, g) for g in gold) for e in ranked],
            })
        print(f"{name}: {sum(1 for r in rows if r['corpus'] == name)} questions", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def weights_of(config: ReaderConfig) -> np.ndarray:
    return np.array([config.feature_weight(f) for f in FITTED])


def top1(rows: list[dict], w: np.ndarray) -> float:
    """Share of questions whose best-scored sentence is gold (questions with gold never retrieved count as misses)."""
    hits = [bool(r["gold"]) and r["gold"][int(np.argmax(np.array(r["features"]) @ w))] if r["features"] else False
            for r in rows]
    return sum(hits) / max(1, len(hits))


def fit(rows: list[dict], l2: float = 0.05) -> np.ndarray:
    """Conditional logit: maximise log P(a gold sentence) under a softmax over each question's sentences."""
    from scipy.optimize import minimize

    data = [(np.array(r["features"]), np.array(r["gold"], dtype=bool)) for r in rows if any(r["gold"])]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in data:
            s = x @ w
            s = s - s.max()
            p = np.exp(s)
            p /= p.sum()
            py = p[y].sum()
            total -= np.log(max(py, 1e-12))
            # d(-log sum_y p)/dw = E_p[x] - E_{p|y}[x]
            grad += p @ x - (p[y] / py) @ x[y]
        n = len(data)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    w0 = weights_of(ReaderConfig()) * 10
    res = minimize(loss, w0, jac=True, method="L-BFGS-B")
    w = res.x
    scale = sum(w[FITTED.index(f)] for f in SIMILARITY)
    return w / scale if scale > 0 else w


def as_config(w: np.ndarray) -> dict[str, float]:
    out = {}
    for f, value in zip(FITTED, w, strict=True):
        name, sign = FEATURE_WEIGHTS[f]
        out[name] = round(float(sign * value), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="", help="a features file collected before (skip collection)")
    parser.add_argument("--index-root", default=str(ROOT / "evals" / "out" / "fit-qwen2" / "index"))
    parser.add_argument("--report", default=str(ROOT / "evals" / "report-dev" / "selector.md"))
    args = parser.parse_args(argv)
    path = Path(args.features) if args.features else ROOT / "evals" / "out" / "selector" / "features.jsonl"
    if args.features:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rows = collect(path, Path(args.index_root))

    groups = sorted({corpus_group(r["corpus"]) for r in rows})
    current = weights_of(ReaderConfig())
    lines = ["| left-out corpus | questions | gold retrieved | top-1, shipped weights | top-1, fitted on the others |",
             "|---|---|---|---|---|"]
    for g in groups:
        held = [r for r in rows if corpus_group(r["corpus"]) == g]
        w = fit([r for r in rows if corpus_group(r["corpus"]) != g])
        retrieved = sum(1 for r in held if any(r["gold"])) / len(held)
        lines.append(f"| {g} | {len(held)} | {100 * retrieved:.0f}% | {100 * top1(held, current):.0f}% "
                     f"| {100 * top1(held, w):.0f}% |")
    w_all = fit(rows)
    lines += ["", f"All corpora ({len(rows)} questions): top-1 shipped {100 * top1(rows, current):.0f}%, "
              f"fitted on all {100 * top1(rows, w_all):.0f}%.", "", "Fitted on all corpora:", "",
              "| [reader] key | shipped | fitted |", "|---|---|---|"]
    shipped = {f.name: getattr(ReaderConfig(), f.name) for f in fields(ReaderConfig)}
    for key, value in as_config(w_all).items():
        lines.append(f"| {key} | {shipped[key]} | {value} |")
    report = "\n".join(lines) + "\n"
    Path(args.report).write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
