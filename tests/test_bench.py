"""The benchmark's pure helpers (no timing assertions) and its --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "evals" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    return load_script("bench")


def test_latency_stats(bench):
    stats = bench.latency_stats([3.0, 1.0, 2.0, 4.0])
    assert stats["n"] == 4
    assert stats["p50"] == pytest.approx(2.5)
    assert stats["p95"] == pytest.approx(3.85)  # numpy's linear interpolation
    assert (stats["min"], stats["max"], stats["mean"]) == (1.0, 4.0, 2.5)
    assert bench.latency_stats([])["p50"] is None


def test_markdown_table_escapes_and_aligns(bench):
    table = bench.markdown_table(["a", "b"], [["x|y", 1.5], ["z", "line\nbreak"]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x\\|y | 1.5 |", "| z | line break |"]
    with pytest.raises(ValueError):
        bench.markdown_table(["a", "b"], [["only one"]])


def test_formatting(bench):
    assert bench.fmt_num(None) == "–"
    assert bench.fmt_num(0.0123) == "12.3 ms"
    assert bench.fmt_num(1.234) == "1.23 s"
    assert bench.fmt_num(0.76, "GB") == "0.76 GB"
    assert bench.fmt_ratio(2.04) == "2.0×"
    assert bench.fmt_metric(0.5) == "50%"


def test_speedup_and_targets(bench):
    assert bench.speedup(1.0, 3.0) == 3.0
    assert bench.speedup(None, 3.0) is None and bench.speedup(0.0, 3.0) is None
    assert bench.target_status(0.9, 1.0) == "met"
    assert bench.target_status(1.1, 1.0) == "not met"
    assert bench.target_status(2.5, 2.0, higher_is_better=True) == "met"
    assert bench.target_status(None, 1.0) == "n/a"


def test_metrics_not_worse(bench):
    ours = {"answer_accuracy": 0.9, "false_abstention_rate": 0.1, "citation_hit_rate": None}
    assert bench.metrics_not_worse(ours, {"answer_accuracy": 0.8, "false_abstention_rate": 0.1}) == (True, [])
    ok, worse = bench.metrics_not_worse(ours, {"answer_accuracy": 0.95, "false_abstention_rate": 0.0})
    assert ok is False and worse == ["Answer accuracy", "False abstention"]
    assert bench.metrics_not_worse({}, {}) == (None, [])


def test_targets_table_and_markdown_from_saved_numbers(bench):
    serve = {
        "ttft": {"p50": 0.5, "p95": 0.9}, "total": {"p50": 1.0, "p95": 2.0}, "peak_rss_mb": 800.0, "load_s": 3.0,
        "cpu_per_answer": {"p50": 1.2}, "summary": {"answer_accuracy": 0.9, "false_abstention_rate": 0.0},
    }  # fmt: skip
    cold = {"built_s": 10.0, "no_index_s": 14.0, "built": [{"cpu_s": 9.0}]}
    peer_serve = serve | {"ttft": {"p50": 2.0, "p95": 3.0}, "total": {"p50": 4.0, "p95": 8.0},
                          "summary": {"answer_accuracy": 0.5, "false_abstention_rate": 0.2}}  # fmt: skip
    flat = bench.flatten({"ours": {"serve": serve, "cold": cold}, "peer": {"serve": peer_serve, "cold": cold}})
    assert flat["speedup"]["total_p50"] == 4.0 and flat["metrics_not_worse"] is True
    rows = {r[0]: r[-1] for r in bench.targets_table(flat)}
    assert rows["Time to first token p50"] == "met"
    assert rows["Cold start, index built"] == "met"
    assert rows["≥ 2× faster than peer: cold start, index built"] == "not met"  # 1.0×
    assert bench.lookup(flat, "ours.peak_rss_gb") == pytest.approx(800 / 1024)


def test_help_is_fast_to_reach():
    out = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "--questions" in out.stdout and "--out" in out.stdout
