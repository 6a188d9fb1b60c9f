"""Citations: map answer sentences and their ``[n]`` markers to exact sentence spans, and verify them.

A generated sentence is kept only if its numbers, names and content words are found in the
span it cites (or, failing that, in another retrieved sentence, which then becomes its citation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .chunk import split_sentences
from .schema import Citation, Passage, Span
from .text import NUMBER, content_terms, fuzzy_in, stems, term_weight

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_CLAUSE = re.compile(r",\s|[;:—–()]|\b(?:but|while|which|whereas)\b")  # "50,000" is not two clauses
MIN_SUPPORT = 0.6  # weighted share of a sentence's content words found in its span


@dataclass(frozen=True)
class Supported:
    """One answer sentence and the span that backs it (None when nothing does)."""

    text: str
    span: Span | None
    passage: Passage | None
    support: float


def strip_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def answer_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split generated text into sentences, each with the passage numbers it cites."""
    out = []
    for span in split_sentences(text):
        cited = [int(n) for group in MARKER.findall(span.text) for n in group.split(",")]
        clean = strip_markers(span.text)
        if clean:
            out.append((clean, cited))
    return out


def support(claim: str, span_text: str, question: str = "") -> float:
    """Weighted share of the claim's content words found in the span (question words count as given)."""
    terms = [t for t in content_terms(claim, drop_frame=False)]
    if not terms:
        return 0.0
    vocab = stems(span_text) | set(content_terms(question, drop_frame=False))
    total = sum(term_weight(t) for t in terms)
    found = sum(term_weight(t) for t in terms if fuzzy_in(t, vocab))
    # Numbers and names are facts on their own: one the span (or question) lacks voids the claim.
    numbers_ok = all(n in span_text or n in question for n in NUMBER.findall(claim) if n[:1].isdigit())
    names = re.findall(r"(?<=\s)[A-Z][\w’'-]+", claim)
    names_ok = all(n in span_text or n in question for n in names)
    return found / total if numbers_ok and names_ok else 0.0


def _sentences_of(passage: Passage) -> list[Span]:
    return split_sentences(passage.text, passage.start, passage.source)


def verify(text: str, passages: list[Passage], question: str = "") -> list[Supported]:
    """Check every sentence of ``text`` against the passages it cites, re-attributing where needed."""
    out = []
    for sentence, cited in answer_sentences(text):
        best: tuple[float, Span | None, Passage | None] = (0.0, None, None)
        cited_passages = [passages[n - 1] for n in cited if 1 <= n <= len(passages)]
        # Prefer the cited passage; fall back to any retrieved passage (the model cited the wrong one).
        for pool in (cited_passages, passages):
            for passage in pool:
                for span in _sentences_of(passage):
                    score = support(sentence, span.text, question)
                    if score > best[0]:
                        best = (score, span, passage)
            if best[0] >= MIN_SUPPORT:
                break
        score, span, passage = best
        if score < MIN_SUPPORT:
            span, passage = None, None
        out.append(Supported(sentence, span, passage, round(score, 3)))
    return out


def novel_coverage(answer: str, evidence: str, question: str, by_clause: bool = False) -> float:
    """How much of what the evidence (or its best clause) adds beyond the question the answer carries."""
    asked = set(content_terms(question, drop_frame=False))
    said = stems(answer)
    best = 0.0
    for clause in _CLAUSE.split(evidence) if by_clause else [evidence]:
        novel = [t for t in content_terms(clause or "", drop_frame=False) if t not in asked]
        if not novel:
            continue
        total = sum(term_weight(t) for t in novel)
        best = max(best, sum(term_weight(t) for t in novel if fuzzy_in(t, said)) / total)
    return best


def citations_for(spans: list[tuple[Span, Passage, float]]) -> list[Citation]:
    """Number distinct spans 1..n in order of first use."""
    out: list[Citation] = []
    for span, passage, score in spans:
        if any(c.source == span.source and c.start == span.start for c in out):
            continue
        out.append(Citation(len(out) + 1, span.source, span.start, span.end, span.text, passage.heading, passage.rank, score))
    return out


def marker_for(citations: list[Citation], span: Span) -> int:
    for c in citations:
        if c.source == span.source and c.start == span.start and c.end == span.end:
            return c.n
    raise KeyError(span)

