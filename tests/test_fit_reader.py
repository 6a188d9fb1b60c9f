"""evals/fit_reader.py replays the abstention rules on stored rows: fitted leave-one-corpus-out, and on two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def fit_reader():
    return load_script("fit_reader")


def _row(qid: str, answerable: bool, right: bool, judge: float) -> dict:
    signals = {"kind": "other", "missing_names": [], "missing_share": 0.0, "best_score": 0.8, "best_dense": 0.7,
               "max_dense": 0.7, "type_found": True, "elsewhere": [], "listed": 0, "judge": judge, "direct": "copied",
               "direct_reply": "x"}
    return {"id": qid, "question": qid, "answerable": answerable, "answer_correct": float(right), "citation_hit": float(right),
            "token_f1": 0.5, "abstained": False, "signals": signals}


def _run(folder: Path, judges: dict[str, list[tuple[bool, bool, float]]]) -> Path:
    for corpus, rows in judges.items():
        (folder / corpus).mkdir(parents=True)
        lines = [json.dumps(_row(f"{corpus}-{i}", *r)) for i, r in enumerate(rows)]
        (folder / corpus / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


PLAIN = {c: [(True, True, 0.9), (True, True, 0.8), (False, False, 0.2), (False, False, 0.3)] for c in ("a", "b", "c")}
# As typed, an unanswerable question is judged 0.55: fitted on both runs, the judge threshold must rise above it.
TYPED = {c: [(True, True, 0.9), (True, True, 0.8), (False, False, 0.55), (False, False, 0.3)] for c in ("a", "b", "c")}


def test_the_judge_threshold_is_fitted_on_both_runs_together(fit_reader, tmp_path):
    plain = fit_reader.load(_run(tmp_path / "plain", PLAIN))
    typed = fit_reader.load(_run(tmp_path / "typed", TYPED))
    alone = fit_reader.fit(plain, ["judge_min"])
    both = fit_reader.fit({k: v + typed[k] for k, v in plain.items()}, ["judge_min"])
    assert 0.3 < alone.judge_min <= 0.55 < both.judge_min <= 0.8
    assert fit_reader.score(typed["a"], both)["abstention"] == 1.0 > fit_reader.score(typed["a"], alone)["abstention"]


@pytest.mark.slow
def test_the_loco_table_scores_each_left_out_corpus_in_both_runs(fit_reader, tmp_path):
    out = tmp_path / "loco.md"
    one, two = _run(tmp_path / "plain", PLAIN), _run(tmp_path / "typed", TYPED)
    assert fit_reader.main([str(one), "--also", str(two), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for corpus in ("a", "b", "c"):
        assert f"| {corpus} | 100% | 100% | 100% | 0% |" in text
        assert f"| {corpus} (typed) | 100% | 100% | 100% | 0% |" in text
