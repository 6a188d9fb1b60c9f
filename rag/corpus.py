"""Load the corpus: every readable ``.txt``/``.md`` file of a folder, text kept byte-for-byte as decoded."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError
from .schema import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
_ACRONYMS = {"us", "usa", "uk", "eu", "un", "nato", "ai", "faq", "api"}


@dataclass
class Corpus:
    documents: list[Document]
    skipped: dict[str, str] = field(default_factory=dict)  # source -> why it was left out

    def get(self, source: str) -> Document:
        for doc in self.documents:
            if doc.source == source:
                return doc
        raise KeyError(source)


def _title(path: Path, text: str) -> str:
    """A markdown ``# Title`` if there is one, else the file name made readable."""
    match = re.search(r"^#\s+(.+)$", text[:2000], flags=re.MULTILINE)
    if match:
        return match.group(1).strip()
    words = re.sub(r"[-_]+", " ", path.stem).split()
    return " ".join(w.upper() if w.lower() in _ACRONYMS else w.capitalize() for w in words)


def _read(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise CorpusError("the file is empty")
    if b"\x00" in data[:8192]:
        raise CorpusError("the file looks binary (it contains NUL bytes)")
    try:
        # newline="" semantics: keep \r\n so offsets stay offsets into the file as decoded.
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"the file is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_files(corpus_dir: str | Path) -> list[Path]:
    """The files the corpus consists of, sorted; raises when the folder is unusable."""
    root = Path(corpus_dir).expanduser()
    if not root.is_dir():
        raise CorpusError(f"Corpus folder {root} does not exist. Set paths.corpus_dir to a folder of .txt/.md files.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise CorpusError(f"Corpus folder {root} holds no .txt or .md files. Add documents, then run `rag index`.")
    return files


def load_corpus(corpus_dir: str | Path) -> Corpus:
    """Read every document; unreadable files are skipped with a warning, an all-unreadable corpus is an error."""
    root = Path(corpus_dir).expanduser()
    documents: list[Document] = []
    skipped: dict[str, str] = {}
    for path in source_files(root):
        source = path.relative_to(root).as_posix()
        try:
            text = _read(path)
        except CorpusError as exc:
            skipped[source] = str(exc)
            log.warning("Skipping %s: %s", path, exc)
            continue
        except OSError as exc:
            skipped[source] = f"cannot be read ({exc.strerror})"
            log.warning("Skipping %s: %s", path, exc)
            continue
        documents.append(Document(source=source, text=text, title=_title(path, text)))
    if not documents:
        reasons = "; ".join(f"{s}: {why}" for s, why in skipped.items())
        raise CorpusError(f"No readable documents in {root} ({reasons}). Add UTF-8 .txt or .md files.")
    return Corpus(documents, skipped)
