"""Fit the reader's abstention thresholds, and report them leave-one-corpus-out.

Step 1 answers every dev question with abstention switched off (``reader.abstain = false``), so each
result carries the would-be answer, whether it is right, and the signals the rules read:

    python evals/multicorpus.py --set reader.abstain=false --out evals/out/fit [--set generate...]

Step 2 (this script) replays the rules of ``rag.extract.ABSTAIN_RULES`` on those signals for every
point of a grid, without re-running any model:

    python evals/fit_reader.py evals/out/fit
    python evals/fit_reader.py evals/out/fit --rerun evals/out/again   # with some questions rerun since (--ids)
    python evals/fit_reader.py evals/out/fit --also evals/out/fit-typed  # fitted on both ways of asking

For each corpus it fits on the *other* corpora and scores the left-out one (that number is the one to
publish), then fits on all of them and prints the ``[reader]`` values to put in the config.
The objective is the mean over corpora of (answer accuracy on answerable questions + share of
unanswerable questions declined) / 2, minus 2 x the share of answerable questions declined beyond 5 %: being
right and being honest weigh the same, and refusing what the documents answer costs steeply past the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from rag.config import ReaderConfig  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.extract import ABSTAIN_RULES, Signals, lm_abstention, names_excused, only_names_missing  # noqa: E402

GRID: dict[str, list[float]] = {
    "min_support": [0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55],
    # (Coarser steps for the three that every fit so far left at 0.0 / 0.4 / 0.35: the grid is a product.)
    "min_dense": [0.0, 0.2, 0.3],
    "missing_share": [0.4, 0.6, 1.01],
    "max_dense_for_missing": [0.35, 0.55],
    # (From the least to the most declining: among equally good values the fit keeps the one that declines least.)
    "yesno_missing_share": [1.01, 0.5, 0.4, 0.35],
    "judge_min_if_names": [0.6, 0.7, 0.8, 0.9, 1.01],
    "judge_min": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    "judge_min_if_none": [0.0, 0.5, 0.6, 0.7, 0.8],
    "judge_min_if_uncopied": [0.0, 0.6, 0.7, 0.8, 0.9, 1.01],
    "judge_min_if_made_up": [0.0, 0.5, 0.6, 0.7],
    "judge_min_if_figure": [0.0, 0.55, 0.6, 0.62, 0.65],
}
# The LM's yes/no verdict ("Yes" from P(Yes) >= yes_min) does not touch abstention: fitted on its own, first.
YES_MIN_GRID = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
FALSE_ABSTENTION_COST = 2.0
# Half the product's 10 % target: thresholds fitted to refuse up to 10 % of the training corpora's answerable questions
# refused 23-26 % of the left-out legal corpus; fitted to 5 %, every left-out corpus stayed within 10 %. (Chosen after
# seeing those left-out numbers: for this one choice they are not a clean held-out estimate.)
FALSE_ABSTENTION_TOLERATED = 0.05
SEED_SETS = ("seed_acceptance", "seed_dev", "seed_holdout")  # the article it was first tuned on: reported apart


def load(run_dir: Path, reruns: tuple[Path, ...] = ()) -> dict[str, list[dict[str, Any]]]:
    """Every row of a run, each set's; a row of a later rerun (``multicorpus.py --ids``) replaces its question's, or
    joins the set when its question was written after the run."""
    from multicorpus import corpora

    files = corpora()
    newer = {}
    for rerun in reruns:
        for results in sorted(rerun.glob("*/results.jsonl")):
            newer.update({(results.parent.name, r["id"]): r for r in map(json.loads, results.open(encoding="utf-8"))})
    out = {}
    for results in sorted(run_dir.glob("*/results.jsonl")):
        name = results.parent.name
        rows = [json.loads(line) for line in results.open(encoding="utf-8")]
        rows = [newer.get((name, r["id"]), r) for r in rows]
        known = {r["id"] for r in rows}
        rows += [r for (set_name, qid), r in newer.items() if set_name == name and qid not in known]
        if name in files:  # each row learns its question's gold yes/no, so the LM's verdict can be replayed
            gold = {q.id: q.answers[0] for q in load_questions(files[name][1]) if q.answers and q.answers[0] in ("Yes", "No")}
            for r in rows:
                r["gold_yes_no"] = gold.get(r["id"], "")
        out[name] = rows
    if not out:
        raise SystemExit(f"No */results.jsonl under {run_dir}: run evals/multicorpus.py --set reader.abstain=false first.")
    return out


def correct(row: dict[str, Any], w: ReaderConfig) -> bool:
    """Is the would-be answer right under ``w``? A yes/no question the LM judged is right when P(Yes) vs
    ``w.yes_min`` gives the gold verdict; anything else is as it was answered."""
    p = (row.get("signals") or {}).get("says_yes")
    if p is not None and row.get("gold_yes_no"):
        return ("Yes" if p >= w.yes_min else "No") == row["gold_yes_no"]
    return bool(row.get("answer_correct"))


def fit_yes_min(corpora: dict[str, list[dict[str, Any]]]) -> float:
    """The yes_min that gets the most yes/no verdicts right, summed over the corpora (ties: nearest 0.75)."""
    rows = [r for rows in corpora.values() for r in rows if r.get("gold_yes_no")]
    return max(YES_MIN_GRID, key=lambda t: (sum(correct(r, ReaderConfig(yes_min=t)) for r in rows), -abs(t - 0.75)))


def _signals(row: dict[str, Any]) -> Signals | None:
    sig = row.get("signals") or {}
    if not sig or "best_score" not in sig:
        return None
    # (A signal added since the run was made takes its default.)
    return Signals(**{f.name: sig[f.name] for f in dataclasses.fields(Signals) if f.name in sig})


def rules_abstain(row: dict[str, Any], w: ReaderConfig) -> bool:
    """Would the reader's rules (``ABSTAIN_RULES``, guard refusals included) decline this question under ``w``?"""
    if row.get("reason") in ("off_topic", "injection", "invalid"):
        return True
    signals = _signals(row)
    if signals is None:
        return bool(row.get("abstained"))  # a summary or nothing retrieved: as it was
    if not any(holds(signals, w) for holds, _ in ABSTAIN_RULES):
        return False
    sig = row.get("signals") or {}
    return not (only_names_missing(signals, w) and names_excused(signals.kind, sig.get("judge"), w, sig.get("direct")))


def lm_abstains(row: dict[str, Any], w: ReaderConfig) -> bool:
    """Would the LM's checks (``lm_abstention``) decline what the rules let through?"""
    sig = row.get("signals") or {}
    if "best_score" not in sig:  # no reader signals (a summary, nothing retrieved): as the rules left it
        return False
    return bool(lm_abstention(sig["kind"], sig.get("judge"), sig.get("direct"), w, sig.get("direct_reply") or "",
                              sig.get("best_dense", 0.0)))


def abstains(row: dict[str, Any], w: ReaderConfig) -> bool:
    """Would the reader with weights ``w`` decline this question? (Guard refusals always decline.)"""
    return rules_abstain(row, w) or lm_abstains(row, w)


def _objective(acc: np.ndarray, abst: np.ndarray, false_abst: np.ndarray) -> np.ndarray:
    # Right and honest weigh the same; refusing what the documents answer costs extra, and steeply past half the
    # 10 % people tolerate (the product's target), a margin for documents the fit never saw.
    return (acc + abst) / 2 - FALSE_ABSTENTION_COST * np.maximum(0.0, false_abst - FALSE_ABSTENTION_TOLERATED)


def score(rows: list[dict[str, Any]], w: ReaderConfig) -> dict[str, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in answerable if not abstains(r, w)]
    right = sum(1 for r in answered if correct(r, w))
    cited = sum(1 for r in answered if r.get("citation_hit"))
    declined = sum(1 for r in unanswerable if abstains(r, w))
    acc = right / len(answerable) if answerable else 1.0
    abst = declined / len(unanswerable) if unanswerable else 1.0
    n = max(1, len(answerable))
    false_abst = (len(answerable) - len(answered)) / n
    return {"answer_accuracy": acc, "cited": cited / n, "abstention": abst, "false_abstention": false_abst,
            "token_f1": sum(r.get("token_f1") or 0.0 for r in answered) / n,
            "objective": float(_objective(np.array(acc), np.array(abst), np.array(false_abst)))}


RULE_KEYS = ("min_support", "min_dense", "missing_share", "max_dense_for_missing", "yesno_missing_share", "judge_min_if_names")


def fit(corpora: dict[str, list[dict[str, Any]]], keys: list[str]) -> ReaderConfig:
    """The grid point with the best mean objective over the corpora (the first best, in grid order).

    The rules and the LM's checks decline independently, so each is replayed once per point of its own part of the
    grid, and every combination is scored with array operations.
    """
    start = ReaderConfig(yes_min=fit_yes_min(corpora)) if "yes_min" in keys else ReaderConfig()
    rule_keys = [k for k in keys if k in GRID and k in RULE_KEYS]
    lm_keys = [k for k in keys if k in GRID and k not in RULE_KEYS]  # yes_min is fitted above, on its own
    rule_points = [dict(zip(rule_keys, v, strict=True)) for v in itertools.product(*(GRID[k] for k in rule_keys))]
    lm_points = [dict(zip(lm_keys, v, strict=True)) for v in itertools.product(*(GRID[k] for k in lm_keys))]
    total = np.zeros((len(rule_points), len(lm_points)))
    for rows in corpora.values():
        answerable = np.array([bool(r["answerable"]) for r in rows])
        right = np.array([bool(r["answerable"]) and correct(r, start) for r in rows])
        n_ans, n_unans = max(1, int(answerable.sum())), int((~answerable).sum())
        by_rules = np.array([[rules_abstain(r, dataclasses.replace(start, **p)) for r in rows] for p in rule_points])
        by_lm = np.array([[lm_abstains(r, dataclasses.replace(start, **p)) for r in rows] for p in lm_points])
        for i, ruled in enumerate(by_rules):
            declined = by_lm | ruled  # (lm points, rows)
            acc = (~declined & right).sum(axis=1) / n_ans
            abst = (declined & ~answerable).sum(axis=1) / n_unans if n_unans else np.ones(len(lm_points))
            false_abst = (declined & answerable).sum(axis=1) / n_ans
            total[i] += _objective(acc, abst, false_abst)
    # The first best in grid order, as a loop over the product with a strict ">" would pick.
    flat = total.ravel() / len(corpora)
    best = int(np.flatnonzero(flat > flat.max() - 1e-9)[0])
    i, j = divmod(best, len(lm_points))
    return dataclasses.replace(start, **rule_points[i], **lm_points[j])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="write the LOCO table (markdown) here")
    parser.add_argument("--rerun", type=Path, action="append", default=[],
                        help="a later run of some questions (multicorpus.py --ids): its rows replace theirs (repeatable)")
    parser.add_argument("--also", type=Path, default=None,
                        help="a second run of the same questions (typed: multicorpus.py --typed): fitted on together with "
                             "RUN_DIR's, and every table also scores its sets")
    args = parser.parse_args(argv)
    runs = load(args.run_dir, tuple(args.rerun))
    dev = {k: v for k, v in runs.items() if k not in SEED_SETS}
    also = load(args.also) if args.also else {}
    train = {k: v + also.get(k, []) for k, v in dev.items()}  # (each question twice, as asked both ways)
    scored = [(name, name, rows) for name, rows in runs.items()] + [(name, f"{name} ({args.also.name})", rows)
                                                                   for name, rows in also.items()]
    has_judge = any((r.get("signals") or {}).get("judge") is not None for rows in runs.values() for r in rows)
    has_direct = any((r.get("signals") or {}).get("direct") is not None for rows in runs.values() for r in rows)
    keys = ["min_support", "min_dense", "missing_share", "max_dense_for_missing", "yesno_missing_share"]
    keys += ["judge_min", "judge_min_if_names"] if has_judge else []
    keys += ["judge_min_if_none", "judge_min_if_uncopied", "judge_min_if_made_up", "judge_min_if_figure"] if has_direct else []
    keys += ["yes_min"] if any((r.get("signals") or {}).get("says_yes") is not None for rows in runs.values() for r in rows) else []

    def row(label: str, s: dict[str, float], extra: str = "") -> str:
        cells = [s["answer_accuracy"], s["cited"], s["abstention"], s["false_abstention"], s["token_f1"]]
        return f"| {label} | " + " | ".join(f"{c:.0%}" for c in cells) + (f" | {extra} |" if extra else " |")

    head = "| {} | answer acc. | cited evidence | abstention | false abst. | token F1 |"
    lines = [head.format("left-out corpus") + " fitted on the others |", "|---|---|---|---|---|---|---|"]
    for name in dev:
        w = fit({k: v for k, v in train.items() if k != name}, keys)
        fitted = ", ".join(f"{k}={getattr(w, k)}" for k in keys)
        lines += [row(label, score(rows, w), fitted) for set_name, label, rows in scored if set_name == name]
    final = fit(train, keys)
    lines += ["", "Fitted on all dev corpora: " + ", ".join(f"{k} = {getattr(final, k)}" for k in keys), "",
              head.format("set (fitted on all dev corpora)"), "|---|---|---|---|---|---|"]
    lines += [row(label, score(rows, final)) for _, label, rows in scored]
    shipped = ReaderConfig()
    lines += ["", "With the shipped defaults: " + ", ".join(f"{k} = {getattr(shipped, k)}" for k in keys), "",
              head.format("set (shipped defaults)"), "|---|---|---|---|---|---|"]
    lines += [row(label, score(rows, shipped)) for _, label, rows in scored]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
