"""The persisted index: FAISS vectors, chunk/sentence metadata as JSON, and a manifest.

Layout: ``index/CURRENT`` names a generation folder (``index/g-<id>/``) holding
``documents.json`` (each document's text and identity), ``chunks.faiss``, ``chunks.json``
and ``manifest.json`` (settings, the sha256 of every source file, checksums of the rest). A rebuild
writes a new generation and then swaps ``CURRENT`` with an atomic rename, so a crash
mid-build leaves the previous good index serving and never a half-written one.
With ``store.backend = "milvus"`` the vectors go to a Milvus collection named after the generation
instead of ``chunks.faiss`` (``rag.vectors``); everything else stays in the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .chunk import chunk_parsed, parse_document
from .config import Config
from .corpus import Corpus, load_corpus, scan, with_url
from .embed import Embedder, token_counts
from .errors import CorpusError, IndexError_, RagError, StaleIndexError
from .formats import Parsed
from .lexicon import Lexicon, OutdatedLexicon, build_lexicon, sentences_by_chunk
from .schema import Chunk, Document, Span
from .vectors import MilvusVectors, VectorStore, check_backend, collection_name, milvus_uri

log = logging.getLogger(__name__)

FORMAT_VERSION = 10  # 10: a definition list's term on a line of its own after a sentence starts the next sentence unit; 9: a navigation bar line ("Next: …, Up: … [Contents]") is layout; 8: a PDF's lines join into paragraphs however wide, an option's line joins its description; 7: a PDF page's running foot is dropped on its first page too, ligatures spelled out; 6: a plain-text line that is a command, an address or a "label: text" line is no heading, and a question ending a chunk opens the next; 5: chunks know a code block (Chunk.code); 4: an HTML heading written as its own anchor link (mdBook) is kept; 3: heading paths ("2.3.1 › Fixed")
CURRENT = "CURRENT"
# Exact (flat) search is fastest up to here; above it an HNSW graph keeps queries in milliseconds.
HNSW_MIN_VECTORS = 50_000
HNSW_M = 32
# Manifests written before a setting existed were built with its then-only value.
SETTING_DEFAULTS = {"store_backend": "faiss", "passage_vectors": "whole-text"}
# How a passage's vector is made: the token-weighted mean of its sentences' vectors and its title/heading's.
# Each token is embedded once, and the reader's sentence vectors come with the index instead of being embedded
# per question. On the five dev corpora retrieval and answers scored as with whole-passage vectors
# (hit@6 470 vs 467 points summed, answer accuracy 354 vs 350); see the README's benchmarks.
PASSAGE_VECTORS = "sentence-mean"


@dataclass
class Index:
    """Everything retrieval needs, loaded once and shared by every question."""

    corpus: Corpus
    chunks: list[Chunk]
    sentences: list[Span]  # the citable units (sentences, code and table lines)
    sentence_chunk: list[int]  # the chunk each sentence was first found in
    chunk_vectors: VectorStore  # a faiss.Index, or a MilvusVectors collection once saved with store.backend = "milvus"
    manifest: dict[str, Any]
    path: Path | None = None
    changes: dict[str, list[str]] = field(default_factory=dict)  # what the last build did, per file
    lexicon: Lexicon | None = None  # word facts the reader needs (stored as lexicon.json.gz)
    sentence_vectors: np.ndarray | None = None  # float16, one row per sentence (None: embedded when first read)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("faiss-cpu", "sentence-transformers", "onnxruntime", "tiktoken", "grounded-rag"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _settings(config: Config, embedder_name: str, dimension: int | None) -> dict[str, Any]:
    """What an index depends on besides the files: change any and every vector is rebuilt."""
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": embedder_name,
        "dimension": dimension,
        "store_backend": check_backend(config.store.backend),
        "passage_vectors": PASSAGE_VECTORS,
        "chunker": {
            "max_tokens": config.chunk.max_tokens,
            "overlap_sentences": config.chunk.overlap_sentences,
            "encoding": config.chunk.encoding,
        },
    }


def settings_changes(manifest: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """Why no vector of this index can be reused (another embedder, chunker or format)."""
    return [
        f"{key} changed ({manifest.get(key, SETTING_DEFAULTS.get(key))!r} -> {value!r})"
        for key, value in settings.items()
        if not (key == "dimension" and value is None) and manifest.get(key, SETTING_DEFAULTS.get(key)) != value
    ]


def file_changes(manifest: dict[str, Any], files: dict[str, str]) -> list[str]:
    """Which source files were added, removed or edited since the index was built."""
    old = dict(manifest.get("sources", {})) | {s: v["sha256"] for s, v in manifest.get("skipped", {}).items()}
    return (
        [f"{s} was added" for s in sorted(files.keys() - old.keys())]
        + [f"{s} was removed" for s in sorted(old.keys() - files.keys())]
        + [f"{s} changed" for s in sorted(files.keys() & old.keys()) if old[s] != files[s]]
    )


def staleness(manifest: dict[str, Any], settings: dict[str, Any], files: dict[str, str]) -> list[str]:
    """Human-readable reasons why an index no longer matches; empty when it is fresh."""
    return settings_changes(manifest, settings) + file_changes(manifest, files)


def _vector_index(vectors: np.ndarray, dim: int, backend: str = "faiss") -> tuple[Any, str]:
    import faiss

    # For milvus this is an exact in-memory copy until save_index moves the vectors into a collection.
    kind = f"HNSW{HNSW_M}" if backend == "faiss" and len(vectors) >= HNSW_MIN_VECTORS else "Flat"
    index = faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)  # inner product on unit vectors = cosine
    if kind.startswith("HNSW"):
        index.hnsw.efSearch = 64
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def embed_text(chunk: Chunk) -> str:
    """What is embedded (and BM25-indexed) for a chunk: its document title and heading, then its text."""
    context = passage_context(chunk)
    return f"{context}\n{chunk.text}" if context else chunk.text


def passage_context(chunk: Chunk) -> str:
    """A passage's document title and section heading, as embedded and BM25-indexed with it."""
    return " · ".join(dict.fromkeys(p for p in (chunk.title, chunk.heading) if p))


def embed_parts(
    embedder: Embedder, chunks: list[Chunk], spans: list[Span], progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for the passages and sentences of new documents, each token embedded once.

    Sentences and the distinct title/heading lines are embedded (in one call, so the embedder can batch texts of
    similar length); a passage's vector is the token-weighted mean of its sentences' and its context's, close
    to what embedding the whole passage gives. A passage without a whole sentence inside is embedded itself.
    """
    dim = embedder.dim
    inside = sentences_by_chunk(chunks, spans) if chunks else {}
    contexts = [passage_context(c) for c in chunks]
    bare = [c for c in chunks if not inside.get(c.id)]
    texts = [s.text for s in spans] + sorted({c for c in contexts if c}) + [embed_text(c) for c in bare]
    vectors = embedder.embed(texts, progress=progress) if texts else np.zeros((0, dim), np.float32)
    sentence_vectors = vectors[: len(spans)]
    sizes = np.array(token_counts(embedder, texts), np.float32)  # a mean over tokens, as mean pooling is
    by_text = dict(zip(texts[len(spans) :], zip(vectors[len(spans) :], sizes[len(spans) :]), strict=True))
    passage_vectors = np.zeros((len(chunks), dim), np.float32)
    for row, chunk in enumerate(chunks):
        ids = inside.get(chunk.id)
        if not ids:
            passage_vectors[row] = by_text[embed_text(chunk)][0]
            continue
        total = sizes[ids] @ sentence_vectors[ids]
        if contexts[row]:
            vector, size = by_text[contexts[row]]
            total = total + size * vector
        passage_vectors[row] = total / max(float(np.linalg.norm(total)), 1e-12)
    return passage_vectors, sentence_vectors.astype(np.float16)


Part = tuple[Document, list[Chunk], list[Span], np.ndarray | None, np.ndarray | None]


def _parts_of(index: Index | None) -> dict[str, Part]:
    """An earlier index, split per file, so unchanged files are reused without re-embedding."""
    if index is None or not index.chunks or index.sentence_vectors is None:
        return {}
    vectors = index.chunk_vectors.reconstruct_n(0, index.chunk_vectors.ntotal)
    rows: dict[str, list[int]] = {}
    spans: dict[str, list[int]] = {}
    for chunk in index.chunks:  # one pass each, not one per document
        rows.setdefault(chunk.source, []).append(chunk.id)
    for i, span in enumerate(index.sentences):
        spans.setdefault(span.source, []).append(i)
    return {
        doc.source: (doc, [index.chunks[i] for i in rows.get(doc.source, [])],
                     [index.sentences[i] for i in spans.get(doc.source, [])],
                     vectors[rows.get(doc.source, [])], index.sentence_vectors[spans.get(doc.source, [])])
        for doc in index.corpus.documents
    }


def build_index(
    config: Config,
    embedder: Embedder,
    corpus: Corpus | None = None,
    progress: bool = True,
    previous: Index | None = None,
    files: dict[str, str] | None = None,
) -> Index:
    """Chunk, embed and index the corpus in memory (``save_index`` persists it).

    With ``previous`` (an index built with the same settings) only added and changed files are
    parsed and embedded; the others keep their chunks and vectors.
    """
    root = config.paths.corpus_dir
    files = files if files is not None else scan(root)
    settings = _settings(config, embedder.name, embedder.dim)
    reusable = _parts_of(previous) if previous is not None and not settings_changes(previous.manifest, settings) else {}
    old_sources = dict(previous.manifest.get("sources", {})) if reusable else {}
    old_skipped = dict(previous.manifest.get("skipped", {})) if previous is not None else {}
    changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "unchanged": [], "skipped": []}
    changes["removed"] = sorted((old_sources.keys() | old_skipped.keys()) - files.keys()) if previous else []

    skipped: dict[str, dict[str, str]] = {}
    parts: list[Part] = []
    to_parse = []
    for source, sha in files.items():
        if source in reusable and old_sources.get(source) == sha:
            parts.append(reusable[source])
            changes["unchanged"].append(source)
        elif source in old_skipped and old_skipped[source]["sha256"] == sha and previous is not None:
            skipped[source] = old_skipped[source]  # still the same bad file: no need to parse it again
            changes["skipped"].append(source)
        else:
            to_parse.append(source)
    if corpus is None:
        corpus = load_corpus(root, sources=to_parse) if to_parse else Corpus([])
    for source, why in corpus.skipped.items():
        skipped[source] = {"sha256": files.get(source, ""), "reason": why}
        changes["skipped"].append(source)
    for doc in corpus.documents:
        blocks = corpus.blocks.get(doc.source)
        parsed = Parsed(doc, blocks) if blocks is not None else parse_document(doc)
        chunks, spans = chunk_parsed(parsed, config.chunk.max_tokens, config.chunk.overlap_sentences, config.chunk.encoding)
        parts.append((doc, chunks, spans, None, None))
        changes["changed" if doc.source in old_sources else "added"].append(doc.source)
    parts.sort(key=lambda p: p[0].source)
    if not parts:
        reasons = "; ".join(f"{s}: {v['reason']}" for s, v in skipped.items())
        raise CorpusError(f"No readable documents in {root} ({reasons}). Add UTF-8 text, Markdown, HTML or PDF files.")

    # The new documents' passages and sentences, renumbered together, embedded in one call.
    new_chunks = [c for _, chunks, _, vecs, _ in parts if vecs is None for c in chunks]
    new_chunks = [dataclasses.replace(c, id=i) for i, c in enumerate(new_chunks)]
    new_spans = [sp for _, _, spans, vecs, _ in parts if vecs is None for sp in spans]
    new_vectors, new_sentence_vectors = embed_parts(embedder, new_chunks, new_spans, progress)

    documents: list[Document] = []
    chunks_out: list[Chunk] = []
    sentences: list[Span] = []
    owners: list[int] = []
    vector_parts: list[np.ndarray] = []
    sentence_parts: list[np.ndarray] = []
    used = used_spans = 0
    for doc, chunks, spans, vecs, svecs in parts:
        documents.append(doc)
        if vecs is None:
            vecs, used = new_vectors[used : used + len(chunks)], used + len(chunks)
            svecs, used_spans = new_sentence_vectors[used_spans : used_spans + len(spans)], used_spans + len(spans)
        base = len(chunks_out)
        chunks_out.extend(dataclasses.replace(c, id=base + i) for i, c in enumerate(chunks))
        vector_parts.append(np.asarray(vecs, dtype=np.float32).reshape(len(chunks), -1) if len(chunks) else
                            np.zeros((0, embedder.dim), np.float32))
        sentence_parts.append(np.asarray(svecs, dtype=np.float16).reshape(len(spans), embedder.dim))
        j = base
        for span in spans:  # both in document order: the first chunk reaching past a unit holds it
            while j < len(chunks_out) - 1 and chunks_out[j].end < span.end:
                j += 1
            sentences.append(span)
            owners.append(j)
    if not chunks_out:
        raise IndexError_("The corpus produced no passages (only headings or boilerplate?). Add body text.")
    vectors = np.concatenate(vector_parts)
    vector_index, kind = _vector_index(vectors, int(vectors.shape[1]), config.store.backend)
    manifest = _settings(config, embedder.name, int(vectors.shape[1])) | {
        "index_type": kind,
        "sources": {d.source: files[d.source] for d in documents},
        "skipped": skipped,
        "n_documents": len(documents),
        "n_chunks": len(chunks_out),
        "n_sentences": len(sentences),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
        "python": platform.python_version(),
    }
    if config.store.backend == "milvus":
        manifest["milvus"] = {"uri": config.store.uri}  # save_index fills the collection and names it here
    full = Corpus(documents, {s: v["reason"] for s, v in skipped.items()})
    lexicon = build_lexicon(documents, chunks_out, sentences)
    sentence_vectors = np.concatenate(sentence_parts) if sentence_parts else np.zeros((0, embedder.dim), np.float16)
    return Index(full, chunks_out, sentences, owners, vector_index, manifest, changes=changes, lexicon=lexicon,
                 sentence_vectors=sentence_vectors)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


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


def _current_milvus(root: Path) -> dict[str, Any]:
    """The ``milvus`` entry of the manifest CURRENT names; empty when there is none."""
    try:
        gen = root / (root / CURRENT).read_text(encoding="utf-8").strip()
        entry = json.loads((gen / "manifest.json").read_text(encoding="utf-8")).get("milvus", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def save_index(index: Index, index_dir: str | Path) -> Path:
    """Write a new generation, then atomically point CURRENT at it and drop older generations."""
    import faiss

    root = Path(index_dir).expanduser()
    gen = root / f"g-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    milvus: MilvusVectors | None = None
    before: dict[str, Any] = {}  # milvus: the collection of the generation this one replaces
    try:
        root.mkdir(parents=True, exist_ok=True)
        gen.mkdir()
        # Document texts are stored so HTML/PDF extraction runs once and loading parses nothing.
        documents = [d.to_dict() for d in index.corpus.documents]
        meta = {
            "chunks": [c.to_dict() for c in index.chunks],
            "sentences": [[s.source, s.start, s.end, owner] for s, owner in zip(index.sentences, index.sentence_chunk, strict=True)],
        }
        files = {
            "documents.json": json.dumps(documents, ensure_ascii=False).encode("utf-8"),
            "chunks.json": json.dumps(meta, ensure_ascii=False).encode("utf-8"),
        }
        if index.lexicon is not None:
            files["lexicon.json.gz"] = index.lexicon.to_bytes()
        if index.sentence_vectors is not None:
            files["sentences.npy"] = _npy_bytes(index.sentence_vectors)
        placed: dict[str, Any] = {}
        if index.manifest.get("store_backend", "faiss") == "faiss":
            files["chunks.faiss"] = faiss.serialize_index(index.chunk_vectors).tobytes()
        else:
            vectors = index.chunk_vectors.reconstruct_n(0, index.chunk_vectors.ntotal)
            uri = milvus_uri(index.manifest["milvus"]["uri"], root)
            milvus = MilvusVectors.create(uri, collection_name(gen.name), vectors)
            before = _current_milvus(root)
            entry = {"uri": uri, "collection": milvus.collection, "previous": before.get("collection", "")}
            placed = {"index_type": milvus.index_type, "milvus": entry}
        for name, data in files.items():
            _atomic_write(gen / name, data)
        manifest = index.manifest | placed | {"artifacts": {name: _sha256(data) for name, data in files.items()}}
        _atomic_write(gen / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _atomic_write(root / CURRENT, gen.name.encode())
    except (OSError, RagError) as exc:  # RagError: Milvus unreachable or pymilvus missing, already explained
        shutil.rmtree(gen, ignore_errors=True)
        if milvus is not None:
            milvus.drop_collections([milvus.collection])
        if isinstance(exc, RagError):
            raise
        raise IndexError_(
            f"Cannot write the index to {root} ({exc.strerror or exc}). "
            "Make the folder writable or set paths.index_dir to a writable folder."
        ) from exc
    olds = [old for old in root.glob("g-*") if old.is_dir() and old != gen]
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)
    if milvus is not None:
        # The generation just replaced keeps its collection until the next save, so servers that loaded it
        # keep answering (as FAISS servers do from memory); the one before it goes, with any orphans.
        stale = {collection_name(old.name) for old in olds} | {before.get("previous", "")}
        milvus.drop_collections(stale - {manifest["milvus"]["previous"], ""})
        index.chunk_vectors = milvus  # searches now go to the server, like every later load's
    index.manifest, index.path = manifest, gen
    return gen


def load_index(
    config: Config,
    embedder_name: str,
    dimension: int | None = None,
    files: dict[str, str] | None = None,
    check_sources: bool = True,
) -> Index:
    """Load and verify the persisted index; raise ``StaleIndexError``/``IndexError_`` saying why not."""
    import faiss

    root = Path(config.paths.index_dir).expanduser()
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexError_(f"No index in {root} yet. Run `rag index` to build it.")
    gen = root / pointer.read_text(encoding="utf-8").strip()
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        backend = manifest.get("store_backend", "faiss") if isinstance(manifest, dict) else "faiss"
        names = ("documents.json", "chunks.json") + (("chunks.faiss",) if backend == "faiss" else ())
        # An index written before the lexicon was stored has none: the reader builds it then.
        stored = manifest.get("artifacts", {}) if isinstance(manifest, dict) else {}
        names += ("lexicon.json.gz",) if "lexicon.json.gz" in stored else ()
        names += ("sentences.npy",) if "sentences.npy" in stored else ()
        raw = {name: (gen / name).read_bytes() for name in names}
    except (OSError, ValueError) as exc:
        raise IndexError_(f"The index in {gen} is unreadable ({exc}). Run `rag index` to rebuild it.") from exc
    if not isinstance(manifest, dict):
        raise IndexError_(f"The manifest in {gen} is not an object (corrupt). Run `rag index`.")
    for name, data in raw.items():
        if manifest.get("artifacts", {}).get(name) != _sha256(data):
            raise IndexError_(f"{gen / name} does not match its manifest (corrupt or truncated). Run `rag index`.")
    reasons = settings_changes(manifest, _settings(config, embedder_name, dimension))
    if check_sources:
        reasons += file_changes(manifest, files if files is not None else scan(config.paths.corpus_dir))
    if reasons:
        raise StaleIndexError(f"The index in {gen} is stale: {'; '.join(reasons)}. Run `rag index` to rebuild it.")
    try:
        documents = [Document.from_dict(d) for d in json.loads(raw["documents.json"])]
        meta = json.loads(raw["chunks.json"])
        chunks = [Chunk.from_dict(c) for c in meta["chunks"]]
        texts = {d.source: d.text for d in documents}
        sentences = [Span(src, s, e, texts[src][s:e]) for src, s, e, _ in meta["sentences"]]
        owners = [int(row[3]) for row in meta["sentences"]]
        lexicon = _stored_lexicon(raw["lexicon.json.gz"]) if "lexicon.json.gz" in raw else None
        if lexicon is not None and len(lexicon.sentence_terms) != len(sentences):
            raise ValueError("the lexicon and the sentences disagree")
        sentence_vectors = np.load(io.BytesIO(raw["sentences.npy"])) if "sentences.npy" in raw else None
        if sentence_vectors is not None and sentence_vectors.shape[0] != len(sentences):
            raise ValueError("the sentence vectors and the sentences disagree")
        if backend == "faiss":
            chunk_vectors = faiss.deserialize_index(np.frombuffer(raw["chunks.faiss"], dtype=np.uint8))
        else:
            collection = str(manifest["milvus"]["collection"])
    except (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError) as exc:  # OSError, EOFError: bad gzip
        raise IndexError_(f"The index in {gen} is corrupt ({exc}). Run `rag index` to rebuild it.") from exc
    if backend != "faiss":  # the vectors stay on the Milvus server; connect to this generation's collection
        chunk_vectors = MilvusVectors.open(milvus_uri(config.store.uri, root), collection)
    if chunk_vectors.ntotal != len(chunks):
        raise IndexError_(f"The index in {gen} disagrees with its metadata (vector counts). Run `rag index`.")
    if any(texts[c.source][c.start : c.end] != c.text for c in chunks):
        raise StaleIndexError(f"The chunk offsets in {gen} do not match the documents. Run `rag index`.")
    if hasattr(chunk_vectors, "hnsw"):
        chunk_vectors.hnsw.efSearch = 64
    corpus = Corpus(documents, {s: v.get("reason", "") for s, v in manifest.get("skipped", {}).items()})
    index = Index(corpus, chunks, sentences, owners, chunk_vectors, manifest, gen, lexicon=lexicon,
                  sentence_vectors=sentence_vectors)
    return _with_urls(index, config)


def _stored_lexicon(raw: bytes) -> Lexicon | None:
    """The stored lexicon; None (the reader builds it, ~0.8 s per MB of text) when an earlier version wrote it."""
    try:
        return Lexicon.from_bytes(raw)
    except OutdatedLexicon as exc:
        log.info("%s: the word facts are rebuilt in memory; `rag index --full` stores them again", exc)
        return None


def _with_urls(index: Index, config: Config) -> Index:
    """Documents without a URL of their own get ``corpus.base_url`` + their path (not stored: it may change)."""
    index.corpus.documents = [with_url(d, config.corpus.base_url) for d in index.corpus.documents]
    return index


def open_index(config: Config, embedder: Embedder, rebuild: bool = False, progress: bool = True) -> Index:
    """Load the index; when missing, stale or corrupt, (re)build it, re-embedding only changed files."""
    files = scan(config.paths.corpus_dir)
    previous: Index | None = None
    if not rebuild:
        try:
            return load_index(config, embedder.name, embedder.dim, files)
        except StaleIndexError as exc:
            log.info("%s Updating it.", exc)
            try:  # the same settings, other files: reuse what did not change
                previous = load_index(config, embedder.name, embedder.dim, files, check_sources=False)
            except IndexError_:
                previous = None
        except IndexError_ as exc:
            log.warning("%s Rebuilding.", exc)
    index = build_index(config, embedder, progress=progress, previous=previous, files=files)
    try:
        save_index(index, config.paths.index_dir)
    except IndexError_ as exc:
        # A read-only index folder must not stop answering: serve this in-memory build instead.
        log.warning("%s Serving an in-memory index for this session.", exc)
    return _with_urls(index, config)
