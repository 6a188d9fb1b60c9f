"""store.backend = "milvus" (on Milvus Lite, a file) passes the retrieval checks the FAISS index passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.config import Config, RetrieveConfig
from rag.embed import FakeEmbedder
from rag.errors import IndexError_, StaleIndexError
from rag.retrieve import Retriever
from rag.store import CURRENT, load_index, open_index
from rag.vectors import MilvusVectors

from .test_store import CountingEmbedder

pytest.importorskip("pymilvus", reason="needs pymilvus: pip install 'grounded-rag[milvus]'")
pytest.importorskip("milvus_lite", reason="needs Milvus Lite: pip install 'grounded-rag[milvus]'")

pytestmark = pytest.mark.slow  # starts Milvus Lite servers (about half a second each)

DOCS = {
    "deploy.md": "# Deployment Guide\n\nRoll back a failed release by redeploying the previous release tag.\n\n"
    "Deployments run every Tuesday after the change review meeting.\n",
    "onboarding.md": "# Onboarding\n\nNew staff get a laptop and a security badge on their first day.\n\n"
    "Each newcomer is paired with a mentor for the first month.\n",
    "vpn.md": "# Remote Access\n\nThe VPN needs a hardware key plugged into the laptop.\n\n"
    "Lost hardware keys are replaced by the helpdesk within two days.\n",
    "expenses.md": "# Expenses\n\nTravel expenses are reimbursed within thirty days of the receipt upload.\n\n"
    "Meals abroad are capped at sixty euros per day.\n",
}
# question -> the document whose passage must rank first
QUERIES = {
    "How do I roll back a failed release?": "deploy.md",
    "What does a newcomer get on the first day?": "onboarding.md",
    "Who replaces a lost hardware key?": "vpn.md",
    "How fast are travel expenses reimbursed?": "expenses.md",
    "What are meals abroad capped at?": "expenses.md",
}


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _config(corpus: Path, index_dir: Path, backend: str, **overrides) -> Config:
    base = {"paths.corpus_dir": str(corpus), "paths.index_dir": str(index_dir), "store.backend": backend,
            "chunk.max_tokens": 24, "chunk.overlap_sentences": 0}  # several passages per document
    return Config().replace(**(base | overrides))


def _ranked(index, hybrid: bool) -> dict[str, list[tuple[int, float]]]:
    retriever = Retriever(index, FakeEmbedder(), RetrieveConfig(top_k=4, hybrid=hybrid))
    return {q: [(p.chunk_id, p.score) for p in retriever.search(q).passages] for q in QUERIES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same corpus indexed once per backend: {backend: (config, index)}."""
    root = tmp_path_factory.mktemp("milvus")
    corpus = _corpus(root / "corpus")
    out = {}
    for backend in ("faiss", "milvus"):
        cfg = _config(corpus, root / f"index-{backend}", backend)
        out[backend] = (cfg, open_index(cfg, FakeEmbedder(), progress=False))
    return out


def test_milvus_vectors_live_in_a_collection_named_after_the_generation(built):
    cfg, index = built["milvus"]
    root = Path(cfg.paths.index_dir)
    gen = root / (root / CURRENT).read_text().strip()
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["store_backend"] == "milvus" and manifest["index_type"] == "FLAT"
    collection = "rag_" + gen.name.replace("-", "_")
    assert manifest["milvus"] == {"uri": str(root / "milvus.db"), "collection": collection, "previous": ""}
    assert (root / "milvus.db").exists() and not (gen / "chunks.faiss").exists()
    assert isinstance(index.chunk_vectors, MilvusVectors)
    assert index.chunk_vectors.ntotal == len(index.chunks) > len(DOCS)


@pytest.mark.parametrize("backend", ["faiss", "milvus"])
@pytest.mark.parametrize("hybrid", [False, True])
def test_the_right_passage_ranks_first(built, backend, hybrid):
    _, index = built[backend]
    for question, ranked in _ranked(index, hybrid).items():
        assert index.chunks[ranked[0][0]].source == QUERIES[question], question


@pytest.mark.parametrize("hybrid", [False, True])
def test_milvus_ranks_and_scores_match_faiss(built, hybrid):
    faiss_ranks, milvus_ranks = (_ranked(built[b][1], hybrid) for b in ("faiss", "milvus"))
    for question in QUERIES:
        assert [c for c, _ in milvus_ranks[question]] == [c for c, _ in faiss_ranks[question]], question
        assert np.allclose([s for _, s in milvus_ranks[question]], [s for _, s in faiss_ranks[question]], atol=1e-4)
    queries = FakeEmbedder().embed(list(QUERIES))
    (fs, fi), (ms, mi) = (built[b][1].chunk_vectors.search(queries, 6) for b in ("faiss", "milvus"))
    assert (fi == mi).all() and np.allclose(fs, ms, atol=1e-5)  # the raw dense search agrees too
    many = built["milvus"][1].chunk_vectors.search(queries[:1], 1000)  # more than stored: padded like faiss
    assert (many[1][0] == built["faiss"][1].chunk_vectors.search(queries[:1], 1000)[1][0]).all()


def test_a_fresh_open_index_reloads_from_disk_with_the_same_results(built):
    cfg, index = built["milvus"]
    reloaded = open_index(_config(Path(cfg.paths.corpus_dir), Path(cfg.paths.index_dir), "milvus"),
                          FakeEmbedder(), progress=False)
    assert reloaded.changes == {}  # loaded, not rebuilt
    assert isinstance(reloaded.chunk_vectors, MilvusVectors)
    assert reloaded.chunk_vectors.collection == index.chunk_vectors.collection
    assert _ranked(reloaded, hybrid=True) == _ranked(index, hybrid=True)
    assert np.array_equal(reloaded.chunk_vectors.reconstruct_n(0, len(index.chunks)),
                          index.chunk_vectors.reconstruct_n(0, len(index.chunks)))


def test_incremental_update_re_embeds_only_the_edited_file_and_keeps_one_old_collection(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    cfg = _config(corpus, tmp_path / "index", "milvus")
    emb = CountingEmbedder()
    first = open_index(cfg, emb, progress=False)
    old_collection = first.chunk_vectors.collection

    emb.seen.clear()
    (corpus / "vpn.md").write_text(DOCS["vpn.md"].replace("two days", "one day"), encoding="utf-8")
    second = open_index(cfg, emb, progress=False)
    assert second.changes["changed"] == ["vpn.md"] and len(second.changes["unchanged"]) == len(DOCS) - 1
    vpn = DOCS["vpn.md"].replace("two days", "one day")
    assert emb.seen and all(t in vpn for t in emb.seen)  # only vpn.md's sentences and heading were embedded again
    assert second.chunk_vectors.collection != old_collection
    # A server still on the first generation keeps answering until the next save drops its collection.
    assert first.chunk_vectors.search(FakeEmbedder().embed(["hardware key"]), 1)[1][0, 0] >= 0
    full = open_index(cfg, FakeEmbedder(), rebuild=True, progress=False)  # reused vectors = a full rebuild's
    assert np.allclose(full.chunk_vectors.reconstruct_n(0, full.chunk_vectors.ntotal),
                       second.chunk_vectors.reconstruct_n(0, second.chunk_vectors.ntotal))
    assert not full.chunk_vectors.client.has_collection(old_collection)
    with pytest.raises(IndexError_, match="restart to load the current index"):
        first.chunk_vectors.search(FakeEmbedder().embed(["hardware key"]), 1)


def test_switching_backends_rebuilds(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    faiss_cfg = _config(corpus, tmp_path / "index", "faiss")
    open_index(faiss_cfg, FakeEmbedder(), progress=False)
    milvus_cfg = _config(corpus, tmp_path / "index", "milvus")
    with pytest.raises(StaleIndexError, match="store_backend changed \\('faiss' -> 'milvus'\\)"):
        load_index(milvus_cfg, "fake-embedder")
    assert isinstance(open_index(milvus_cfg, FakeEmbedder(), progress=False).chunk_vectors, MilvusVectors)
    with pytest.raises(StaleIndexError, match="store_backend changed \\('milvus' -> 'faiss'\\)"):
        load_index(faiss_cfg, "fake-embedder")
    assert open_index(faiss_cfg, FakeEmbedder(), progress=False).chunk_vectors.d == FakeEmbedder().dim


def test_a_missing_collection_or_unreachable_server_says_what_to_do(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    cfg = _config(corpus, tmp_path / "index", "milvus")
    index = open_index(cfg, FakeEmbedder(), progress=False)
    index.chunk_vectors.client.drop_collection(index.chunk_vectors.collection)
    with pytest.raises(IndexError_, match="has no collection .*Run `rag index`"):
        load_index(cfg, "fake-embedder")
    assert open_index(cfg, FakeEmbedder(), progress=False).chunk_vectors.ntotal == len(index.chunks)  # rebuilt
    down = cfg.replace(**{"store.uri": "http://127.0.0.1:9"})  # nothing listens on the discard port
    with pytest.raises(IndexError_, match="Cannot reach Milvus at http://127.0.0.1:9 .*store.uri"):
        load_index(down, "fake-embedder")
