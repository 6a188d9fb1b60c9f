"""Lists in a document's text: which citable units open a list item, and the items of the list around one.

A question that asks for several things ("which kinds of ...", "what are the steps ...") is answered by a whole
list, not by its best item. Every format keeps an item's mark in the document text ("* Digest" in Markdown, "2. Tag
the release" in plain text, "• Digest" in text extracted from HTML's ``<li>``), so a unit is known for an item by the
mark at its line's start, whatever format it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .formats import ITEM_NUMBERING, ITEM_START
from .schema import Span

# A list item's mark and the space after it: "- ", "* ", "• ", "2. ", "(b) ", "iv) ".
# (Markdown's "+" and HTML's "‣" bullets besides those plain text's items open with.)
MARK = re.compile(rf"[ \t]*(?:[-*+•·◦▪‣]|{ITEM_NUMBERING})[ \t]+")
_NUMBERED = re.compile(r"[ \t]*\(?\d")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_GAP = re.compile(rf"(?:\s+|{MARK.pattern})*")
# A list may start one sentence after the one that introduces it: "The following three modes are supported. Each
# can be combined with the others." then the items.
LEAD_IN_GAP = 1
# A longer run is no answer to quote whole: a manual's option list, a licence's forty clauses.
MAX_ITEMS = 12
MAX_CHARS = 1500


@dataclass(frozen=True)
class ListRun:
    """A list as cited: the lead-in sentence before it (when it ends in ":" or is the sentence asked about) and the
    first unit of each item, as sentence ids."""

    lead_in: int | None
    items: list[int]
    numbered: bool


def _line_before(text: str, span: Span) -> str:
    return text[text.rfind("\n", 0, span.start) + 1 : span.start]


def opens_item(text: str, span: Span) -> bool:
    """Whether ``span`` is the first unit of a list item: its mark stands before it on its line (Markdown, HTML),
    or opens it (plain text keeps the mark inside the unit)."""
    before = _line_before(text, span)
    return bool(MARK.fullmatch(before)) or (not before.strip() and bool(ITEM_START.match(span.text)))


def same_paragraph(text: str, previous: Span, span: Span) -> bool:
    """Whether no blank line stands between two units (the next sentence of a list item, of a wrapped one too)."""
    return not _BLANK_LINE.search(text, previous.end, span.start)


def adjacent(text: str, previous: Span, span: Span) -> bool:
    """Whether nothing but space and list marks stands between two units (a heading between them is no list's)."""
    return previous.source == span.source and bool(_GAP.fullmatch(text, previous.end, span.start))


def item_text(unit: str) -> str:
    """An item's first unit as an answer shows it: without the mark plain text keeps inside it."""
    m = MARK.match(unit)
    return unit[m.end() :] if m else unit


def run_around(sentences: Sequence[Span], text: str, sid: int) -> ListRun | None:
    """The list unit ``sid`` belongs to, or introduces (a list starts right after its paragraph, at most
    ``LEAD_IN_GAP`` units on); None when there is none, or it is too long to quote."""

    def same(j: int) -> bool:
        return 0 <= j < len(sentences) and sentences[j].source == sentences[sid].source

    def item(j: int) -> bool:
        return same(j) and opens_item(text, sentences[j])

    def joined(j: int) -> bool:  # unit j follows unit j - 1 with nothing between
        return same(j) and same(j - 1) and adjacent(text, sentences[j - 1], sentences[j])

    def goes_on(j: int) -> bool:  # unit j is the next sentence of the unit before it
        return joined(j) and same_paragraph(text, sentences[j - 1], sentences[j])

    def item_of(j: int) -> int | None:  # the unit that opens the item j is in
        while not item(j):
            if not goes_on(j):
                return None
            j -= 1
        return j

    lead_in: int | None = None
    first = item_of(sid)
    if first is None:
        after = next((j for j in range(sid + 1, sid + 2 + LEAD_IN_GAP) if item(j)), None)
        if after is None or not joined(after) or not all(goes_on(j) for j in range(sid + 1, after)):
            return None
        first, lead_in = after, sid
    else:
        while joined(first) and (before := item_of(first - 1)) is not None:
            first = before  # back to the list's first item
        if joined(first) and sentences[first - 1].text.rstrip().endswith(":"):
            lead_in = first - 1
    items = [first]
    j = first + 1
    while joined(j) and (item(j) or goes_on(j)):
        if item(j):
            items.append(j)
        j += 1
    if len(items) < 2 or len(items) > MAX_ITEMS or sum(len(sentences[i].text) for i in items) > MAX_CHARS:
        return None
    numbered = bool(_NUMBERED.match(_line_before(text, sentences[first]) or sentences[first].text))
    return ListRun(lead_in, items, numbered)
