"""A/B latency of two values of one setting on one warm model, alternating per question.

    .venv/bin/python evals/latency_ab.py generate.context_tokens 180 0 [--out evals/bench/latency-ab.md]

A machine shared with other work drifts by 10-20 % between runs minutes apart, more than many changes are
worth; asking each acceptance question with A then B (B then A on the next) on one loaded model and one index
cancels the drift. Reports full-answer p50/p95/mean per value and the judge prompt's median token count.
Numbers, no asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from latency import QUESTIONS  # noqa: E402  (the acceptance set, as the latency bench asks it)
from rag.evaluate import load_questions, percentile  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("key", help="a dotted setting, e.g. generate.context_tokens")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "bench" / "latency-ab.md")
    args = parser.parse_args(argv)

    from rag.answer import Pipeline
    from rag.config import load_config
    from rag.embed import load_embedder
    from rag.generate import load_generator_from_config

    load_before = os.getloadavg()[0]
    index_dir = tempfile.mkdtemp(prefix="rag-ab-")
    base = load_config(overrides=[("paths.index_dir", index_dir)])
    embedder = load_embedder(base.embed.model, base.embed.batch_size)
    generator = load_generator_from_config(base)
    if generator is None:
        raise SystemExit("generate.backend is none: nothing to time")
    pipes = {v: Pipeline.load(load_config(overrides=[("paths.index_dir", index_dir), (args.key, v)]),
                              embedder=embedder, generator=generator, progress=False) for v in (args.a, args.b)}
    tokens: dict[str, list[int]] = {v: [] for v in pipes}
    times: dict[str, list[float]] = {v: [] for v in pipes}
    judged = generator.p_yes
    current: list[int] = []

    def counting_p_yes(messages):  # type: ignore[no-untyped-def]
        current.append(len(generator.prompt_tokens(messages)) if hasattr(generator, "prompt_tokens") else 0)
        return judged(messages)

    generator.p_yes = counting_p_yes  # type: ignore[method-assign]
    questions = [q.question for q in load_questions(args.questions)]
    pipes[args.a].ask("Warm-up: what is this about?")
    for i, question in enumerate(questions):
        for value in (args.a, args.b) if i % 2 == 0 else (args.b, args.a):
            current.clear()
            start = time.perf_counter()
            pipes[value].ask(question)
            times[value].append(time.perf_counter() - start)
            tokens[value] += current[:1]

    lines = [f"A/B of `{args.key}` on one warm model, alternating per question ({len(questions)} questions of "
             f"{args.questions.name}), {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
             f"before / after {load_before:.1f} / {os.getloadavg()[0]:.1f}.", "",
             "| value | full answer p50 / p95 / mean (s) | judge prompt tokens, median |", "|---|---|---|"]
    for value in (args.a, args.b):
        ts = times[value]
        med = statistics.median(tokens[value]) if tokens[value] else float("nan")
        lines.append(f"| {value} | {statistics.median(ts):.2f} / {percentile(ts, 95):.2f} / {statistics.mean(ts):.2f} | {med:.0f} |")
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
