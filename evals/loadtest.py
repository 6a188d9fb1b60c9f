"""A bounded load test of the chat server's ``/ask`` API: N simulated users, each asking M questions.

Every request must end as *answered* or *busy* (the server's clean "queue is full / try again" refusal);
anything else is an *error*. Reports counts, latency percentiles of answered requests and the server's
resident memory before and after, and writes them to a markdown file.

    # launch `rag serve` (real models) on a free loopback port, 20 users x 5 questions:
    .venv/bin/python evals/loadtest.py
    # against a server that is already running (RSS only with --pid):
    .venv/bin/python evals/loadtest.py --url http://127.0.0.1:7860 --pid 12345

It talks to 127.0.0.1 only, and stops by itself: at most users x questions requests, each with a timeout,
and an overall deadline after which unfinished requests count as errors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "evals" / "questions.jsonl"
BUSY_MARKERS = ("queue is full", "busy answering other questions")  # Gradio's refusal, ui.service.BUSY_MESSAGE


@dataclass
class Outcome:
    user: int
    question: str
    status: str  # "answered" | "busy" | "error"
    latency_s: float
    detail: str = ""


@dataclass
class LoadResult:
    users: int
    per_user: int
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def latency(self, q: float) -> float | None:
        times = sorted(o.latency_s for o in self.outcomes if o.status == "answered")
        if not times:
            return None
        if len(times) == 1:
            return times[0]
        return statistics.quantiles(times, n=100, method="inclusive")[round(q * 100) - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "users": self.users, "questions_per_user": self.per_user, "requests": len(self.outcomes),
            "answered": self.count("answered"), "busy": self.count("busy"), "errors": self.count("error"),
            "p50_s": _round(self.latency(0.50)), "p95_s": _round(self.latency(0.95)),
            "max_s": _round(max((o.latency_s for o in self.outcomes if o.status == "answered"), default=None)),
            "wall_s": round(self.wall_s, 1),
            "rss_before_mb": _round(self.rss_before_mb, 0), "rss_after_mb": _round(self.rss_after_mb, 0),
        }


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def is_busy(message: str) -> bool:
    return any(m in message.lower() for m in BUSY_MARKERS)


def load_questions(path: Path = QUESTIONS) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of the server process and its children, in MiB (None when unknown)."""
    if pid is None:
        return None
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return None


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"Refusing to load-test {url}: this tool only targets a server on 127.0.0.1.")


def run_load(
    url: str,
    questions: Sequence[str],
    users: int = 20,
    per_user: int = 5,
    timeout_s: float = 120.0,
    deadline_s: float = 900.0,
    think_s: tuple[float, float] = (0.2, 1.0),
    pid: int | None = None,
    headers: dict[str, str] | None = None,
    seed: int = 0,
) -> LoadResult:
    """Start ``users`` threads together; each asks ``per_user`` questions through gradio_client, one at a time."""
    from gradio_client import Client

    check_loopback(url)
    result = LoadResult(users, per_user, rss_before_mb=rss_mb(pid))
    lock = threading.Lock()
    start = threading.Barrier(users)
    t_end = time.monotonic() + deadline_s

    def user(u: int) -> None:
        rng = random.Random(seed * 1000 + u)
        asked = [questions[(u * per_user + i) % len(questions)] for i in range(per_user)]
        try:
            client = Client(url.rstrip("/") + "/", verbose=False, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a user that cannot connect is an error, not a crash
            with lock:
                result.outcomes += [Outcome(u, q, "error", 0.0, f"connect: {exc}") for q in asked]
            start.wait()
            return
        start.wait()  # every user fires its first question at the same moment
        for i, question in enumerate(asked):
            left = t_end - time.monotonic()
            if left <= 0:
                outcome = Outcome(u, question, "error", 0.0, "not sent: overall deadline reached")
            else:
                t0 = time.perf_counter()
                job = client.submit(question, None, api_name="/ask")
                try:
                    answer = job.result(timeout=min(timeout_s, left))
                    ok = isinstance(answer, dict) and isinstance(answer.get("answer"), str) and answer["answer"]
                    outcome = Outcome(u, question, "answered" if ok else "error", time.perf_counter() - t0,
                                      "" if ok else f"malformed answer: {str(answer)[:200]}")
                except Exception as exc:  # noqa: BLE001
                    message = f"{type(exc).__name__}: {exc}"
                    outcome = Outcome(u, question, "busy" if is_busy(message) else "error", time.perf_counter() - t0,
                                      message[:300])
                    job.cancel()
            with lock:
                result.outcomes.append(outcome)
            if i + 1 < len(asked):
                time.sleep(rng.uniform(*think_s))
        client.close() if hasattr(client, "close") else None

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, t_end - time.monotonic()) + timeout_s + 30)
    result.wall_s = time.perf_counter() - t0
    result.rss_after_mb = rss_mb(pid)
    with lock:
        missing = users * per_user - len(result.outcomes)
        result.outcomes += [Outcome(-1, "", "error", 0.0, "user thread did not finish")] * max(0, missing)
    return result


# -- launching a server -------------------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def launch_server(
    overrides: Sequence[str] = (), port: int | None = None, startup_s: float = 600.0, log_path: Path | None = None,
    host: str | None = "127.0.0.1",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``rag serve`` on a free port with a throwaway index folder; yields (url, process).

    ``host=None`` leaves the bind address to the config default (which must be loopback).
    """
    import httpx

    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="rag-loadtest-") as tmp:
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_PATHS__INDEX_DIR=f"{tmp}/index")
        cmd = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port), *(["--host", host] if host else [])]
        for item in overrides:
            cmd += ["--set", item]
        log = open(log_path or Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_s
            while True:
                if proc.poll() is not None:
                    log.flush()
                    tail = Path(log.name).read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the server exited with {proc.returncode} during startup:\n{tail}")
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start within {startup_s:.0f} s")
                time.sleep(0.5)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# -- the report ---------------------------------------------------------------------------------------------------
def render_report(result: LoadResult, command: str, setup: str) -> str:
    s = result.summary()
    errors = [o for o in result.outcomes if o.status == "error"]
    busy = [o for o in result.outcomes if o.status == "busy"]
    lines = [
        "# Load test of the chat server",
        "",
        f"Reproduce: `{command}`",
        "",
        setup,
        "",
        "| users × questions | requests | answered | busy (refused) | errors | p50 latency | p95 latency | max "
        "| wall time |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s['users']} × {s['questions_per_user']} | {s['requests']} | {s['answered']} | {s['busy']} | {s['errors']} "
        f"| {_fmt(s['p50_s'])} | {_fmt(s['p95_s'])} | {_fmt(s['max_s'])} | {s['wall_s']} s |",
        "",
        f"Server memory (RSS, server process and children): {_mb(s['rss_before_mb'])} before, "
        f"{_mb(s['rss_after_mb'])} after.",
        "",
        "Latencies are of answered requests, measured at the client from submit to result (queue wait included).",
        "*Busy* is the server refusing a request cleanly because its queue is full (`server.max_queue`); the "
        "client is told to try again. *Errors* are anything else: a crash, a timeout, a malformed reply.",
    ]
    if busy:
        lines += ["", f"Busy message as received: `{busy[0].detail}`"]
    if errors:
        lines += ["", "## Errors", ""] + [f"- user {o.user}: {o.detail}" for o in errors[:20]]
    return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


def _mb(x: float | None) -> str:
    return "not measured" if x is None else f"{x:.0f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="An already running server on 127.0.0.1 (default: launch `rag serve`).")
    parser.add_argument("--pid", type=int, help="With --url: the server's process id, to report its memory.")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=5, help="Questions per user.")
    parser.add_argument("--timeout", type=float, default=180.0, help="Seconds one request may take.")
    parser.add_argument("--deadline", type=float, default=900.0, help="Seconds the whole test may take.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Config override for the launched server (repeatable), e.g. server.max_queue=8.")
    parser.add_argument("--token", default="", help="Access token, when the server requires one.")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "loadtest.md")
    args = parser.parse_args(argv)

    questions = load_questions()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    given = list(argv if argv is not None else sys.argv[1:])
    command = " ".join(["python evals/loadtest.py", *(shlex.quote(a) for a in given)])
    kwargs = dict(users=args.users, per_user=args.questions, timeout_s=args.timeout, deadline_s=args.deadline,
                  headers=headers)
    if args.url:
        check_loopback(args.url)
        result = run_load(args.url, questions, pid=args.pid, **kwargs)  # type: ignore[arg-type]
        setup = f"Against an already running server at {args.url}."
    else:
        print("Starting `rag serve` (configured models; builds a throwaway index)…", file=sys.stderr)
        t0 = time.perf_counter()
        with launch_server(args.overrides) as (url, proc):
            print(f"Server up at {url} in {time.perf_counter() - t0:.0f} s; {args.users} users × {args.questions} "
                  "questions…", file=sys.stderr)
            import httpx

            httpx.get(url + "/healthz", timeout=5)
            from rag.config import load_config, parse_set

            cfg = load_config(overrides=parse_set(args.overrides))
            result = run_load(url, questions, pid=proc.pid, **kwargs)  # type: ignore[arg-type]
        setup = (
            f"`rag serve` launched by the script on {url} with the configured models (embedder "
            f"`{cfg.embed.model}`, generator `{cfg.generate.backend}`/`{cfg.generate.model}`), "
            f"`server.concurrency={cfg.server.concurrency}`, `server.max_queue={cfg.server.max_queue}`; "
            f"{os.cpu_count()} CPU cores shared by server and clients. Each user opens its own gradio_client "
            "session, all users send their first question at the same moment, then wait for each answer and "
            "pause 0.2–1 s before the next. Questions come from evals/questions.jsonl."
        )
    args.out.write_text(render_report(result, command, setup), encoding="utf-8")
    print(json.dumps(result.summary(), indent=2))
    print(f"Wrote {args.out}", file=sys.stderr)
    return 0 if result.count("error") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
