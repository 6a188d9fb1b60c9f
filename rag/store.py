"""The persisted index: FAISS vectors, chunk/sentence metadata as JSON, and a manifest.

Layout: ``index/CURRENT`` names a generation folder (``index/g-<id>/``) holding
``chunks.faiss``, ``sentences.faiss``, ``chunks.json`` and ``manifest.json``. A rebuild
writes a new generation and then swaps ``CURRENT`` with an atomic rename, so a crash
mid-build leaves the previous good index serving and never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .chunk import chunk_documents, split_sentences
from .config import Config
from .corpus import Corpus, load_corpus
from .embed import Embedder
from .errors import IndexError_, StaleIndexError
from .schema import Chunk, Span

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"


@dataclass
class Index:
    """Everything retrieval needs, loaded once and shared by every question."""

    corpus: Corpus
    chunks: list[Chunk]
    sentences: list[Span]
    sentence_chunk: list[int]  # the chunk each sentence was first found in
    chunk_vectors: Any  # faiss.Index
    sentence_vectors: Any  # faiss.Index
    manifest: dict[str, Any]
    path: Path | None = None


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("faiss-cpu", "sentence-transformers", "tiktoken", "transformers", "rag-alliance"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_manifest(config: Config, corpus: Corpus, embedder_name: str, dimension: int | None = None) -> dict[str, Any]:
    """What the manifest of a fresh index for this corpus and config must say."""
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": embedder_name,
        "dimension": dimension,
        "chunker": {
            "max_tokens": config.chunk.max_tokens,
            "overlap_sentences": config.chunk.overlap_sentences,
            "encoding": config.chunk.encoding,
        },
        "sources": {d.source: _sha256(d.text.encode("utf-8")) for d in corpus.documents},
        "skipped": dict(corpus.skipped),
    }


def staleness(manifest: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Human-readable reasons why an index no longer matches; empty when it is fresh."""
    reasons = []
    for key in ("format_version", "embedding_model", "dimension", "chunker"):
        if key == "dimension" and expected[key] is None:
            continue
        if manifest.get(key) != expected[key]:
            reasons.append(f"{key} changed ({manifest.get(key)!r} -> {expected[key]!r})")
    old, new = manifest.get("sources", {}), expected["sources"]
    reasons += [f"{s} was added" for s in sorted(new.keys() - old.keys())]
    reasons += [f"{s} was removed" for s in sorted(old.keys() - new.keys())]
    reasons += [f"{s} changed" for s in sorted(new.keys() & old.keys()) if old[s] != new[s]]
    return reasons


def _sentences(corpus: Corpus, chunks: list[Chunk]) -> tuple[list[Span], list[int]]:
    """Sentence spans of every chunk, each sentence once, with the first chunk holding it."""
    seen: dict[tuple[str, int, int], int] = {}
    spans: list[Span] = []
    owners: list[int] = []
    for chunk in chunks:
        for span in split_sentences(chunk.text, chunk.start, chunk.source):
            key = (span.source, span.start, span.end)
            if key not in seen:
                seen[key] = len(spans)
                spans.append(span)
                owners.append(chunk.id)
    return spans, owners


def _flat_index(vectors: np.ndarray) -> Any:
    import faiss

    # Exact inner product on normalized vectors = cosine. Corpora here are small; for
    # hundreds of thousands of chunks an "IVF...,Flat" factory string would be the next step.
    index = faiss.index_factory(vectors.shape[1], "Flat", faiss.METRIC_INNER_PRODUCT)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _embed_text(chunk: Chunk) -> str:
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


def build_index(config: Config, embedder: Embedder, corpus: Corpus | None = None, progress: bool = True) -> Index:
    """Chunk, embed and index the corpus in memory (``save_index`` persists it)."""
    from tqdm.auto import tqdm

    corpus = corpus or load_corpus(config.paths.corpus_dir)
    chunks = chunk_documents(corpus.documents, config.chunk.max_tokens, config.chunk.overlap_sentences, config.chunk.encoding)
    if not chunks:
        raise IndexError_("The corpus produced no passages (only headings or boilerplate?). Add body text.")
    sentences, owners = _sentences(corpus, chunks)
    texts = [_embed_text(c) for c in chunks] + [s.text for s in sentences]
    batch = max(1, config.embed.batch_size)
    parts = []
    with tqdm(total=len(texts), desc="Embedding passages", unit="text", disable=not progress) as bar:
        for i in range(0, len(texts), batch):
            parts.append(embedder.embed(texts[i : i + batch]))
            bar.update(len(texts[i : i + batch]))
    vectors = np.concatenate(parts).astype(np.float32)
    manifest = expected_manifest(config, corpus, embedder.name, int(vectors.shape[1])) | {
        "n_chunks": len(chunks),
        "n_sentences": len(sentences),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
        "python": platform.python_version(),
    }
    return Index(
        corpus, chunks, sentences, owners,
        _flat_index(vectors[: len(chunks)]), _flat_index(vectors[len(chunks) :]), manifest,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_index(index: Index, index_dir: str | Path) -> Path:
    """Write a new generation, then atomically point CURRENT at it and drop older generations."""
    import faiss

    root = Path(index_dir).expanduser()
    gen = root / f"g-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        gen.mkdir()
        meta = {
            "chunks": [c.to_dict() for c in index.chunks],
            "sentences": [[s.source, s.start, s.end, owner] for s, owner in zip(index.sentences, index.sentence_chunk, strict=True)],
        }
        files = {
            "chunks.json": json.dumps(meta, ensure_ascii=False).encode("utf-8"),
            "chunks.faiss": faiss.serialize_index(index.chunk_vectors).tobytes(),
            "sentences.faiss": faiss.serialize_index(index.sentence_vectors).tobytes(),
        }
        for name, data in files.items():
            _atomic_write(gen / name, data)
        manifest = index.manifest | {"files": {name: _sha256(data) for name, data in files.items()}}
        _atomic_write(gen / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _atomic_write(root / CURRENT, gen.name.encode())
    except OSError as exc:
        shutil.rmtree(gen, ignore_errors=True)
        raise IndexError_(
            f"Cannot write the index to {root} ({exc.strerror or exc}). "
            "Make the folder writable or set paths.index_dir to a writable folder."
        ) from exc
    for old in root.glob("g-*"):
        if old.is_dir() and old != gen:
            shutil.rmtree(old, ignore_errors=True)
    index.manifest, index.path = manifest, gen
    return gen


def load_index(config: Config, corpus: Corpus, embedder_name: str, dimension: int | None = None) -> Index:
    """Load and verify the persisted index; raise ``StaleIndexError``/``IndexError_`` saying why not."""
    import faiss

    root = Path(config.paths.index_dir).expanduser()
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexError_(f"No index in {root} yet. Run `rag index` to build it.")
    gen = root / pointer.read_text(encoding="utf-8").strip()
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        raw = {name: (gen / name).read_bytes() for name in ("chunks.json", "chunks.faiss", "sentences.faiss")}
    except (OSError, ValueError) as exc:
        raise IndexError_(f"The index in {gen} is unreadable ({exc}). Run `rag index` to rebuild it.") from exc
    for name, data in raw.items():
        if manifest.get("files", {}).get(name) != _sha256(data):
            raise IndexError_(f"{gen / name} does not match its manifest (corrupt or truncated). Run `rag index`.")
    reasons = staleness(manifest, expected_manifest(config, corpus, embedder_name, dimension))
    if reasons:
        raise StaleIndexError(f"The index in {gen} is stale: {'; '.join(reasons)}. Run `rag index` to rebuild it.")
    try:
        meta = json.loads(raw["chunks.json"])
        chunks = [Chunk.from_dict(c) for c in meta["chunks"]]
        texts = {d.source: d.text for d in corpus.documents}
        sentences = [Span(src, s, e, texts[src][s:e]) for src, s, e, _ in meta["sentences"]]
        owners = [int(row[3]) for row in meta["sentences"]]
        chunk_vectors = faiss.deserialize_index(np.frombuffer(raw["chunks.faiss"], dtype=np.uint8))
        sentence_vectors = faiss.deserialize_index(np.frombuffer(raw["sentences.faiss"], dtype=np.uint8))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise IndexError_(f"The index in {gen} is corrupt ({exc}). Run `rag index` to rebuild it.") from exc
    if chunk_vectors.ntotal != len(chunks) or sentence_vectors.ntotal != len(sentences):
        raise IndexError_(f"The index in {gen} disagrees with its metadata (vector counts). Run `rag index`.")
    if any(texts[c.source][c.start : c.end] != c.text for c in chunks):
        raise StaleIndexError(f"The chunk offsets in {gen} do not match the sources. Run `rag index`.")
    return Index(corpus, chunks, sentences, owners, chunk_vectors, sentence_vectors, manifest, gen)


def open_index(config: Config, embedder: Embedder, rebuild: bool = False, progress: bool = True) -> Index:
    """Load the index, rebuilding it when missing, stale or corrupt (the usual entry point)."""
    corpus = load_corpus(config.paths.corpus_dir)
    if not rebuild:
        try:
            return load_index(config, corpus, embedder.name, embedder.dim)
        except IndexError_ as exc:
            log.warning("%s Rebuilding.", exc)
    index = build_index(config, embedder, corpus, progress=progress)
    try:
        save_index(index, config.paths.index_dir)
    except IndexError_ as exc:
        # A read-only index folder must not stop answering: serve this in-memory build instead.
        log.warning("%s Serving an in-memory index for this session.", exc)
    return index
