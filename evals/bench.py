"""How fast is the pipeline on this machine, and how does it compare with a LangChain peer? Numbers, no asserts.

    .venv/bin/python evals/bench.py [--questions FILE] [--out DIR] [--no-peer] [--limit N]

Writes DIR/bench.json, DIR/bench.md and DIR/profile.txt (default DIR: evals/bench/). Every cold start is a
fresh subprocess (``--child``) timed by this parent from spawn to "first answer ready", so imports are cold
(the OS file cache and .pyc files are warm, as on any second start). Indexes live in a temp folder; the
project's index/ is never touched. The peer (evals/peer_langchain.py) needs ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # `rag` from this checkout, `peer_langchain` next to this file

from rag.evaluate import percentile  # noqa: E402  (light: no models, no torch)

DEFAULT_OUT = HERE / "bench"
SHARED_QUESTIONS = ROOT.parent / "shared" / "evals" / "acceptance.jsonl"
DEFAULT_QUESTIONS = SHARED_QUESTIONS if SHARED_QUESTIONS.exists() else HERE / "questions.jsonl"
# Neither question is in the eval sets, so they warm nothing the timed questions reuse (query-embedding cache).
WARMUP_QUESTION = "What role does Japan play in the alliance with the United States?"
PROFILE_QUESTION = "What did the U.S. Defense Secretary say about Japan?"
LM_PROMPTS = (
    "Write a detailed paragraph about the history of the alliance between the United States and Japan.",
    "Describe in several sentences why islands matter for naval strategy in the Pacific.",
    "Explain at length how a country decides how much to spend on its military.",
)
READY, RESULT = "BENCH_READY", "BENCH_RESULT "

# (label, key in the flat results, limit, unit): a target is met when value <= limit.
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("Time to first token p50", "ours.ttft_p50_s", 1.0, "s"),
    ("Answer latency p50", "ours.total_p50_s", 3.0, "s"),
    ("Cold start, index built", "ours.cold_built_s", 15.0, "s"),
    ("Peak RSS while serving", "ours.peak_rss_gb", 3.0, "GB"),
)
SPEEDUP_TARGET = 2.0
# Metrics compared with the peer: (key in EvalSummary, label, higher is better).
METRICS = (
    ("answer_accuracy", "Answer accuracy", True),
    ("citation_hit_rate", "Citation hit", True),
    ("abstention_accuracy", "Abstention accuracy", True),
    ("false_abstention_rate", "False abstention", False),
    ("hit_at_k", "Retrieval hit@k", True),
    ("pass_rate", "Pass rate", True),
)


# --------------------------------------------------------------------------- pure helpers (tested)


def latency_stats(values: Iterable[float]) -> dict[str, Any]:
    """n, p50, p95, mean, min and max of some durations in seconds (None for no values)."""
    xs = [float(v) for v in values]
    return {
        "n": len(xs),
        "p50": percentile(xs, 50),
        "p95": percentile(xs, 95),
        "mean": statistics.fmean(xs) if xs else None,
        "min": min(xs) if xs else None,
        "max": max(xs) if xs else None,
    }


def fmt_num(value: float | None, unit: str = "s", digits: int = 2) -> str:
    """``1.23 s``; milliseconds below 0.1 s; ``–`` for a missing value."""
    if value is None:
        return "–"
    if unit == "s" and abs(value) < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.{digits}f} {unit}".rstrip()


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}×"


def fmt_metric(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A GitHub markdown table; ``align`` holds one of l/r/c per column (default: first left, rest right)."""
    rows = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, expected {len(headers)}: {row}")
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def speedup(ours: float | None, peer: float | None) -> float | None:
    """How many times faster ours is (peer time / our time); None when either is missing or zero."""
    if not ours or not peer:
        return None
    return peer / ours


def target_status(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value >= limit if higher_is_better else value <= limit
    return "met" if ok else "not met"


def metrics_not_worse(ours: dict[str, Any], peer: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """Whether our eval metrics are equal or better than the peer's on every compared metric; and which are worse."""
    worse = []
    compared = 0
    for key, label, higher in METRICS:
        a, b = ours.get(key), peer.get(key)
        if a is None or b is None:
            continue
        compared += 1
        if (a < b) if higher else (a > b):
            worse.append(label)
    return (None if not compared else not worse), worse


def lookup(results: dict[str, Any], dotted: str) -> Any:
    node: Any = results
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Cores, CPU, RAM and library versions (read from package metadata: nothing heavy is imported)."""
    from importlib import metadata

    versions = {}
    for dist in ("torch", "faiss-cpu", "sentence-transformers", "transformers", "llama_cpp_python", "numpy",
                 "langchain", "langchain-classic", "langchain-community", "langchain-core",
                 "langchain-text-splitters", "pyinstrument"):  # fmt: skip
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "rag"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": mem_total_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git_commit": git.stdout.strip() or None,
        "rag_dirty": bool(dirty.stdout.strip()),
    }


# --------------------------------------------------------------------------- children (one process each)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _emit(tag: str, payload: Any = None) -> None:
    sys.stdout.write(tag + ("" if payload is None else json.dumps(payload)) + "\n")
    sys.stdout.flush()


def _load_system(system: str, index_dir: str) -> Any:
    if system == "ours":
        from rag.answer import Pipeline
        from rag.config import load_config

        config = load_config().replace(**{"paths.index_dir": index_dir})
        return Pipeline.load(config, progress=False)
    from peer_langchain import load_peer
    from rag.config import load_config

    return load_peer(load_config().paths.corpus_dir, index_dir)


def child_cold(system: str, index_dir: str, question: str) -> None:
    """Import, load (building the index when the folder is empty), answer one question; say READY at once."""
    t0 = time.perf_counter()
    had_index = any(Path(index_dir).glob("*")) if Path(index_dir).exists() else False
    if system == "ours":
        import rag.answer  # noqa: F401  the import cost, on its own
    else:
        import peer_langchain  # noqa: F401
    t1 = time.perf_counter()
    pipe = _load_system(system, index_dir)
    t2 = time.perf_counter()
    answer = pipe.ask(question, [])
    t3 = time.perf_counter()
    _emit(READY)
    _emit(RESULT, {
        "had_index": had_index, "import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2,
        "answer": answer.answer[:200], "generator": getattr(answer, "generator", ""), "peak_rss_mb": _peak_rss_mb(),
        "cpu_s": _cpu_s(), "load_average": load_average(),
    })  # fmt: skip


def _profile_summary(root: Any, total: float, top: int = 12) -> dict[str, Any]:
    """Inclusive time of each of our own functions (rag.*) and self time of the heaviest leaves elsewhere."""
    inclusive: dict[str, float] = {}
    self_time: dict[str, float] = {}

    def name(f: Any) -> str:
        path = (f.file_path or "").replace(str(ROOT) + os.sep, "")
        return f"{f.function} ({Path(path).name}:{f.line_no})" if path else str(f.function)

    def walk(f: Any, open_ours: frozenset[str]) -> None:
        if f.is_synthetic and f.parent is not None:  # pyinstrument's "[self]" leaf: time of the parent itself
            self_time[name(f.parent)] = self_time.get(name(f.parent), 0.0) + f.time
            return
        key = name(f)
        path = f.file_path or ""
        is_ours = f"{os.sep}rag{os.sep}" in path and str(ROOT) in path
        if is_ours and key not in open_ours:  # count a recursive function once, at its outermost call
            inclusive[key] = inclusive.get(key, 0.0) + f.time
            open_ours = open_ours | {key}
        if not f.children:
            self_time[key] = self_time.get(key, 0.0) + f.time
        else:
            own = f.time - sum(c.time for c in f.children)
            if own > 0:
                self_time[key] = self_time.get(key, 0.0) + own
            for c in f.children:
                walk(c, open_ours)

    walk(root, frozenset())
    share = (lambda t: round(t / total, 3)) if total else (lambda t: None)
    ours = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    leaves = sorted(self_time.items(), key=lambda kv: -kv[1])[:top]
    return {
        "total_s": total,
        "ours_inclusive": [{"function": k, "s": round(v, 4), "share": share(v)} for k, v in ours],
        "self_time": [{"function": k, "s": round(v, 4), "share": share(v)} for k, v in leaves],
    }


def _lm_speed(config: Any, threads: int | None = None) -> dict[str, Any]:
    """Tokens/s of the configured LM, through the Generator protocol (a fresh load_generator)."""
    from rag.generate import load_generator_from_config

    g = config.generate
    threads = threads or g.threads
    t0 = time.perf_counter()
    gen = load_generator_from_config(config.replace(**{"generate.threads": threads}))
    load_s = time.perf_counter() - t0
    if gen is None:
        return {"backend": g.backend, "note": "no generator configured"}
    gen_name, runs = gen.name, []
    for prompt in LM_PROMPTS:
        messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": prompt}]
        t0 = time.perf_counter()
        first, n = None, 0
        for piece in gen.stream(messages, 128):
            n += 1
            if first is None:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
        decode = (n - 1) / (total - first) if first is not None and n > 1 and total > first else None
        runs.append({"pieces": n, "first_piece_s": first, "total_s": total, "decode_tokens_per_s": decode,
                     "overall_tokens_per_s": n / total if total else None})  # fmt: skip
    med = lambda key: statistics.median([r[key] for r in runs if r[key] is not None] or [0.0])  # noqa: E731
    del gen
    return {
        "generator": gen_name,
        "threads": threads,
        "load_s": load_s,
        "runs": runs,
        "decode_tokens_per_s": med("decode_tokens_per_s"),
        "overall_tokens_per_s": med("overall_tokens_per_s"),
        "first_piece_s": med("first_piece_s"),
        "note": "llama.cpp streams one piece per token; decode rate excludes the first piece (prompt processing)",
    }


class CpuTimed:
    """Delegates to a pipeline and records the process CPU seconds of each ``ask`` (all threads together).

    On a shared machine wall time grows with other processes' load; CPU time barely does.
    """

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.cpu_s: list[float] = []

    def ask(self, question: str, history: Sequence[Any] = ()) -> Any:
        t0 = time.process_time()
        try:
            return self.pipe.ask(question, history)
        finally:
            self.cpu_s.append(time.process_time() - t0)

    def document(self, source: str) -> Any:
        return self.pipe.document(source)

    def info(self) -> dict[str, Any]:
        return self.pipe.info()


def _eval_block(pipe: Any, questions: list[Any], config: Any) -> tuple[list[Any], dict[str, Any], list[float]]:
    from rag.evalrun import ask_all, source_texts
    from rag.evaluate import summarize

    timed = CpuTimed(pipe)
    sources = source_texts(pipe, config)
    runs = ask_all(timed, questions, sources, k=config.retrieve.top_k, progress=False)
    return runs, summarize([r.result for r in runs], by_type=False).to_dict(), timed.cpu_s


def child_serve(system: str, index_dir: str, questions_path: str, limit: int | None, profile_out: str) -> None:
    """Load once, warm up, (ours: profile one answer), answer the set; then the component benchmarks."""
    from rag.config import load_config
    from rag.evaluate import load_questions

    config = load_config().replace(**{"paths.index_dir": index_dir})
    questions = load_questions(questions_path)[:limit]
    out: dict[str, Any] = {"system": system}
    t0 = time.perf_counter()
    pipe = _load_system(system, index_dir)
    out["load_s"] = time.perf_counter() - t0
    warm = pipe.ask(WARMUP_QUESTION, [])
    out["warmup"] = {"question": WARMUP_QUESTION, "total_s": warm.timings.total_s, "ttft_s": warm.timings.ttft_s}

    if system == "ours" and profile_out:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        answer = pipe.ask(PROFILE_QUESTION, [])
        profiler.stop()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        flat = profiler.output_text(unicode=True, color=False, flat=True)
        Path(profile_out).write_text(
            f"# One warm answer: {PROFILE_QUESTION!r} -> generator={answer.generator}, "
            f"{answer.timings.total_s:.3f} s\n# Call tree\n{text}\n# Flat, self time\n{flat}\n",
            encoding="utf-8",
        )
        session = profiler.last_session
        out["profile"] = _profile_summary(session.root_frame(), session.duration) | {
            "question": PROFILE_QUESTION, "generator": answer.generator, "answer": answer.answer,
            "timings": answer.timings.to_dict(),
        }  # fmt: skip

    runs, summary, cpu = _eval_block(pipe, questions, config)
    out["peak_rss_mb"] = _peak_rss_mb()  # load + warm-up + profile + every question: the serving footprint
    out["cpu_per_answer"] = latency_stats(cpu)
    out["load_average"] = load_average()
    out["summary"] = summary
    out["per_question"] = [
        {"id": r.question.id, "type": r.question.type, "passed": r.result.passed, "abstained": r.answer.abstained,
         "generator": r.answer.generator, "ttft_s": round(r.answer.timings.ttft_s, 4),
         "total_s": round(r.answer.timings.total_s, 4), "error": r.error or None}
        for r in runs
    ]  # fmt: skip
    out["ttft"] = latency_stats(r.answer.timings.ttft_s for r in runs)
    out["total"] = latency_stats(r.answer.timings.total_s for r in runs)
    by_path: dict[str, list[float]] = {}
    for r in runs:
        by_path.setdefault(r.answer.generator or "?", []).append(r.answer.timings.total_s)
    out["total_by_path"] = {k: latency_stats(v) for k, v in sorted(by_path.items())}

    if system == "peer":
        out["settings"] = pipe.settings
        out["load_timings"] = pipe.load_timings
    else:
        out["retrieve_in_pipeline"] = latency_stats(r.answer.timings.retrieve_s for r in runs)
        out.update(_component_benchmarks(pipe, config, [q.question for q in questions]))
        out["lm"] = _lm_speed(config)
        if config.generate.threads != 1 and config.generate.backend == "llama.cpp":
            # llama.cpp's threads spin at barriers: on a busy 2-core machine 2 threads can lose to 1.
            out["lm_1_thread"] = _lm_speed(config, threads=1)
    _emit(RESULT, out)


def _component_benchmarks(pipe: Any, config: Any, questions: list[str]) -> dict[str, Any]:
    """Index build, embedding throughput and retrieval latency with an embedder that caches nothing."""
    from rag.embed import SentenceTransformerEmbedder, load_embedder
    from rag.retrieve import Retriever
    from rag.store import build_index

    try:
        embedder = SentenceTransformerEmbedder(config.embed.model, config.embed.batch_size, cache_size=0)
    except TypeError:  # a different constructor: fall back to the plain loader (its cache may flatter reruns)
        embedder = load_embedder(config.embed.model, config.embed.batch_size)
    t0 = time.perf_counter()
    index = build_index(config, embedder, progress=False)
    build_s = time.perf_counter() - t0

    from rag.store import _embed_text  # the exact texts the index embeds

    texts = [_embed_text(c) for c in index.chunks] + [s.text for s in index.sentences]
    batch = max(1, config.embed.batch_size)
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed(texts[i : i + batch])
    embed_s = time.perf_counter() - t0
    single = []
    for q in questions:
        t0 = time.perf_counter()
        embedder.embed([q])
        single.append(time.perf_counter() - t0)

    retriever = Retriever(index, embedder, config.retrieve)
    search = []
    for q in questions:
        t0 = time.perf_counter()
        retriever.search(q)
        search.append(time.perf_counter() - t0)
    return {
        "index": {"build_s": build_s, "n_chunks": len(index.chunks), "n_sentences": len(index.sentences),
                  "note": "warm process: chunk + embed chunks and sentences + FAISS, models already loaded"},
        "embedding": {"texts": len(texts), "seconds": embed_s, "texts_per_s": len(texts) / embed_s if embed_s else None,
                      "batch_size": batch, "query_latency": latency_stats(single)},
        "retrieval": latency_stats(search) | {"note": "embed query (uncached) + FAISS + BM25 + fusion"},
    }  # fmt: skip


# --------------------------------------------------------------------------- parent


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


def run_child(args: list[str], log: Path, timeout: float = 1800) -> tuple[float | None, float, dict[str, Any]]:
    """Spawn ``bench.py --child ...``; return (seconds to READY, seconds to exit, its RESULT)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    t0 = time.perf_counter()
    ready, result = None, None
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_child_env(), stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.rstrip("\n") == READY and ready is None:
                ready = time.perf_counter() - t0
            elif line.startswith(RESULT):
                result = json.loads(line[len(RESULT) :])
        proc.wait(timeout=timeout)
    total = time.perf_counter() - t0
    if proc.returncode != 0 or result is None:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"benchmark child {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return ready, total, result


def time_help(runs: int = 3) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("rag")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "rag.cli", "--help"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=_child_env(), capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
            "median_s": statistics.median(times), "runs_s": times}  # fmt: skip


def cold_starts(system: str, tmp: Path, question: str, runs: int, say: Callable[[str], None]) -> dict[str, Any]:
    """(b) no index: a fresh, empty index folder each run; (a) index built: the folder (b) left behind."""
    out: dict[str, Any] = {"no_index": [], "built": []}
    index_dir = tmp / f"{system}-index"
    for i in range(runs):
        fresh = tmp / f"{system}-empty-{i}"
        ready, total, res = run_child(["cold", system, str(fresh), question], tmp / f"{system}-cold-b{i}.log")
        out["no_index"].append(res | {"ready_s": ready, "exit_s": total})
        say(f"  {system} cold start, no index: {ready:.1f} s")
        if i == 0:
            fresh.rename(index_dir)
    for i in range(runs):
        ready, total, res = run_child(["cold", system, str(index_dir), question], tmp / f"{system}-cold-a{i}.log")
        out["built"].append(res | {"ready_s": ready, "exit_s": total})
        say(f"  {system} cold start, index built: {ready:.1f} s")
    for key in ("no_index", "built"):
        out[f"{key}_s"] = statistics.median(r["ready_s"] for r in out[key])
    out["index_dir"] = str(index_dir)
    return out


def flatten(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers, one flat namespace per system, for the tables and targets."""
    flat: dict[str, Any] = {}
    for system in ("ours", "peer"):
        r = results.get(system)
        if not r:
            continue
        serve, cold = r["serve"], r["cold"]
        flat[system] = {
            "ttft_p50_s": serve["ttft"]["p50"], "ttft_p95_s": serve["ttft"]["p95"],
            "total_p50_s": serve["total"]["p50"], "total_p95_s": serve["total"]["p95"],
            "cold_built_s": cold["built_s"], "cold_no_index_s": cold["no_index_s"],
            "peak_rss_gb": serve["peak_rss_mb"] / 1024, "load_s": serve["load_s"],
            "cpu_p50_s": serve["cpu_per_answer"]["p50"],
            "cold_built_cpu_s": statistics.median(r["cpu_s"] for r in cold["built"]),
            **{key: serve["summary"].get(key) for key, _, _ in METRICS},
        }  # fmt: skip
    if "ours" in flat and "peer" in flat:
        o, p = flat["ours"], flat["peer"]
        flat["speedup"] = {
            "total_p50": speedup(o["total_p50_s"], p["total_p50_s"]),
            "ttft_p50": speedup(o["ttft_p50_s"], p["ttft_p50_s"]),
            "cold_built": speedup(o["cold_built_s"], p["cold_built_s"]),
            "cold_no_index": speedup(o["cold_no_index_s"], p["cold_no_index_s"]),
            "cpu_p50": speedup(o["cpu_p50_s"], p["cpu_p50_s"]),
            "cold_built_cpu": speedup(o["cold_built_cpu_s"], p["cold_built_cpu_s"]),
        }
        flat["metrics_not_worse"], flat["metrics_worse"] = metrics_not_worse(o, p)
    return flat


def targets_table(flat: dict[str, Any]) -> list[list[str]]:
    rows = []
    for label, key, limit, unit in TARGETS:
        value = lookup(flat, key)
        shown = fmt_num(value, unit) if unit == "s" else ("–" if value is None else f"{value:.2f} {unit}")
        rows.append([label, shown, f"≤ {limit:g} {unit}", target_status(value, limit)])
    s = flat.get("speedup") or {}
    for key, label in (("total_p50", "p50 answer latency"), ("ttft_p50", "p50 time to first token"),
                       ("cold_built", "cold start, index built")):  # fmt: skip
        rows.append([f"≥ {SPEEDUP_TARGET:g}× faster than peer: {label}", fmt_ratio(s.get(key)),
                     f"≥ {SPEEDUP_TARGET:g}×", target_status(s.get(key), SPEEDUP_TARGET, higher_is_better=True)])  # fmt: skip
    if "metrics_not_worse" in flat:
        ok = flat["metrics_not_worse"]
        worse = ", ".join(flat["metrics_worse"]) or "none"
        rows.append(["Eval metrics equal or better than peer", f"worse on: {worse}", "none worse",
                     "n/a" if ok is None else ("met" if ok else "not met")])  # fmt: skip
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    """bench.md: what ran where, the targets, the side-by-side table, components and the profile."""
    flat = flatten(results)
    m = results["machine"]
    ours, peer = results.get("ours", {}), results.get("peer")
    lines = [
        "# Benchmark: a 2-core CPU, our pipeline and a LangChain peer",
        "",
        f"Generated by `{results['command']}` on {results['created']}. "
        f"Questions: `{results['questions']}` ({results['n_questions']}). "
        "Reproduce with `make bench` (or the command above); numbers vary with machine load, "
        f"which was {results['load_average']['start']} at the start and {results['load_average']['end']} "
        "at the end (1/5/15-minute load averages).",
        "",
        f"**Machine:** {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gb']} GB RAM, "
        f"Python {m['python']}; torch {m['versions'].get('torch')}, faiss {m['versions'].get('faiss-cpu')}, "
        f"llama-cpp-python {m['versions'].get('llama_cpp_python')}, "
        f"commit {m['git_commit']}{' (rag/ had local changes)' if m['rag_dirty'] else ''}.",
        "",
        "## Targets",
        "",
        markdown_table(["Target", "Measured", "Target", "Status"], targets_table(flat), "lrrl"),
        "",
    ]
    rows = []

    def row(label: str, key: str, unit: str = "s", fmt: Callable[..., str] = fmt_num, ratio: str | None = None) -> None:
        o, p = lookup(flat, f"ours.{key}"), lookup(flat, f"peer.{key}")
        cells = [label, fmt(o, unit) if fmt is fmt_num else fmt(o)]
        if peer:
            cells.append(fmt(p, unit) if fmt is fmt_num else fmt(p))
            cells.append(fmt_ratio(flat["speedup"].get(ratio)) if ratio else "")
        rows.append(cells)

    row("Time to first token p50", "ttft_p50_s", ratio="ttft_p50")
    row("Time to first token p95", "ttft_p95_s")
    row("Answer latency p50", "total_p50_s", ratio="total_p50")
    row("Answer latency p95", "total_p95_s")
    row("Cold start, index built", "cold_built_s", ratio="cold_built")
    row("Cold start, no index", "cold_no_index_s", ratio="cold_no_index")
    row("CPU time per answer p50 (load-insensitive)", "cpu_p50_s", ratio="cpu_p50")
    row("CPU time of a cold start, index built", "cold_built_cpu_s", ratio="cold_built_cpu")
    row("Peak RSS while serving", "peak_rss_gb", "GB")
    for key, label, higher in METRICS:
        row(f"{label} ({'higher' if higher else 'lower'} is better)", key, fmt=fmt_metric)
    headers = ["", "ours", "LangChain peer", "peer ÷ ours (speed-up)"] if peer else ["", "ours"]
    lines += ["## Side by side", "", markdown_table(headers, rows), ""]
    lines += [
        "Latencies are over every question of the set after one warm-up question (not counted), in one "
        "long-lived process, from `Answer.timings`. Our time to first token is the time to the first "
        "*verified* sentence (only checked text is streamed); the peer's is the first streamed LM token "
        "(a LangChain callback). Cold start = spawn of a fresh Python process until its first answer is ready, "
        "timed by the parent. Both systems use the same embedding model folder, FAISS, the same SmolLM2-135M "
        "GGUF through llama.cpp with 2 threads, and top-k 4; both are scored by the same `rag.evaluate` code "
        "(the peer does not cite, so its citation hit is 0 where gold evidence exists). CPU time is the "
        "process's user+system seconds over all its threads (llama.cpp runs 2), so it can exceed wall time; "
        "unlike wall time it hardly changes with other processes' load.",
        "",
    ]
    if peer:
        s = peer["serve"]["settings"]
        lines += ["**Peer settings:** " + "; ".join(f"{k}: {v}" for k, v in s.items()) + ". RetrievalQA "
                  "keeps no chat history, so follow-up questions are asked on their own.", ""]  # fmt: skip
    if ours:
        serve = ours["serve"]
        comp = [
            ["`rag --help`", fmt_num(results["help"]["median_s"]), "median of 3 fresh processes"],
            ["Pipeline load (warm file cache, index built)", fmt_num(serve["load_s"]), "in the serving process"],
            ["Index build", fmt_num(serve["index"]["build_s"]),
             f"{serve['index']['n_chunks']} chunks + {serve['index']['n_sentences']} sentences; {serve['index']['note']}"],
            ["Embedding throughput", f"{serve['embedding']['texts_per_s']:.0f} texts/s",
             f"{serve['embedding']['texts']} texts, batch {serve['embedding']['batch_size']}"],
            ["Query embedding p50", fmt_num(serve["embedding"]["query_latency"]["p50"]), "one uncached question"],
            ["Retrieval p50 / p95", f"{fmt_num(serve['retrieval']['p50'])} / {fmt_num(serve['retrieval']['p95'])}",
             serve["retrieval"]["note"]],
            ["LM decode speed", f"{serve['lm']['decode_tokens_per_s']:.0f} tokens/s",
             f"{serve['lm'].get('generator')}; first piece {fmt_num(serve['lm']['first_piece_s'])}; "
             f"overall {serve['lm']['overall_tokens_per_s']:.0f} tokens/s; load {fmt_num(serve['lm']['load_s'])}"],
        ]  # fmt: skip
        if serve.get("lm_1_thread"):
            one = serve["lm_1_thread"]
            comp.append(["LM decode speed, 1 thread", f"{one['decode_tokens_per_s']:.0f} tokens/s",
                         f"first piece {fmt_num(one['first_piece_s'])}; for comparison with the configured "
                         f"{serve['lm']['threads']} threads"])  # fmt: skip
        for path, st in serve["total_by_path"].items():
            comp.append([f"Answer latency p50, `{path}` answers", fmt_num(st["p50"]), f"{st['n']} questions"])
        cold = ours["cold"]
        b = cold["built"][0]
        comp.append(["Cold start breakdown (index built)",
                     f"{fmt_num(cold['built_s'])}",
                     f"import {fmt_num(b['import_s'])}, load {fmt_num(b['load_s'])}, first answer "
                     f"{fmt_num(b['first_answer_s'])}; the rest is interpreter start"])  # fmt: skip
        lines += ["## Our components", "", markdown_table(["Measure", "Value", "Notes"], comp, "lrl"), ""]
        prof = serve.get("profile")
        if prof:
            lines += [
                "## Profile of one warm answer",
                "",
                f"pyinstrument, question {prof['question']!r} (answered by the `{prof['generator']}` path in "
                f"{fmt_num(prof['total_s'])}); full call tree in `profile.txt`.",
                "",
                markdown_table(["Our function (inclusive)", "Time", "Share"],
                               [[f"`{r['function']}`", fmt_num(r["s"]), fmt_metric(r["share"])]
                                for r in prof["ours_inclusive"][:8]], "lrr"),  # fmt: skip
                "",
                markdown_table(["Hottest code (self time)", "Time", "Share"],
                               [[f"`{r['function']}`", fmt_num(r["s"]), fmt_metric(r["share"])]
                                for r in prof["self_time"][:8]], "lrr"),  # fmt: skip
                "",
            ]
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help=f"default: {DEFAULT_QUESTIONS}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (quick runs)")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold starts of each kind per system (median)")
    parser.add_argument("--no-peer", action="store_true", help="skip the LangChain peer")
    parser.add_argument("--note", action="append", default=[], help="a note to print in bench.md (repeatable)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, system, index_dir, *rest = args.child
        if kind == "cold":
            child_cold(system, index_dir, rest[0])
        else:
            limit = int(rest[1]) if rest[1] != "all" else None
            child_serve(system, index_dir, rest[0], limit, rest[2] if len(rest) > 2 else "")
        return 0

    from rag.evaluate import load_questions

    questions = load_questions(args.questions)[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    results: dict[str, Any] = {
        "command": "python evals/bench.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "questions": os.path.relpath(args.questions, ROOT),
        "n_questions": len(questions),
        "load_average": {"start": load_average()},
        "machine": machine_info(),
        "warmup_question": WARMUP_QUESTION,
        "notes": list(args.note),
    }
    say(f"machine: {results['machine']['cpu_model']}, load {results['load_average']['start']}")
    results["help"] = time_help()
    say(f"rag --help: {results['help']['median_s']:.2f} s")
    systems = ["ours"] + ([] if args.no_peer else ["peer"])
    if "peer" in systems:
        try:
            import importlib.util

            if importlib.util.find_spec("langchain_community") is None:
                raise ImportError("langchain-community")
        except ImportError as exc:
            say(f"skipping the peer: {exc} is not installed (pip install -e '.[bench]')")
            systems.remove("peer")
            results["notes"].append("Peer skipped: the bench extra is not installed.")
    first_q = questions[0].question
    limit = str(args.limit) if args.limit else "all"
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for system in systems:
            say(f"{system}: cold starts")
            cold = cold_starts(system, tmp, first_q, max(1, args.cold_runs), say)
            say(f"{system}: serving {len(questions)} questions")
            profile = str(args.out / "profile.txt") if system == "ours" else ""
            _, _, serve = run_child(["serve", system, cold["index_dir"], str(args.questions.resolve()), limit, profile],
                                    tmp / f"{system}-serve.log")  # fmt: skip
            results[system] = {"cold": cold, "serve": serve}
            say(f"  {system}: ttft p50 {serve['ttft']['p50']:.2f} s, total p50 {serve['total']['p50']:.2f} s, "
                f"peak RSS {serve['peak_rss_mb']:.0f} MB")  # fmt: skip
    results["load_average"]["end"] = load_average()
    results["flat"] = flatten(results)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "bench.md").write_text(render_markdown(results), encoding="utf-8")
    say(f"wrote {args.out / 'bench.json'}, {args.out / 'bench.md'}" + (", profile.txt" if "ours" in systems else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
