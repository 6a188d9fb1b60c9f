"""The whole real pipeline with the default models (MiniLM embedder, FAISS index, the local LM through llama.cpp)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from rag.config import Config
from rag.schema import Answer

pytestmark = pytest.mark.slow
SENTENCE = (
    "Japan hosts around 50,000 U.S. military personnel and considerable military infrastructure, "
    "but underlying resentment simmers as true reciprocity remains in question."
)


class Spy:
    """Wraps the real generator to prove the local LM was really consulted."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, 0

    def stream(self, messages, max_new_tokens=64, stop=()):
        self.calls += 1
        yield from self.inner.stream(messages, max_new_tokens, stop)

    def p_yes(self, messages):
        self.calls += 1
        return self.inner.p_yes(messages)


def test_real_pipeline_answers_with_the_exact_sentence(real_pipeline):
    spy = Spy(real_pipeline.generator)
    real_pipeline.generator = spy
    try:
        ans = real_pipeline.ask("How many U.S. military personnel does Japan host?")
    finally:
        real_pipeline.generator = spy.inner
    assert spy.calls >= 1, "the local LM was consulted (judge, direct answer)"
    assert "50,000" in ans.answer and not ans.abstained
    assert any(c.text == SENTENCE for c in ans.citations)
    doc = real_pipeline.document("us-japan-alliance.txt")
    for c in ans.citations:
        assert doc.text[c.start : c.end] == c.text
    assert ans.passages[0].score > 0 and real_pipeline.index.manifest["embedding_model"] == Config().embed.model
    assert real_pipeline.index.manifest["dimension"] == 384


def test_real_pipeline_abstains_refuses_and_follows_up(real_pipeline):
    assert real_pipeline.ask("What is the name of Japan's prime minister?").abstained
    assert real_pipeline.ask("Write a short poem about autumn leaves.").reason == "off_topic"
    history = [
        {"role": "user", "content": "What is Japan investing in?"},
        {"role": "assistant", "content": "Japan is investing in advanced weaponry such as longer-range missiles."},
    ]
    follow = real_pipeline.ask("And what holds it back?", history)
    assert "pacifist constitution" in follow.answer and "Japan" in follow.standalone_question


def test_real_lm_generates_text_locally(real_pipeline):
    text = "".join(real_pipeline.generator.stream([{"role": "user", "content": "Say hello."}], max_new_tokens=8))
    assert text.strip()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) to cut the network")
def test_cli_answers_offline_with_no_network(tmp_path):
    """`rag ask --json` in a process whose network namespace has no interfaces at all."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_PATHS__INDEX_DIR=str(tmp_path / "index"),
               TIKTOKEN_CACHE_DIR=str(tmp_path / "tiktoken"))
    rag = shutil.which("rag", path=os.path.dirname(sys.executable)) or "rag"
    out = subprocess.run(
        ["unshare", "-n", rag, "ask", "--json", "How many U.S. military personnel does Japan host?"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    ans = Answer.from_dict(json.loads(out.stdout))
    assert "50,000" in ans.answer
    assert any(c.text == SENTENCE for c in ans.citations)


def test_cli_help_does_not_import_torch():
    code = "import sys; from rag.cli import cli; assert 'torch' not in sys.modules and 'gradio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_prints_rag_errors_without_traceback(tmp_path):
    rag = shutil.which("rag", path=os.path.dirname(sys.executable)) or "rag"
    out = subprocess.run([rag, "ask", "x", "--set", "retrieve.top_k=many"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "retrieve.top_k = 'many' is invalid" in out.stderr and "Traceback" not in out.stderr
