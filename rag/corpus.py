"""Find and read the corpus: every supported file of a folder, parsed by its format.

A file that cannot be used (binary junk, not UTF-8, a broken PDF) is skipped with its reason;
the rest of the corpus is never lost because of one bad file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .errors import CorpusError
from .formats import SUFFIXES, Block, Parsed, parse_file
from .schema import Document

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    documents: list[Document]
    skipped: dict[str, str] = field(default_factory=dict)  # source -> why it was left out
    blocks: dict[str, list[Block]] = field(default_factory=dict)  # source -> structure, when parsed this run

    def get(self, source: str) -> Document:
        for doc in self.documents:
            if doc.source == source:
                return doc
        raise KeyError(source)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_files(corpus_dir: str | Path) -> list[Path]:
    """The files the corpus consists of, sorted; raises when the folder is unusable."""
    root = Path(corpus_dir).expanduser()
    if not root.is_dir():
        raise CorpusError(
            f"Corpus folder {root} does not exist. Set paths.corpus_dir to a folder of documents "
            f"({', '.join(SUFFIXES)})."
        )
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise CorpusError(f"Corpus folder {root} holds no {', '.join(SUFFIXES)} files. Add documents, then run `rag index`.")
    return files


def scan(corpus_dir: str | Path) -> dict[str, str]:
    """Every corpus file's relative path and the sha256 of its bytes (cheap: nothing is parsed)."""
    root = Path(corpus_dir).expanduser()
    out: dict[str, str] = {}
    for path in source_files(root):
        try:
            out[path.relative_to(root).as_posix()] = sha256_of(path)
        except OSError as exc:
            out[path.relative_to(root).as_posix()] = f"unreadable: {exc.strerror}"
    return out


def with_url(doc: Document, base_url: str) -> Document:
    """The document's own URL, else ``base_url`` joined with its relative path."""
    if doc.url or not base_url:
        return doc
    return dataclasses.replace(doc, url=base_url.rstrip("/") + "/" + quote(doc.source))


def parse_source(corpus_dir: str | Path, source: str) -> Parsed:
    """Parse one corpus file; ``CorpusError`` says why it cannot be used."""
    path = Path(corpus_dir).expanduser() / source
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot be read ({exc.strerror})") from None
    return parse_file(source, data)


def load_corpus(corpus_dir: str | Path, base_url: str = "", sources: list[str] | None = None) -> Corpus:
    """Parse every document (or just ``sources``); unusable files are skipped with their reason.

    Parsing the whole folder and finding nothing usable is an error; a subset may be all bad.
    """
    root = Path(corpus_dir).expanduser()
    whole = sources is None
    if sources is None:
        sources = [p.relative_to(root).as_posix() for p in source_files(root)]
    corpus = Corpus([])
    for source in sources:
        try:
            parsed = parse_source(root, source)
        except CorpusError as exc:
            corpus.skipped[source] = str(exc)
            log.info("Skipping %s: %s", source, exc)
            continue
        corpus.documents.append(with_url(parsed.document, base_url))
        corpus.blocks[source] = parsed.blocks
    if whole and not corpus.documents:
        reasons = "; ".join(f"{s}: {why}" for s, why in corpus.skipped.items())
        raise CorpusError(f"No readable documents in {root} ({reasons}). Add UTF-8 text, Markdown, HTML or PDF files.")
    return corpus
