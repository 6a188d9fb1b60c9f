"""Evaluate on every dev corpus (and the seed article's sets) with one set of models; write a per-corpus table.

    python evals/multicorpus.py                       # all corpora, default config
    python evals/multicorpus.py --set generate.backend=none --out evals/out/dev-none
    python evals/multicorpus.py --corpora legal_txt,markdown --limit 10

Each corpus gets its own index under ``<out>/index/<corpus>`` and its own report under ``<out>/<corpus>/``.
``<out>/table.md`` holds the headline metrics per corpus, the numbers the README quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from rag.config import load_config, parse_set  # noqa: E402
from rag.evalrun import run_eval  # noqa: E402

DEV = ROOT / "evals" / "dev"
SHARED = ROOT.parent / "shared" / "evals" / "acceptance.jsonl"
METRICS = [
    ("answer_accuracy", "answer acc."),
    ("citation_hit_rate", "cited evidence"),
    ("abstention_recall", "abstention"),
    ("false_abstention_rate", "false abst."),
    ("citation_exactness", "exactness"),
    ("hit_at_k", "hit@k"),
    ("token_f1", "token F1"),
    ("latency_p50_s", "p50 s"),
]


def corpora() -> dict[str, tuple[Path, Path]]:
    """name -> (corpus folder, question file): the dev corpora, then the seed article's sets."""
    out = {p.stem: (DEV / "corpora" / p.stem, p) for p in sorted(DEV.glob("*.jsonl"))}
    seed = ROOT / "seeds"
    if SHARED.is_file():
        out["seed_acceptance"] = (seed, SHARED)
    out["seed_dev"] = (seed, ROOT / "evals" / "questions.jsonl")
    out["seed_holdout"] = (seed, ROOT / "evals" / "holdout.jsonl")
    return out


def _metric(overall: dict[str, Any], key: str) -> str:
    value = overall.get(key)
    if value is None:
        return "–"
    return f"{value:.2f}" if key.endswith("_s") else f"{100 * value:.0f} %"


def _subset(questions: Path, ids: set[str], folder: Path) -> Path | None:
    """The questions of ``questions`` with these ids, written to ``folder``; None when it has none of them."""
    lines = [line for line in questions.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line).get("id") in ids]
    if not lines:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / questions.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / questions.name


def main(argv: list[str] | None = None, generator: Any = "config") -> int:
    """``generator``: the LM every corpus is answered with; by default the configured one."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--corpora", default="", help="comma-separated names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "evals" / "out" / "dev"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--ids", default="", help="comma-separated question ids: rerun only these (e.g. the failures)")
    parser.add_argument("--typed", action="store_true",
                        help="ask every question as people type it (lower case, no '?', one typo: evals/typed.py)")
    args = parser.parse_args(argv)

    from rag.answer import Pipeline
    from rag.embed import load_embedder
    from rag.generate import load_generator_from_config

    base = load_config(overrides=parse_set(args.sets))
    embedder = load_embedder(base.embed.model, base.embed.batch_size)
    if generator == "config":
        generator = load_generator_from_config(base)

    def factory(cfg, progress):  # type: ignore[no-untyped-def]
        return Pipeline.load(cfg, embedder=embedder, generator=generator, progress=progress)

    wanted = [c for c in args.corpora.split(",") if c]
    if not SHARED.is_file() and (not wanted or "seed_acceptance" in wanted):
        print(f"Note: no {SHARED}: the seed acceptance set is skipped (is ../shared beside the checkout?)", file=sys.stderr)
    out = Path(args.out)
    rows = []
    for name, (folder, questions) in corpora().items():
        if wanted and name not in wanted:
            continue
        if args.typed:
            from typed import main as write_typed

            write_typed([str(Path(args.out) / "typed" / name), str(questions)])
            questions = Path(args.out) / "typed" / name / questions.name
        if args.ids:
            questions = _subset(questions, set(args.ids.split(",")), out / "subset" / name)
            if questions is None:
                continue
        cfg = load_config(overrides=[*parse_set(args.sets), ("paths.corpus_dir", str(folder)),
                                     ("paths.index_dir", str(out / "index" / folder.name))])
        summary = run_eval(questions, out / name, {"run": (cfg, [])}, limit=args.limit,
                           pipeline_factory=factory, progress=False)
        overall = summary["overall"]
        rows.append((name, summary["n_questions"], overall))
        print(f"{name:18} " + "  ".join(f"{label} {_metric(overall, key)}" for key, label in METRICS), flush=True)
    header = "| corpus | questions | " + " | ".join(label for _, label in METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 2)]
    for name, n, overall in rows:
        lines.append(f"| {name} | {n} | " + " | ".join(_metric(overall, k) for k, _ in METRICS) + " |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "table.json").write_text(json.dumps({n: o for n, _, o in rows}, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
