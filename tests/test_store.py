from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rag.corpus import load_corpus
from rag.embed import FakeEmbedder, token_counts
from rag.errors import CorpusError, IndexError_, StaleIndexError
from rag.extract import Reader
from rag.lexicon import build_lexicon, sentences_by_chunk
from rag.store import CURRENT, build_index, load_index, open_index, passage_context, save_index

from .conftest import ARTICLE


@pytest.fixture
def corpus_dir(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "article.txt").write_text(ARTICLE, encoding="utf-8")
    return d


def _current(cfg) -> Path:
    root = Path(cfg.paths.index_dir)
    return root / (root / CURRENT).read_text().strip()


def test_index_round_trip_and_manifest(make_config, corpus_dir):
    cfg = make_config(corpus_dir)
    emb = FakeEmbedder()
    built = open_index(cfg, emb, progress=False)
    manifest = json.loads((_current(cfg) / "manifest.json").read_text())
    assert manifest["embedding_model"] == "fake-embedder"
    assert manifest["dimension"] == emb.dim
    assert manifest["chunker"]["max_tokens"] == cfg.chunk.max_tokens
    assert set(manifest["sources"]) == {"article.txt"} and len(manifest["sources"]["article.txt"]) == 64
    assert {"faiss-cpu", "sentence-transformers"} <= set(manifest["versions"])
    loaded = load_index(cfg, emb.name)
    assert [c.text for c in loaded.chunks] == [c.text for c in built.chunks]
    assert loaded.chunk_vectors.ntotal == len(built.chunks)
    assert not list(_current(cfg).glob("*.pkl"))  # metadata is JSON, never pickle
    # The reader's word facts are stored and read back, not rebuilt by every process.
    fresh = build_lexicon(built.corpus.documents, built.chunks, built.sentences)
    assert loaded.lexicon is not None and loaded.lexicon.sentence_terms == fresh.sentence_terms
    assert loaded.lexicon.words == fresh.words and loaded.lexicon.word_counts == fresh.word_counts
    assert loaded.lexicon.roots == fresh.roots
    assert all(abs(loaded.lexicon.idf[t] - v) < 1e-4 for t, v in fresh.idf.items())


def test_an_index_stored_without_its_lexicon_still_loads(make_config, corpus_dir):
    cfg = make_config(corpus_dir)
    open_index(cfg, FakeEmbedder(), progress=False)
    gen = _current(cfg)
    manifest = json.loads((gen / "manifest.json").read_text())
    del manifest["artifacts"]["lexicon.json.gz"]  # as an index written before lexicons were stored
    (gen / "manifest.json").write_text(json.dumps(manifest))
    (gen / "lexicon.json.gz").unlink()
    index = load_index(cfg, "fake-embedder")
    assert index.lexicon is None
    from rag.config import ReaderConfig
    from rag.extract import Reader

    reader = Reader(index, FakeEmbedder(), cfg.answer, ReaderConfig())
    assert "japan" in reader.vocabulary and index.lexicon is not None


def test_a_lexicon_an_earlier_version_wrote_is_rebuilt_not_read(make_config, corpus_dir):
    """Its stems may differ from today's: reading it would miss every word whose stem moved."""
    import gzip
    import hashlib

    from rag.config import ReaderConfig
    from rag.extract import Reader

    cfg = make_config(corpus_dir)
    open_index(cfg, FakeEmbedder(), progress=False)
    gen = _current(cfg)
    data = json.loads(gzip.decompress((gen / "lexicon.json.gz").read_bytes()))
    data["format"] = 0  # (an earlier format)
    raw = gzip.compress(json.dumps(data).encode())
    (gen / "lexicon.json.gz").write_bytes(raw)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["artifacts"]["lexicon.json.gz"] = hashlib.sha256(raw).hexdigest()
    (gen / "manifest.json").write_text(json.dumps(manifest))
    index = load_index(cfg, "fake-embedder")
    assert index.lexicon is None and index.chunks
    reader = Reader(index, FakeEmbedder(), cfg.answer, ReaderConfig())
    assert "japan" in reader.vocabulary and index.lexicon is not None


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda d, cfg: ((d / "article.txt").write_text(ARTICLE + "\nNew paragraph here.\n"), cfg)[1], "article.txt changed"),
        (lambda d, cfg: ((d / "more.md").write_text("# More\nAnother document body text.\n"), cfg)[1], "more.md was added"),
        (lambda d, cfg: cfg.replace(**{"chunk.max_tokens": 50}), "chunker changed"),
    ],
)
def test_stale_manifest_is_detected_and_rebuilt(make_config, corpus_dir, change, reason):
    cfg = make_config(corpus_dir)
    emb = FakeEmbedder()
    open_index(cfg, emb, progress=False)
    cfg2 = change(corpus_dir, cfg)
    with pytest.raises(StaleIndexError, match=reason):
        load_index(cfg2, emb.name)
    rebuilt = open_index(cfg2, emb, progress=False)  # rebuilt automatically
    assert load_index(cfg2, emb.name).manifest["sources"] == rebuilt.manifest["sources"]


def test_other_embedding_model_makes_the_index_stale(make_config, corpus_dir):
    cfg = make_config(corpus_dir)
    open_index(cfg, FakeEmbedder(), progress=False)
    with pytest.raises(StaleIndexError, match="embedding_model"):
        load_index(cfg, "another-model")
    with pytest.raises(StaleIndexError, match="dimension"):
        load_index(cfg, "fake-embedder", dimension=128)
    narrow = FakeEmbedder(dim=128)  # same name, other width: rebuilt, not a crash at search time
    assert open_index(cfg, narrow, progress=False).chunk_vectors.d == 128


@pytest.mark.parametrize("victim", ["chunks.faiss", "chunks.json", "documents.json", "lexicon.json.gz"])
def test_corrupt_or_truncated_files_are_refused_then_rebuilt(make_config, corpus_dir, victim):
    cfg = make_config(corpus_dir)
    emb = FakeEmbedder()
    open_index(cfg, emb, progress=False)
    path = _current(cfg) / victim
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(IndexError_, match="does not match its manifest"):
        load_index(cfg, emb.name)
    index = open_index(cfg, emb, progress=False)
    assert index.chunk_vectors.ntotal == len(index.chunks) > 0


def test_interrupted_rebuild_leaves_the_previous_index_serving(make_config, corpus_dir, monkeypatch):
    cfg = make_config(corpus_dir)
    emb = FakeEmbedder()
    open_index(cfg, emb, progress=False)
    good = _current(cfg)
    index = build_index(cfg, emb, load_corpus(corpus_dir), progress=False)

    import rag.store

    real = rag.store._atomic_write
    calls = {"n": 0}

    def crash_midway(path, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(rag.store, "_atomic_write", crash_midway)
    with pytest.raises(IndexError_, match="Cannot write the index"):
        save_index(index, cfg.paths.index_dir)
    assert _current(cfg) == good  # CURRENT still points at the good generation
    assert len(list(Path(cfg.paths.index_dir).glob("g-*"))) == 1  # the half-written one was removed
    assert load_index(cfg, emb.name).chunk_vectors.ntotal > 0


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    from rag.store import _atomic_write

    target = tmp_path / "f.json"
    target.write_text("old")

    def boom(fd):
        raise OSError("disk error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        _atomic_write(target, b"new content")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_read_only_index_folder_still_serves_from_memory(make_config, corpus_dir, monkeypatch):
    import rag.store

    def read_only(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rag.store, "_atomic_write", read_only)
    cfg = make_config(corpus_dir)
    index = open_index(cfg, FakeEmbedder(), progress=False)
    assert index.path is None and index.chunks  # built, not saved, still usable
    assert not list(Path(cfg.paths.index_dir).glob("g-*"))


def test_corpus_errors_are_specific(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="holds no .txt, .md"):
        load_corpus(empty)
    (empty / "zero.txt").write_bytes(b"")
    (empty / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (empty / "latin1.md").write_bytes("caf\xe9 au lait".encode("latin-1") + b"\x81\x8d")  # neither UTF-8 nor 1252
    with pytest.raises(CorpusError, match="No readable documents") as err:
        load_corpus(empty)
    assert "empty" in str(err.value) and "binary" in str(err.value) and "not UTF-8" in str(err.value)
    (empty / "good.txt").write_text("A real paragraph of text.\n")
    corpus = load_corpus(empty)
    assert [d.source for d in corpus.documents] == ["good.txt"]
    assert set(corpus.skipped) == {"zero.txt", "bin.txt", "latin1.md"}


class CountingEmbedder(FakeEmbedder):
    """Records every text it embeds, so a test can see what an update re-embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts, progress=False):
        self.seen.extend(texts)
        return super().embed(texts)


def test_incremental_update_re_embeds_only_the_changed_file(make_config, tmp_path):
    corpus = tmp_path / "wiki"
    corpus.mkdir()
    (corpus / "deploy.md").write_text("# Deployment Guide\n\nRoll back with the previous release tag.\n", encoding="utf-8")
    (corpus / "onboarding.md").write_text("# Onboarding\n\nNew staff get a laptop on day one.\n", encoding="utf-8")
    (corpus / "old.txt").write_text("An old page about the retired build server.\n", encoding="utf-8")
    cfg = make_config(corpus)
    emb = CountingEmbedder()
    first = open_index(cfg, emb, progress=False)
    assert sorted(first.changes["added"]) == ["deploy.md", "old.txt", "onboarding.md"]

    emb.seen.clear()
    (corpus / "onboarding.md").write_text("# Onboarding\n\nNew staff get a laptop and a badge on day one.\n", "utf-8")
    (corpus / "old.txt").unlink()
    (corpus / "faq.md").write_text("# FAQ\n\nThe VPN needs a hardware key.\n", encoding="utf-8")
    second = open_index(cfg, emb, progress=False)
    assert second.changes["changed"] == ["onboarding.md"] and second.changes["added"] == ["faq.md"]
    assert second.changes["removed"] == ["old.txt"] and second.changes["unchanged"] == ["deploy.md"]
    assert "New staff get a laptop and a badge on day one." in emb.seen and "The VPN needs a hardware key." in emb.seen
    assert not any("Roll back" in t or "Deployment" in t or "laptop on day one" in t for t in emb.seen)  # nothing old
    assert {d.source for d in second.corpus.documents} == {"deploy.md", "faq.md", "onboarding.md"}
    for c in second.chunks:
        assert second.corpus.get(c.source).text[c.start : c.end] == c.text
    # The reused vectors are the same as a full rebuild's.
    full = open_index(cfg, FakeEmbedder(), rebuild=True, progress=False)
    assert np.allclose(full.chunk_vectors.reconstruct_n(0, full.chunk_vectors.ntotal),
                       second.chunk_vectors.reconstruct_n(0, second.chunk_vectors.ntotal))
    emb.seen.clear()
    assert open_index(cfg, emb, progress=False).changes == {} and emb.seen == []  # up to date: nothing re-embedded


class CallRecordingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, bool]] = []

    def embed(self, texts, progress=False):
        self.calls.append((len(texts), progress))
        return super().embed(texts)


def test_indexing_embeds_each_sentence_once_and_passages_come_from_their_sentences(make_config, tmp_path):
    """One embedder call (so it can batch texts of similar length) over the sentences and the distinct
    title/heading lines; a passage's vector is the token-weighted mean of those; the sentence vectors are
    stored with the index, so the reader does not embed them per question."""
    corpus = tmp_path / "wiki"
    corpus.mkdir()
    for n in range(5):
        body = "\n\n".join(f"## Part {k}\n\n" + f"Words of section {k} here. " * (k * 7 + 1) for k in range(4))
        (corpus / f"page{n}.md").write_text(f"# Page {n}\n\n{body}\n", encoding="utf-8")
    cfg = make_config(corpus)
    emb = CallRecordingEmbedder()
    index = build_index(cfg, emb, progress=True)
    contexts = {passage_context(c) for c in index.chunks}
    assert emb.calls == [(len(index.sentences) + len(contexts), True)] and len(index.chunks) > 16
    fake = FakeEmbedder()
    sentence_vectors = fake.embed([s.text for s in index.sentences])
    assert np.allclose(index.sentence_vectors, sentence_vectors, atol=1e-3)
    inside = sentences_by_chunk(index.chunks, index.sentences)
    for chunk in index.chunks:
        ids = inside[chunk.id]
        assert ids  # every passage here holds whole sentences
        words = token_counts(fake, [index.sentences[i].text for i in ids] + [passage_context(chunk)])
        total = sum(n * sentence_vectors[i] for n, i in zip(words, ids))
        total = total + words[-1] * fake.embed([passage_context(chunk)])[0]
        assert np.allclose(index.chunk_vectors.reconstruct(chunk.id), total / np.linalg.norm(total), atol=1e-5)
    # Stored and read back; the reader takes them from the index instead of the embedder.
    save_index(index, cfg.paths.index_dir)
    loaded = load_index(cfg, emb.name, emb.dim)
    assert np.array_equal(loaded.sentence_vectors, index.sentence_vectors)
    emb.calls.clear()
    reader = Reader(loaded, emb, cfg.answer)
    reader.prefetch(list(range(len(loaded.sentences))))
    assert emb.calls == [] and np.allclose(reader.sentence_vector(3), sentence_vectors[3], atol=1e-3)


def test_an_index_of_whole_passage_vectors_is_rebuilt(make_config, corpus_dir):
    cfg = make_config(corpus_dir)
    index = open_index(cfg, FakeEmbedder(), progress=False)
    manifest = index.path / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["passage_vectors"]  # as an index of the previous release has it
    manifest.write_text(json.dumps(data))
    with pytest.raises(StaleIndexError, match="passage_vectors changed \\('whole-text' -> 'sentence-mean'\\)"):
        load_index(cfg, "fake-embedder", FakeEmbedder().dim)


def test_an_unparsable_file_is_skipped_with_its_reason_and_the_rest_is_indexed(make_config, tmp_path):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Good\n\nThis page is fine.\n", encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    index = open_index(make_config(corpus), FakeEmbedder(), progress=False)
    assert [d.source for d in index.corpus.documents] == ["good.md"]
    assert "PDF cannot be read" in index.corpus.skipped["broken.pdf"]
    assert index.changes["skipped"] == ["broken.pdf"]
