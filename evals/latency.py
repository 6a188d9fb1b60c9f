"""Latency per LM backend on the seed article: time to first verified text, full answer, throughput, cold start.

    .venv/bin/python evals/latency.py [--out evals/bench/latency.md] [--limit 30]

For each configuration (extractive only; Qwen judge + direct answer; SmolLM2 direct answer) it answers the
acceptance questions one at a time (TTFT = first ``TextDelta``, total = the final ``Answer``), then 10
concurrent users x 3 other questions (evals/questions.jsonl) on the same pipeline (answers per minute), and times cold starts in fresh
processes: ``rag ask`` on an existing index and ``rag serve`` until ``/healthz`` answers. Numbers, no asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.evaluate import load_questions, percentile  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "evals" / "acceptance.jsonl"
# The concurrent users ask other questions (the project's own set): repeated ones would hit the caches.
LOAD_QUESTIONS = ROOT / "evals" / "questions.jsonl"
CONFIGS: dict[str, list[tuple[str, str]]] = {
    "extractive only (backend none)": [("generate.backend", "none")],
    "Qwen2.5-1.5B: judge + direct (default)": [],
    "SmolLM2-135M: direct only": [("generate.model", "smollm2-135m-instruct"), ("generate.tasks", "direct")],
}
USERS, PER_USER = 10, 3


def _stats(values: list[float]) -> str:
    return f"{percentile(values, 50):.2f} / {percentile(values, 95):.2f}" if values else "–"


def measure(overrides: list[tuple[str, str]], index_dir: str, questions: list[str], load: list[str]) -> dict[str, Any]:
    from rag.answer import Pipeline
    from rag.config import load_config
    from rag.schema import Answer, TextDelta

    cfg = load_config(overrides=[*overrides, ("paths.index_dir", index_dir)])
    pipe = Pipeline.load(cfg, progress=False)
    pipe.ask("What is this about?")  # warm-up: model load, first prompt
    ttft, total = [], []
    for q in questions:
        t0 = time.perf_counter()
        first = None
        for event in pipe.stream(q):
            if isinstance(event, TextDelta) and first is None:
                first = time.perf_counter() - t0
            if isinstance(event, Answer):
                total.append(time.perf_counter() - t0)
        ttft.append(first if first is not None else total[-1])
    done: list[float] = []

    def user(k: int) -> None:
        for j in range(PER_USER):
            t0 = time.perf_counter()
            pipe.ask(load[(k * PER_USER + j) % len(load)])
            done.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k,)) for k in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"ttft": ttft, "total": total, "per_minute": 60 * len(done) / wall, "concurrent_p50": percentile(done, 50)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_starts(index_dir: str, runs: int = 3) -> dict[str, list[float]]:
    rag = shutil.which("rag", path=os.path.dirname(sys.executable)) or "rag"
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_PATHS__INDEX_DIR=index_dir)
    out: dict[str, list[float]] = {"ask (backend none)": [], "ask (default)": [], "serve ready": []}
    for _ in range(runs):
        for label, extra in (("ask (backend none)", ["--set", "generate.backend=none"]), ("ask (default)", [])):
            t0 = time.perf_counter()
            subprocess.run([rag, "ask", *extra, "How many U.S. military personnel does Japan host?"], env=env,
                           capture_output=True, check=True, timeout=600)
            out[label].append(time.perf_counter() - t0)
        port = _free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen([rag, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - t0 < 300:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    out["serve ready"].append(time.perf_counter() - t0)
                    break
                except OSError:
                    time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "bench" / "latency.md")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--configs", default="", help="comma-separated indexes into the config list (default all)")
    args = parser.parse_args(argv)
    questions = [q.question for q in load_questions(QUESTIONS)][: args.limit]
    index_dir = tempfile.mkdtemp(prefix="rag-latency-")
    picked = [int(i) for i in args.configs.split(",") if i] or list(range(len(CONFIGS)))
    rows = []
    results: dict[str, Any] = {}
    for i, (label, overrides) in enumerate(CONFIGS.items()):
        if i not in picked:
            continue
        r = measure(overrides, index_dir, questions, [q.question for q in load_questions(LOAD_QUESTIONS)])
        results[label] = r
        rows.append(f"| {label} | {_stats(r['ttft'])} | {_stats(r['total'])} | {r['per_minute']:.1f} | "
                     f"{r['concurrent_p50']:.1f} |")
        print(rows[-1], flush=True)
    cold = cold_starts(index_dir)
    load = os.getloadavg()
    text = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average before/after {load[0]:.1f}; {len(questions)} acceptance questions, "
        f"then {USERS} concurrent users x {PER_USER} questions on one pipeline.",
        "",
        "| configuration | first verified text p50 / p95 (s) | full answer p50 / p95 (s) | answers/min, 10 users | "
        "answer p50 under load (s) |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "| cold start (fresh process, index built) | runs (s) |",
        "|---|---|",
        *(f"| {k} | {', '.join(f'{v:.1f}' for v in vals)} |" for k, vals in cold.items()),
        "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"configs": results, "cold": cold}, indent=1), "utf-8")
    print(text)
    shutil.rmtree(index_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
