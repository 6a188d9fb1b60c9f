"""The vocabulary every stage speaks: plain dataclasses with a JSON round trip.

Offsets are always character offsets into the original document text, so
``document.text[start:end] == span.text`` holds for chunks, passages and citations.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a flat dataclass, ignoring unknown keys so older/newer JSON still loads."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


class _JSON:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return _from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Document(_JSON):
    """One source file of the corpus; ``source`` is its path relative to the corpus folder."""

    source: str
    text: str  # the file's own text for .txt/.md; the extracted text for HTML/PDF (stored with the index)
    title: str = ""
    url: str = ""  # where a reader opens it (front matter ``url:`` or ``corpus.base_url`` + path); may be empty
    format: str = ""  # "txt", "md", "html", "pdf"
    pages: tuple[int, ...] = ()  # PDF: the offset where each page starts in ``text``

    def page_at(self, offset: int) -> int:
        """1-based page number of a character offset (0 for documents without pages)."""
        if not self.pages:
            return 0
        import bisect

        return max(1, bisect.bisect_right(list(self.pages), offset))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        data = dict(data)
        data["pages"] = tuple(data.get("pages", ()))
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Span(_JSON):
    """An exact character range of a source document."""

    source: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk(_JSON):
    """A retrievable unit: a paragraph or part of one, with the section heading above it."""

    id: int
    source: str
    start: int
    end: int
    text: str
    heading: str = ""
    n_tokens: int = 0
    title: str = ""  # the document's title: embedded and BM25-indexed with the text
    page: int = 0  # PDF page the chunk starts on (1-based), else 0
    code: bool = False  # a code block's lines (a fenced block, <pre>): they seldom say why or what a thing is for


@dataclass(frozen=True)
class Passage(_JSON):
    """A chunk as retrieved for one question, with its score and rank (1-based)."""

    chunk_id: int
    source: str
    start: int
    end: int
    text: str
    heading: str
    score: float
    rank: int
    title: str = ""
    page: int = 0
    code: bool = False

    @classmethod
    def from_chunk(cls, chunk: Chunk, score: float, rank: int) -> Passage:
        return cls(
            chunk.id, chunk.source, chunk.start, chunk.end, chunk.text, chunk.heading, float(score), rank,
            chunk.title, chunk.page, chunk.code,
        )


@dataclass(frozen=True)
class Citation(_JSON):
    """A sentence-level span that supports the answer; ``n`` is the marker shown as ``[n]``."""

    n: int
    source: str
    start: int
    end: int
    text: str
    heading: str = ""
    passage: int = 0  # rank of the passage the span lies in
    support: float = 0.0  # how strongly the span supports the answer sentence(s) citing it, 0..1
    title: str = ""  # the document's title; shown as ``title · heading``
    url: str = ""  # the document's URL, if known (the widget links to it with a text fragment)
    page: int = 0  # PDF page (1-based), else 0

    @property
    def label(self) -> str:
        """``document title · section heading`` (and the page for PDFs), as citations show it."""
        parts = [p for p in (self.title or self.source, self.heading) if p]
        label = " · ".join(dict.fromkeys(parts))
        return f"{label} (p. {self.page})" if self.page else label


@dataclass
class Timings(_JSON):
    rewrite_s: float = 0.0
    retrieve_s: float = 0.0
    ttft_s: float = 0.0
    total_s: float = 0.0


AbstainReason = Literal["", "not_in_article", "off_topic", "injection", "invalid"]


@dataclass
class Answer(_JSON):
    """What the CLI, UI, HTTP API and eval all consume."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    abstained: bool = False
    reason: AbstainReason = ""
    standalone_question: str = ""  # the follow-up rewritten with the chat history, when there was one
    grounded: bool = True  # every claim sentence of ``answer`` has a verified supporting span
    unsupported: list[str] = field(default_factory=list)  # answer sentences left without support
    generator: str = ""  # which path wrote the text: "lm", "extractive", "refusal"
    timings: Timings = field(default_factory=Timings)
    signals: dict[str, Any] = field(default_factory=dict)  # what the reader decided from (for evaluation)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["citations"] = [Citation.from_dict(c) for c in data.get("citations", [])]
        data["passages"] = [Passage.from_dict(p) for p in data.get("passages", [])]
        data["timings"] = Timings.from_dict(data.get("timings", {}))
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text as it streams; the stream ends with the full ``Answer``.

    ``replace``: the text shown so far is superseded by this one (the checked direct answer, or an
    abstention the judge decided after the extractive answer was shown).
    """

    text: str
    replace: bool = False


StreamEvent = TextDelta | Answer


@dataclass(frozen=True)
class Message(_JSON):
    """One chat turn, as in the OpenAI-style ``{role, content}`` history."""

    role: Literal["user", "assistant"]
    content: str
