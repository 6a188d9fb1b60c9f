"""How does the product scale with corpus size? Index time and memory, index size, re-index, cold ask, query latency.

    .venv/bin/python evals/growth.py [--sizes seed,1mb,10mb] [--corpus-root DIR] [--out DIR]
    .venv/bin/python evals/growth.py --sizes seed,small --out evals/out/growth-smoke     # a quick run (~200 KB)
    .venv/bin/python evals/growth.py --build-only --sizes 1mb,10mb                      # only collect the corpora

Sizes: ``seed`` (the article in seeds/), ``small`` (200 KB), ``1mb``, ``10mb`` or any ``<N>kb``/``<N>mb``
(decimal: 1 MB = 10^6 bytes of source text). Each corpus is real documentation found on this Debian machine
(/usr/share/doc, Markdown under site-packages and dist-packages, man pages rendered to text), picked
deterministically and copied flat into CORPUS_ROOT/<size>/, with CORPUS_ROOT/<size>.sources.json listing where
every file came from; an existing corpus with the same settings is reused.

For each size, every step runs in a fresh subprocess timed by this parent from spawn to exit; peak RSS is the
kernel's high-water mark of that child (``wait4``), cross-checked by psutil polling of its process tree:
``rag index --full`` into a temp folder, a no-op ``rag index``, cold ``rag ask`` runs (generate.backend=none: the LM
is measured by bench.py and latency.py), one warm process answering 20 generic questions (``Pipeline.ask``) and
running 20 others through ``Retriever.search`` alone, then ``rag index`` after appending one sentence to one file
(and again after restoring it). Writes OUT/growth.json, OUT/growth.md and OUT/growth.png (default OUT:
evals/bench/) after every size, so a long run keeps what it measured. Numbers, no asserts.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from bench import _child_env, latency_stats, load_average, machine_info, markdown_table  # noqa: E402

DEFAULT_OUT = HERE / "bench"
DEFAULT_CORPUS_ROOT = HERE / "out" / "growth" / "corpora"
SEEDS = ROOT / "seeds"
SIZE_ALIASES = {"small": "200kb"}
DEFAULT_SIZES = "seed,1mb,10mb"

# Corpus selection. One file may not outweigh a small corpus; tiny files are stubs ("see the package X").
MAX_FILE_BYTES = 300_000
MIN_FILE_BYTES = 512
MAX_CONTROL_SHARE = 0.001  # control characters other than tab/newline/form feed: a binary or escape-coded file
MISFITS_TO_STOP = 100  # this many files in a row too big for what is left of the budget: the corpus is full
MAN_SECTIONS = ("man1", "man5", "man7", "man8")  # commands, file formats, overviews, admin; not C APIs (2, 3)
KINDS = ("markdown", "html", "text", "man")  # taken in turn, so no one format fills a corpus
# Plain-text files without a .txt suffix, by name; tier = order within the "text" kind (real docs first).
TEXT_NAMES = re.compile(r"^(readme|faq|todo|news|changelog|changes|history)([._-][\w.-]*)?$", re.IGNORECASE)
TEXT_TIERS = {"readme": 1, "faq": 1, "todo": 1, "news": 2, "changelog": 3, "changes": 3, "history": 3}
NOT_TEXT = {".py", ".c", ".h", ".json", ".xml", ".yml", ".yaml", ".pdf", ".png", ".svg", ".gif", ".jpg", ".sh", ".pl",
            ".el", ".in", ".mk", ".cfg", ".ini", ".toml", ".csv", ".html", ".htm", ".md", ".markdown"}  # fmt: skip
LICENSE_NAMES = re.compile(r"^(licen[cs]e|copying|notice|authors)", re.IGNORECASE)

# Generic questions that make sense for any technical documentation. The warm process asks QUESTIONS and
# searches SEARCH_QUESTIONS: different texts, so no query vector is served from the embedder's cache.
QUESTIONS = (
    "How do I install it?",
    "How do I configure logging?",
    "What license is this released under?",
    "What are the system requirements?",
    "How do I report a bug?",
    "What changed in the latest release?",
    "How do I enable debug output?",
    "Which environment variables are supported?",
    "How do I uninstall it?",
    "Where is the configuration file located?",
    "How do I run the tests?",
    "What is the default port?",
    "How can I improve performance?",
    "Is it compatible with Windows?",
    "How do I upgrade to a new version?",
    "What does the verbose option do?",
    "How are errors reported?",
    "Who maintains this project?",
    "How do I contribute a patch?",
    "What security issues were fixed?",
)
SEARCH_QUESTIONS = (
    "How do I set a timeout?",
    "Where are the log files written?",
    "How do I build it from source?",
    "What is the command line syntax?",
    "How do I change the output format?",
    "Which options are deprecated?",
    "How is memory usage limited?",
    "How do I use it with Python?",
    "What happens when the disk is full?",
    "How do I verify a signature?",
    "Which file formats are supported?",
    "How can I run it in the background?",
    "What are the known limitations?",
    "How do I disable colour output?",
    "How are dependencies resolved?",
    "What does the exit status mean?",
    "How do I configure a proxy?",
    "Where is the documentation?",
    "How do I migrate from the old version?",
    "How do I enable compression?",
)
WARMUP_QUESTION = "What is this about?"
COLD_QUESTION = QUESTIONS[0]
APPENDED = "\n\nThis sentence was appended by the growth benchmark to time an incremental re-index.\n"
CHILD_TIMEOUT_S = 3 * 3600  # a 10 MB index on a busy 2-core machine takes minutes, not hours


# --------------------------------------------------------------------------- sizes


def parse_size(name: str) -> int | None:
    """Bytes of source text for a size name (``200kb``, ``1mb``, ``small``); None for ``seed``."""
    name = SIZE_ALIASES.get(name.lower(), name.lower())
    if name == "seed":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(kb|mb)", name)
    if not m:
        raise argparse.ArgumentTypeError(f"unknown size {name!r}: use seed, small, or <N>kb / <N>mb (e.g. 1mb)")
    return int(float(m.group(1)) * (1_000 if m.group(2) == "kb" else 1_000_000))


# --------------------------------------------------------------------------- corpus building (pure, tested)


@dataclass(frozen=True)
class Candidate:
    """A file that may join a corpus: its format, its package, and the flat name its copy gets."""

    kind: str  # one of KINDS
    tier: int  # within a kind: lower tiers are taken first (docs before READMEs before changelogs)
    group: str  # the package it belongs to ("doc/git", "site-packages/gradio", "man/man1")
    path: Path
    name: str  # flat file name in the corpus, with the suffix the corpus loader parses it by


def flat_name(label: str, rel: str, suffix: str) -> str:
    """``doc/python3-pip/html/caching.md.gz`` -> ``doc__python3-pip__html__caching.md``: unique, flat, parseable."""
    rel = rel[:-3] if rel.endswith(".gz") else rel
    stem = rel[: -len(Path(rel).suffix)] if Path(rel).suffix.lower() == suffix else rel
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{label}__{stem.replace('/', '__')}")
    if len(name) > 150:  # file systems cap names at 255 bytes; keep room for a collision suffix
        name = name[:140] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return name + suffix


def classify(rel: str, kinds: Iterable[str] = KINDS) -> tuple[str, int, str] | None:
    """(kind, tier, suffix) of a documentation file by its name, or None when it is not one we take."""
    inner = rel[:-3] if rel.endswith(".gz") else rel
    base = inner.rsplit("/", 1)[-1]
    suffix = Path(base).suffix.lower()
    license_tier = 1 if LICENSE_NAMES.match(base) else 0
    if suffix in (".md", ".markdown"):
        found = ("markdown", license_tier, ".md")
    elif suffix in (".html", ".htm"):
        found = ("html", license_tier, ".html")
    elif suffix == ".txt":
        found = ("text", license_tier, ".txt")
    elif (m := TEXT_NAMES.match(base)) and suffix not in NOT_TEXT:
        found = ("text", TEXT_TIERS[m.group(1).lower()], ".txt")
    else:
        return None
    return found if found[0] in kinds else None


def find_candidates(roots: Sequence[tuple[str, Path, Sequence[str]]]) -> list[Candidate]:
    """Every documentation file under ``(label, folder, kinds)`` roots; symlinks are skipped (they duplicate)."""
    out = []
    for label, root, kinds in roots:
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for file in files:
                path = Path(folder) / file
                rel = path.relative_to(root).as_posix()
                found = classify(rel, kinds)
                if found is None or path.is_symlink() or not path.is_file():
                    continue
                kind, tier, suffix = found
                group = f"{label}/{rel.split('/', 1)[0]}" if "/" in rel else label
                out.append(Candidate(kind, tier, group, path, flat_name(label, rel, suffix)))
    return out


def man_candidates(man_root: Path, sections: Sequence[str] = MAN_SECTIONS) -> list[Candidate]:
    """English man pages (rendered to text only when picked); one group per section."""
    out = []
    for section in sections:
        folder = man_root / section
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                rel = f"{section}/{path.name}"
                out.append(Candidate("man", 0, f"man/{section}", path, flat_name("man", rel, ".txt")))
    return out


def interleave(iterators: Iterable[Iterator[Any]]) -> Iterator[Any]:
    """Round robin: one item from each iterator in turn until all are exhausted."""
    queue = deque(iterators)
    while queue:
        it = queue.popleft()
        try:
            item = next(it)
        except StopIteration:
            continue
        yield item
        queue.append(it)


def selection_order(candidates: Iterable[Candidate]) -> Iterator[Candidate]:
    """Kinds in turn; within a kind, tier by tier; within a tier, packages in turn; within a package, by path.

    Deterministic (everything is sorted) and varied: no format or package fills a corpus before the others.
    """
    tree: dict[str, dict[int, dict[str, list[Candidate]]]] = {}
    for c in candidates:
        tree.setdefault(c.kind, {}).setdefault(c.tier, {}).setdefault(c.group, []).append(c)

    def kind_order(tiers: dict[int, dict[str, list[Candidate]]]) -> Iterator[Candidate]:
        for tier in sorted(tiers):
            groups = tiers[tier]
            yield from interleave(iter(sorted(groups[g], key=lambda c: c.path.as_posix())) for g in sorted(groups))

    ordered = [k for k in KINDS if k in tree] + sorted(k for k in tree if k not in KINDS)
    return interleave(kind_order(tree[k]) for k in ordered)


def read_limited(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the file, decompressed when it ends in .gz."""
    opener: Callable[..., Any] = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return fh.read(limit + 1)


def render_man(path: Path, timeout: float = 30) -> bytes:
    """A man page as plain ASCII text, 80 columns, as evals/dev/build_corpora.sh renders them."""
    env = dict(os.environ, LC_ALL="C", MANWIDTH="80", MAN_KEEP_FORMATTING="0")
    script = 'man --nh --nj -P cat -l "$1" 2>/dev/null | col -bx'
    try:
        done = subprocess.run(["sh", "-c", script, "sh", str(path)], env=env, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return done.stdout


def load_candidate(c: Candidate, max_bytes: int = MAX_FILE_BYTES) -> tuple[bytes | None, str]:
    """The bytes to copy, or None and why the file is left out."""
    try:
        data = render_man(c.path) if c.kind == "man" else read_limited(c.path, max_bytes)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None, "unreadable"
    return check_text(data, max_bytes)


def check_text(
    data: bytes, max_bytes: int = MAX_FILE_BYTES, min_bytes: int = MIN_FILE_BYTES
) -> tuple[bytes | None, str]:
    """``data`` when it is usable UTF-8 text of a sensible size; else None and the reason."""
    if len(data) > max_bytes:
        return None, "too large"
    if len(data.strip()) < min_bytes:
        return None, "too small"
    if b"\x00" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > MAX_CONTROL_SHARE * len(text):
        return None, "control characters"
    return data, ""


def select_files(
    ordered: Iterable[Candidate],
    budget: int,
    load: Callable[[Candidate], tuple[bytes | None, str]] = load_candidate,
    misfits_to_stop: int = MISFITS_TO_STOP,
    min_bytes: int = MIN_FILE_BYTES,
) -> tuple[list[tuple[Candidate, bytes]], Counter[str]]:
    """Take candidates in order while they fit the byte budget (never exceeded); skip duplicates and junk."""
    picked: list[tuple[Candidate, bytes]] = []
    skipped: Counter[str] = Counter()
    seen_content: set[str] = set()
    seen_names: set[str] = set()
    total, misfits = 0, 0
    for c in ordered:
        if budget - total < min_bytes or misfits >= misfits_to_stop:
            break
        data, why = load(c)
        if data is None:
            skipped[why] += 1
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen_content:
            skipped["duplicate"] += 1
            continue
        if total + len(data) > budget:
            skipped["over budget"] += 1
            misfits += 1
            continue
        misfits = 0
        name, n = c.name, 2
        while name.lower() in seen_names:  # flat names can collide after sanitizing ("a b" and "a_b")
            stem, suffix = os.path.splitext(c.name)
            name, n = f"{stem}-{n}{suffix}", n + 1
        seen_names.add(name.lower())
        seen_content.add(digest)
        picked.append((Candidate(c.kind, c.tier, c.group, c.path, name), data))
        total += len(data)
    return picked, skipped


def default_roots() -> list[tuple[str, Path, Sequence[str]]]:
    """Where this machine keeps documentation: Debian's doc folder, then Markdown shipped with Python packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    return [
        ("doc", Path("/usr/share/doc"), ("markdown", "html", "text")),
        ("site-packages", site, ("markdown",)),
        ("dist-packages", Path("/usr/lib/python3/dist-packages"), ("markdown",)),
    ]


def composition(files: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Files and bytes per kind."""
    out: dict[str, dict[str, int]] = {}
    for f in files:
        entry = out.setdefault(f["kind"], {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += f["bytes"]
    return dict(sorted(out.items()))


def write_corpus(dest: Path, picked: Sequence[tuple[Candidate, bytes]], record: dict[str, Any]) -> dict[str, Any]:
    """Copy the picked files into ``dest`` (a new folder swapped in) and write ``<dest>.sources.json``."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = []
    for c, data in picked:
        (tmp / c.name).write_bytes(data)
        files.append({"name": c.name, "source": str(c.path), "kind": c.kind, "group": c.group, "bytes": len(data)})
    record = record | {
        "files": files, "n_files": len(files), "bytes": sum(f["bytes"] for f in files),
        "kinds": composition(files), "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }  # fmt: skip
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    sources_file(dest).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def sources_file(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sources.json")


def selection_settings(budget: int | None) -> dict[str, Any]:
    """What a corpus depends on besides the machine's files: a change means it is rebuilt, not reused."""
    return {"budget": budget, "max_file_bytes": MAX_FILE_BYTES, "min_file_bytes": MIN_FILE_BYTES,
            "kinds": list(KINDS), "man_sections": list(MAN_SECTIONS), "version": 1}  # fmt: skip


def reusable(dest: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded corpus in ``dest`` when it was built with these settings and is intact."""
    try:
        record = json.loads(sources_file(dest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("settings") != settings or not dest.is_dir():
        return None
    present = {p.name for p in dest.iterdir() if p.is_file()}
    return record if present == {f["name"] for f in record.get("files", [])} else None


def build_corpus(
    size: str,
    root: Path,
    rebuild: bool = False,
    say: Callable[[str], None] = print,
    roots: Sequence[tuple[str, Path, Sequence[str]]] | None = None,
    man_root: Path | None = Path("/usr/share/man"),
) -> dict[str, Any]:
    """Build (or reuse) the corpus of one size under ``root``; return its record (files, bytes, kinds, skips)."""
    budget = parse_size(size)
    dest = root / size
    settings = selection_settings(budget)
    if not rebuild and (record := reusable(dest, settings)) is not None:
        say(f"{size}: reusing {dest} ({record['n_files']} files, {record['bytes'] / 1e6:.2f} MB)")
        return record
    t0 = time.perf_counter()
    if budget is None:  # the seed article, copied so the re-index step never edits the project's own file
        from rag.formats import SUFFIXES

        paths = sorted(p for p in SEEDS.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        picked = [(Candidate("text", 0, "seeds", p, p.name), p.read_bytes()) for p in paths]
        skipped: Counter[str] = Counter()
    else:
        candidates = find_candidates(default_roots() if roots is None else roots)
        if man_root is not None:
            candidates += man_candidates(man_root)
        picked, skipped = select_files(selection_order(candidates), budget)
    record = write_corpus(dest, picked, {"size": size, "settings": settings, "skipped": dict(skipped)})
    say(f"{size}: built {dest} in {time.perf_counter() - t0:.1f} s: {record['n_files']} files, "
        f"{record['bytes'] / 1e6:.2f} MB; " + ", ".join(f"{k} {v['files']} files {v['bytes'] / 1e6:.2f} MB"
                                                         for k, v in record["kinds"].items()))  # fmt: skip
    return record


# --------------------------------------------------------------------------- measuring children


@dataclass
class Run:
    """One child process: wall seconds from spawn to exit, CPU seconds, peak RSS (kernel and polled)."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # ru_maxrss from wait4: the child's own high-water mark (and its waited-for children's)
    tree_peak_rss_mb: float  # the largest sum of RSS over the child's process tree seen by polling every 50 ms
    returncode: int


POLL_S = 0.5  # how often the process tree's RSS is sampled


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def run_measured(cmd: Sequence[str], log: Path, timeout: float = CHILD_TIMEOUT_S) -> Run:
    """Run ``cmd`` (output to ``log``); raise with the log's tail when it fails."""
    import psutil

    peak = [0]
    done = threading.Event()
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=_child_env(), stdout=out, stderr=subprocess.STDOUT)
    watched = psutil.Process(proc.pid)

    def poll() -> None:
        # Twice a second is enough: the exact peak is ru_maxrss; this only adds children. (Every 50 ms, as before,
        # the 1 MB index took 51.5 s against 50.9 s: not what makes this harness's runs vary.)
        while not done.wait(POLL_S):
            peak[0] = max(peak[0], _tree_rss(watched))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)  # exact exit time and this child's own rusage
    finally:
        wall = time.perf_counter() - t0
        killer.cancel()
        done.set()
        poller.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 2**20, proc.returncode)
    if run.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {run.returncode}, see {log}):\n{tail}")
    return run


def rag_command() -> list[str]:
    """The installed ``rag`` entry point next to this Python, else ``python -m rag.cli``."""
    exe = Path(sys.executable).with_name("rag")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]


def overrides(corpus_dir: Path, index_dir: Path) -> list[tuple[str, str]]:
    return [("paths.corpus_dir", str(corpus_dir)), ("paths.index_dir", str(index_dir)), ("generate.backend", "none")]


def rag_args(command: str, corpus_dir: Path, index_dir: Path, *extra: str) -> list[str]:
    sets = [arg for key, value in overrides(corpus_dir, index_dir) for arg in ("--set", f"{key}={value}")]
    return [*rag_command(), command, *sets, *extra]


def manifest_of(index_dir: Path) -> dict[str, Any]:
    gen = index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    return json.loads((gen / "manifest.json").read_text(encoding="utf-8"))


def folder_bytes(folder: Path) -> int:
    """Apparent size of every file under ``folder`` (what ``du --apparent-size`` says)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def file_to_edit(corpus_dir: Path) -> Path:
    """The median-sized .txt/.md file (an HTML file would take the sentence after ``</html>``)."""
    files = sorted((p.stat().st_size, p.name) for p in corpus_dir.iterdir() if p.suffix in (".txt", ".md"))
    files = files or sorted((p.stat().st_size, p.name) for p in corpus_dir.iterdir() if p.is_file())
    return corpus_dir / files[len(files) // 2][1]


# --------------------------------------------------------------------------- the warm child


def child_serve(corpus_dir: str, index_dir: str, result_path: str) -> None:
    """Load once, warm up, answer QUESTIONS, search SEARCH_QUESTIONS; write the timings to ``result_path``."""
    from rag.answer import Pipeline
    from rag.config import load_config

    cfg = load_config(overrides=overrides(Path(corpus_dir), Path(index_dir)))
    t0 = time.perf_counter()
    pipe = Pipeline.load(cfg, progress=False)
    load_s = time.perf_counter() - t0
    pipe.ask(WARMUP_QUESTION)
    total, cpu, retrieve, generators, abstained = [], [], [], Counter(), 0
    for q in QUESTIONS:
        t0, c0 = time.perf_counter(), time.process_time()
        answer = pipe.ask(q)
        total.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        retrieve.append(answer.timings.retrieve_s)
        generators[answer.generator] += 1
        abstained += answer.abstained
    search = []
    for q in SEARCH_QUESTIONS:
        t0 = time.perf_counter()
        pipe.retriever.search(q)
        search.append(time.perf_counter() - t0)
    result = {
        "load_s": load_s,
        "ask": latency_stats(total),
        "ask_cpu": latency_stats(cpu),
        "retrieve_in_ask": latency_stats(retrieve),
        "search": latency_stats(search),
        "generators": dict(generators),
        "abstained": abstained,
        "self_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "embedder": pipe.embedder.name,
    }
    Path(result_path).write_text(json.dumps(result, indent=1), encoding="utf-8")


# --------------------------------------------------------------------------- one size


def measure_size(size: str, corpus: dict[str, Any], corpus_dir: Path, work: Path, cold_runs: int,
                 say: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Every measurement of one corpus size; the index lives in ``work`` and is deleted afterwards."""
    index_dir = work / f"index-{size}"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    out: dict[str, Any] = {"size": size, "corpus_dir": str(corpus_dir), "files": corpus["n_files"],
                           "bytes": corpus["bytes"], "mb": corpus["bytes"] / 1e6, "kinds": corpus["kinds"]}  # fmt: skip

    say(f"{size}: rag index --full")
    run = run_measured(rag_args("index", corpus_dir, index_dir, "--full", "--quiet"), logs / f"{size}-index.log")
    out["index"] = asdict(run) | {"kb_per_s": corpus["bytes"] / 1e3 / run.wall_s,
                                  "kb_per_cpu_s": corpus["bytes"] / 1e3 / run.cpu_s if run.cpu_s else None}  # fmt: skip
    m = manifest_of(index_dir)
    out |= {"documents": m["n_documents"], "passages": m["n_chunks"], "sentences": m["n_sentences"],
            "skipped_by_loader": len(m.get("skipped", {})), "index_type": m.get("index_type"),
            "index_bytes": folder_bytes(index_dir)}  # fmt: skip
    out["index_mb"] = out["index_bytes"] / 1e6
    say(f"  {run.wall_s:.1f} s ({run.cpu_s:.1f} CPU s), {out['index']['kb_per_s']:.0f} KB/s, peak RSS "
        f"{run.peak_rss_mb:.0f} MB; {out['passages']} passages, index {out['index_mb']:.1f} MB")  # fmt: skip

    run = run_measured(rag_args("index", corpus_dir, index_dir, "--quiet"), logs / f"{size}-noop.log")
    out["noop_index"] = asdict(run)
    say(f"  no-op rag index: {run.wall_s:.1f} s")

    cold = []
    for i in range(cold_runs):
        log = logs / f"{size}-ask-{i}.log"
        run = run_measured(rag_args("ask", corpus_dir, index_dir, COLD_QUESTION), log)
        cold.append(asdict(run))
        say(f"  cold rag ask: {run.wall_s:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB")
    out["cold_ask"] = {key: statistics.median(r[key] for r in cold) for key in ("wall_s", "cpu_s", "peak_rss_mb",
                                                                                "tree_peak_rss_mb")}  # fmt: skip
    answer = (logs / f"{size}-ask-0.log").read_text(encoding="utf-8", errors="replace")[:300]
    out["cold_ask"] |= {"runs": cold, "question": COLD_QUESTION, "answer": answer}

    result_path = work / f"serve-{size}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(corpus_dir), str(index_dir), str(result_path)]
    run = run_measured(cmd, logs / f"{size}-serve.log")
    serve = json.loads(result_path.read_text(encoding="utf-8"))
    out["serve"] = serve | {"process": asdict(run)}
    say(f"  warm ask p50 {serve['ask']['p50'] * 1000:.0f} ms, p95 {serve['ask']['p95'] * 1000:.0f} ms; search p50 "
        f"{serve['search']['p50'] * 1000:.0f} ms; serving peak RSS {run.peak_rss_mb:.0f} MB")  # fmt: skip

    target = file_to_edit(corpus_dir)
    original = target.read_bytes()
    try:
        target.write_bytes(original + APPENDED.encode("utf-8"))
        edited = run_measured(rag_args("index", corpus_dir, index_dir, "--quiet"), logs / f"{size}-reindex.log")
    finally:
        target.write_bytes(original)
    restored = run_measured(rag_args("index", corpus_dir, index_dir, "--quiet"), logs / f"{size}-restore.log")
    out["reindex"] = asdict(edited) | {"file": target.name, "file_bytes": len(original),
                                       "restore": asdict(restored)}  # fmt: skip
    say(f"  re-index one file ({len(original) / 1e3:.0f} KB): {edited.wall_s:.1f} s, restore {restored.wall_s:.1f} s")
    shutil.rmtree(index_dir, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"


def _mb(value: float) -> str:
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def table_rows(sizes: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The headline table, one row per size."""
    rows = []
    for s in sizes:
        serve = s["serve"]
        rows.append([
            s["size"], str(s["files"]), _mb(s["mb"]), str(s["passages"]), _f(s["index"]["wall_s"]),
            _f(s["index"]["kb_per_s"], 0), _f(s["index"]["peak_rss_mb"] / 1024, 2), _mb(s["index_mb"]),
            _f(s["reindex"]["wall_s"]), _f(s["cold_ask"]["wall_s"]),
            f"{_f(serve['ask']['p50'], 0, 1000)} / {_f(serve['ask']['p95'], 0, 1000)}",
            _f(serve["search"]["p50"], 1, 1000),
        ])  # fmt: skip
    return rows


def detail_rows(sizes: Sequence[dict[str, Any]]) -> list[list[str]]:
    """CPU seconds (hardly affected by other processes' load) and the numbers the headline leaves out."""
    rows = []
    for s in sizes:
        serve = s["serve"]
        rows.append([
            s["size"], _f(s["index"]["cpu_s"]), _f(s["index"]["kb_per_cpu_s"], 0), _f(s["noop_index"]["wall_s"]),
            _f(s["reindex"]["cpu_s"]), _f(s["cold_ask"]["cpu_s"]), _f(s["cold_ask"]["peak_rss_mb"] / 1024, 2),
            _f(serve["load_s"]), _f(serve["process"]["peak_rss_mb"] / 1024, 2),
            _f(serve["ask_cpu"]["p50"], 0, 1000), _f(serve["retrieve_in_ask"]["p50"], 1, 1000),
            f"{serve['abstained']}/{serve['ask']['n']}",
        ])  # fmt: skip
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    sizes = results["sizes"]
    cfg = results["config"]
    lines = [
        "# Growth: how the product scales with corpus size",
        "",
        f"Generated by `{results['command']}` on {results['created']}. Reproduce with the same command; corpora "
        f"are rebuilt from this machine's documentation (`{results['corpus_root']}`).",
        "",
        f"**Machine:** {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gb']} GB RAM, "
        f"{m['platform']}, Python {m['python']}, commit {m['git_commit']}"
        f"{' (rag/ had local changes)' if m['rag_dirty'] else ''}. Load average (1/5/15 min) "
        f"{results['load_average']['start']} at the start, {results['load_average'].get('end')} at the end: "
        "other processes' load inflates wall times, CPU seconds much less.",
        "",
        f"**Config:** embedder `{cfg['embed']['model']}` (batch {cfg['embed']['batch_size']}), chunks of "
        f"{cfg['chunk']['max_tokens']} tokens, top-k {cfg['retrieve']['top_k']}, hybrid {cfg['retrieve']['hybrid']}, "
        f"store `{cfg['store']['backend']}`, generate.backend `none` (extractive answers; the LM is measured by "
        "bench.py and latency.py).",
        "",
        markdown_table(
            ["size", "files", "MB", "passages", "index s", "KB/s", "peak RSS index GB", "index MB",
             "re-index one file s", "cold ask s", "query p50 / p95 ms", "retrieval p50 ms"],
            table_rows(sizes),
        ),
        "",
        markdown_table(
            ["size", "index CPU s", "KB per CPU s", "no-op index s", "re-index CPU s", "cold ask CPU s",
             "cold ask RSS GB", "warm load s", "serving RSS GB", "query CPU p50 ms", "retrieval in ask p50 ms",
             "abstained"],
            detail_rows(sizes),
        ),
        "",
        "## Corpora",
        "",
        markdown_table(
            ["size", "kind", "files", "MB"],
            [[s["size"], kind, str(v["files"]), _mb(v["bytes"] / 1e6)]
             for s in sizes for kind, v in s["kinds"].items()],  # fmt: skip
            "llrr",
        ),
        "",
        "Files are taken kind by kind in turn (Markdown, HTML, plain text, man pages), packages in turn within a "
        f"kind, sorted paths within a package; each is UTF-8 text of {MIN_FILE_BYTES} B to "
        f"{MAX_FILE_BYTES // 1000} KB, "
        "no duplicate content, and the corpus never exceeds its budget. `<size>.sources.json` next to each corpus "
        "folder lists every file's origin.",
        "",
        "## What each number is",
        "",
        "- **index s**: `rag index --full` in a fresh process into an empty temp folder, spawn to exit (imports, "
        "embedder load, parse, chunk, embed, FAISS, write). **KB/s**: source bytes / that time.",
        "- **peak RSS**: the child's `ru_maxrss` from `wait4` (GB = 2^30 bytes); psutil polling of the process tree "
        f"every {POLL_S:g} s is in growth.json as `tree_peak_rss_mb`.",
        "- **index MB**: apparent size of the index folder. **MB** of corpora: 10^6 bytes of source files.",
        "- **re-index one file**: `rag index` after appending one sentence to the median-sized .txt/.md file "
        "(scan + hash every file, load the index, re-embed that file, write a new generation); "
        "**no-op index**: the same when nothing changed.",
        f"- **cold ask**: `rag ask \"{COLD_QUESTION}\"` in a fresh process on the built index, spawn to exit "
        "(median of `--cold-runs`).",
        f"- **query p50 / p95**: `Pipeline.ask` in one warm process over {len(QUESTIONS)} generic questions after one "
        f"warm-up; **retrieval**: `Retriever.search` alone over {len(SEARCH_QUESTIONS)} other questions (so no query "
        "vector comes from the embedder's cache): query embedding + FAISS + BM25 + fusion.",
        "",
    ]
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


def plot(sizes: Sequence[dict[str, Any]], path: Path) -> None:
    """Four panels against corpus size (log x): index time, peak RSS, warm query latency, cold ask and re-index."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = sorted(sizes, key=lambda s: s["mb"])
    x = [s["mb"] for s in rows]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)

    def panel(ax: Any, title: str, ylabel: str, series: list[tuple[str, list[float | None], str]],
              logy: bool = False) -> None:  # fmt: skip
        for label, ys, style in series:
            pts = [(a, b) for a, b in zip(x, ys, strict=True) if b is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(title)
        ax.set_xlabel("corpus size (MB of source text)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        for s in rows:
            ax.annotate(s["size"], (s["mb"], 0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=7, alpha=0.6)  # fmt: skip

    panel(axes[0][0], "Full index build", "seconds", [
        ("wall", [s["index"]["wall_s"] for s in rows], "o-"),
        ("CPU", [s["index"]["cpu_s"] for s in rows], "s--"),
    ], logy=True)  # fmt: skip
    panel(axes[0][1], "Peak RSS", "GB", [
        ("rag index --full", [s["index"]["peak_rss_mb"] / 1024 for s in rows], "o-"),
        ("cold rag ask", [s["cold_ask"]["peak_rss_mb"] / 1024 for s in rows], "s-"),
        ("warm serving process", [s["serve"]["process"]["peak_rss_mb"] / 1024 for s in rows], "^-"),
    ])  # fmt: skip
    panel(axes[1][0], "Warm query latency", "ms", [
        ("ask p50", [s["serve"]["ask"]["p50"] * 1000 for s in rows], "o-"),
        ("ask p95", [s["serve"]["ask"]["p95"] * 1000 for s in rows], "o--"),
        ("retrieval p50", [s["serve"]["search"]["p50"] * 1000 for s in rows], "s-"),
    ])  # fmt: skip
    panel(axes[1][1], "Fresh processes", "seconds", [
        ("cold rag ask", [s["cold_ask"]["wall_s"] for s in rows], "o-"),
        ("re-index one file", [s["reindex"]["wall_s"] for s in rows], "s-"),
        ("no-op rag index", [s["noop_index"]["wall_s"] for s in rows], "^--"),
    ])  # fmt: skip
    fig.suptitle("Growth with corpus size (2-core CPU, generate.backend = none)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "growth.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "growth.md").write_text(render_markdown(results), encoding="utf-8")
    if results["sizes"]:
        plot(results["sizes"], out / "growth.png")


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated: seed, small (200kb), <N>kb, <N>mb (default: {DEFAULT_SIZES})")
    parser.add_argument("--corpus-root", type=Path, default=DEFAULT_CORPUS_ROOT,
                        help=f"where corpora are built or reused (default: {DEFAULT_CORPUS_ROOT.relative_to(ROOT)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"where growth.json/.md/.png go (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--build-only", action="store_true", help="build the corpora, print their make-up, stop")
    parser.add_argument("--rebuild-corpora", action="store_true", help="rebuild corpora even when they can be reused")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold `rag ask` runs per size (median; default 3)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for temp indexes and child logs (default: a new temp folder, deleted at the end)")
    parser.add_argument("--note", action="append", default=[], help="a note to print in growth.md (repeatable)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_serve(*args.child)
        return 0

    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        try:
            parse_size(s)
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    corpus_root = args.corpus_root.resolve()
    corpora = {s: build_corpus(s, corpus_root, args.rebuild_corpora, say) for s in sizes}
    if args.build_only:
        for s, record in corpora.items():
            print(json.dumps({"size": s, "files": record["n_files"], "bytes": record["bytes"],
                              "kinds": record["kinds"], "skipped": record["skipped"]}))  # fmt: skip
        return 0

    from rag.config import load_config

    cfg = load_config(overrides=[("generate.backend", "none")]).to_dict()
    results: dict[str, Any] = {
        "command": "python evals/growth.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info() | {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "load_average": {"start": load_average()},
        "config": {k: cfg[k] for k in ("embed", "chunk", "retrieve", "store", "answer")} | {"generate_backend": "none"},
        "rag_env": {k: v for k, v in os.environ.items() if k.startswith("RAG_")},
        "rag_toml": (ROOT / "rag.toml").is_file(),
        "corpus_root": os.path.relpath(corpus_root, ROOT),
        "questions": list(QUESTIONS),
        "search_questions": list(SEARCH_QUESTIONS),
        "notes": list(args.note),
        "sizes": [],
    }
    work = Path(tempfile.mkdtemp(prefix="rag-growth-")) if args.work is None else args.work.resolve()
    try:
        for s in sizes:
            results["sizes"].append(measure_size(s, corpora[s], corpus_root / s, work, max(1, args.cold_runs), say))
            results["load_average"]["end"] = load_average()
            write_reports(results, args.out)  # after every size: a long run keeps what it measured
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    say(f"wrote {args.out / 'growth.json'}, growth.md, growth.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
