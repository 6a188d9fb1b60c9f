"""Would the LM re-ranking the retrieved passages earn its time? Measured, not built into the pipeline.

    python evals/rerank_lm.py --per-corpus 8 --out evals/report-dev/rerank-lm.md

For a seeded sample of answerable questions of every dev corpus (the seed article's sets too), the passages the
retriever returns are ranked again by the LM judge's P(Yes) that each passage answers the question (one check per
passage, the judge's own prompt). Reported per corpus: hit@1 and MRR of the first passage holding gold evidence,
before and after, for the top 3 re-ranked (3 checks) and all of the top k (k checks), and the seconds the checks took.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from rag.answer import Pipeline  # noqa: E402
from rag.config import load_config  # noqa: E402
from rag.evalrun import source_texts  # noqa: E402
from rag.evaluate import load_questions, locate_evidence, overlaps  # noqa: E402
from rag.judge import answers_question  # noqa: E402
from rag.schema import Span  # noqa: E402


def first_gold(passages: list, gold: list) -> int | None:
    """1-based position of the first passage overlapping gold evidence."""
    return next((i for i, p in enumerate(passages, 1) if any(overlaps(p.source, p.start, p.end, g) for g in gold)), None)


def reranked(passages: list, scores: list[float], top: int) -> list:
    """The first ``top`` passages ordered by P(Yes) (ties keep the retriever's order), the rest as they were."""
    head = sorted(range(top), key=lambda i: (-scores[i], i))
    return [passages[i] for i in head] + passages[top:]


def main(argv: list[str] | None = None) -> int:
    from multicorpus import corpora

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-corpus", type=int, default=8, help="answerable questions sampled per corpus")
    parser.add_argument("--index-root", type=Path, default=ROOT / "evals" / "out" / "rerank-index")
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) here, rows as .jsonl beside")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rows, lines = [], []
    for name, (corpus, qfile) in corpora().items():
        questions = [q for q in load_questions(qfile) if q.answerable and q.evidence and not q.history]
        sample = random.Random(args.seed).sample(questions, min(args.per_corpus, len(questions)))
        cfg = load_config(None, [("paths.corpus_dir", str(corpus)), ("paths.index_dir", str(args.index_root / corpus.name))])
        pipe = Pipeline.load(cfg, progress=False)
        sources = source_texts(pipe, cfg)
        for q in sample:
            gold, _ = locate_evidence(q.evidence, sources)
            passages = sorted(pipe.retriever.search(q.question).passages, key=lambda p: p.rank)
            start = time.perf_counter()
            scores = [answers_question(pipe.generator, q.question, [Span(p.source, p.start, p.end, p.text)],
                                       " · ".join(x for x in (p.title, p.heading) if x)) for p in passages]
            seconds = time.perf_counter() - start
            row = {"corpus": name, "id": q.id, "question": q.question, "k": len(passages), "seconds": round(seconds, 2),
                   "p_yes": [round(s, 4) for s in scores], "before": first_gold(passages, gold),
                   "top3": first_gold(reranked(passages, scores, min(3, len(passages))), gold),
                   "all": first_gold(reranked(passages, scores, len(passages)), gold)}
            rows.append(row)
            print(json.dumps(row), flush=True)

    def cell(subset: list[dict], key: str) -> str:
        hit1 = sum(1 for r in subset if r[key] == 1) / len(subset)
        mrr = sum(1 / r[key] for r in subset if r[key]) / len(subset)
        return f"{hit1:.0%} / {mrr:.2f}"

    lines += ["| corpus | questions | retriever hit@1 / MRR | LM re-ranks top 3 | LM re-ranks all | LM seconds per question (all) |",
              "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["corpus"] for r in rows):
        subset = [r for r in rows if r["corpus"] == name]
        per_q = sorted(r["seconds"] for r in subset)[len(subset) // 2]
        lines.append(f"| {name} | {len(subset)} | {cell(subset, 'before')} | {cell(subset, 'top3')} | {cell(subset, 'all')} | {per_q:.1f} |")
    per_q = sorted(r["seconds"] for r in rows)[len(rows) // 2]
    lines.append(f"| all | {len(rows)} | {cell(rows, 'before')} | {cell(rows, 'top3')} | {cell(rows, 'all')} | {per_q:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n", encoding="utf-8")
        args.out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
