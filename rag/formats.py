"""Parse source files into a ``Document`` and its structural blocks, with exact character offsets.

One parser per format, each built on a well-kept library (markdown-it-py, selectolax, pypdf).
``Document.text`` is the file's own text for ``.txt``/``.md``; for HTML and PDF it is the
extracted text, stored with the index so citations index into it. Every block satisfies
``document.text[block.start:block.end] == block text`` and ``kind`` says how to split it:
paragraphs and list items into sentences, code and tables into lines.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import CorpusError
from .schema import Document

log = logging.getLogger(__name__)

BlockKind = Literal["heading", "paragraph", "item", "code", "table"]
SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 50_000_000  # a bigger "document" is almost certainly not one: say so instead of stalling


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    kind: BlockKind
    level: int = 0  # heading level, 1 = top


@dataclass
class Parsed:
    document: Document
    blocks: list[Block]


_ACRONYMS = {"usa", "uk", "eu", "un", "ai", "faq", "api", "cli", "ui", "html", "pdf", "sql"}


def readable_name(path: str) -> str:
    """``deployment_guide-v2.md`` -> ``Deployment Guide V2``."""
    words = re.sub(r"[-_.]+", " ", Path(path).stem).split()
    return " ".join(w.upper() if w.lower() in _ACRONYMS else w[:1].upper() + w[1:] for w in words)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise CorpusError("the file is empty")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark, as Windows editors save "Unicode"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"the file starts as UTF-16 but is not ({exc.reason} at byte {exc.start})") from None
    if b"\x00" in data[:8192]:
        raise CorpusError("the file looks binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"the file is not UTF-8 ({exc.reason} at byte {exc.start})"
    # Windows and older Unix tools still write Windows-1252 / Latin-1 ("Caf\xe9"): read as such when it decodes to
    # text (letters, punctuation, line breaks), not to the control characters that binary junk gives.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise CorpusError(reason) from None
    if sum(not c.isprintable() and c not in "\r\n\t\f" for c in text) > 0.001 * len(text):
        raise CorpusError(reason)
    log.info("Read a file that is not UTF-8 as Windows-1252 (%s)", reason)
    return text


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# --------------------------------------------------------------------------- plain text

# A line that opens a list item or a numbered clause: "- x", "• x", "3. x", "2.1 x", "(a) x", "(iv) x", "b) x".
ITEM_NUMBERING = r"\(?(?:\d{1,3}(?:\.\d{1,3})*|[a-zA-Z]|[ivxlcIVXLC]{1,6})[.)]"  # "3.", "2.1)", "(a)", "iv."
ITEM_START = re.compile(rf"[ \t]*(?:[-*•·◦▪]|{ITEM_NUMBERING})[ \t]+\S")
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,}|~{3,}|\*{3,}|_{3,})[ \t]*")
_NUMBERED_HEADING = re.compile(
    r"(?:(?:section|article|chapter|part|appendix|exhibit|schedule)\s+[\w.]+|\d{1,3}(?:\.\d{1,3})*\.?|[A-Z]\.)\s+"
    r"[A-Z][^.!?]{0,70}\.?",
    re.IGNORECASE,
)
_ITEM_NUMBER = re.compile(r"[ \t]*\(?(\d{1,3})[.)][ \t]")  # "2. ", "(3) ": a numbered item's number
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
# Web-page furniture that is not content ("Leave a Reply", "Share this:").
BOILERPLATE = re.compile(
    r"(leave a (reply|comment)|share this( article)?:?|related( posts| articles)?:?|comments?|"
    r"subscribe|advertisement|read more|click here.*|you may also like|tags?:.*|posted in.*)",
    re.IGNORECASE,
)


def _lines(text: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) of every line of ``text`` without its line break, shifted by ``base``."""
    out = []
    for m in _LINE.finditer(text):
        if m.start() == len(text) and m.start() == m.end():
            break
        line = m.group().rstrip("\r\n")
        out.append((base + m.start(), base + m.start() + len(line)))
    return out


# Words no title or sentence ends on: a line that ends on one is cut by the wrapping.
_LINE_CONTINUES = frozenset("a an the and or but nor of to in on at by for from with into onto than that as".split())


# What a title line never holds: an address, a shell's or a program's punctuation, a command's option ("frob -v
# file"), a "label: text" line (an FAQ's "A:  frob -d f | tar xf -", "flags: must be zero", "Usage: frob FILE").
# (An option or "name=value" alone may be a term that heads its description in a manual.)
_NOT_TITLE = re.compile(r"://|\bwww\.|@\w|[|<>{}`$]|#!|~/|^\S+:\s|\s--?[a-z]")


def _is_text_heading(line: str, next_para: str | None, margin: int = 0, width: int = 0) -> bool:
    """A short title line standing alone: "Definitions", "1. Scope.", "TERMS AND CONDITIONS"; not a command, an
    address or a label line, nor a line set in deeper than the text's margin (an example: "  frob --all") unless
    it is centred in the text's width (a licence's "Preamble")."""
    s = line.strip()
    words = s.split()
    if not s or len(s) > 90 or len(words) > 12 or ITEM_START.match(s) and not _NUMBERED_HEADING.fullmatch(s):
        return False
    if _NUMBERED_HEADING.fullmatch(s) and len(words) <= 8:
        return True
    if s.isupper() and any(c.isalpha() for c in s):
        return True
    if _NOT_TITLE.search(s):
        return False
    indent = _indent(line)
    if indent > margin and not (indent >= 8 and abs(indent - (width - len(s)) / 2) <= 6):
        return False
    if re.search(r"[.!?;,:…\"”)]$", s) or words[-1] in _LINE_CONTINUES:  # ("Appendix A" is a title)
        return False
    return next_para is not None and len(next_para.strip()) > len(s)


def _indent(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())


def _wrap_width(text: str, lines: list[tuple[int, int]]) -> int:
    """The width a hard-wrapped text was wrapped at (90th percentile of line lengths); large when unwrapped."""
    lengths = sorted(e - s for s, e in lines if text[s:e].strip())
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


# A manual's navigation bar as a printed page or an Info file carries it: "Next: Examples, Previous: The Format String,
# Up: Top [Contents][Index]", "File: frob.info,  Node: Usage,  Next: Limits,  Prev: Top,  Up: Top".
_NAV_LINE = re.compile(r"\s*(?:File:\s*\S+,\s*)?(?:Node:\s*[^,]+,\s*)?(?:(?:Next|Previous|Prev|Up)\s*:\s*[^,\[]+?"
                       r"(?:,\s*|\s+(?=\[)|\s*$)){2,}(?:\[(?:Contents|Index)\]\s*)*"
                       r"|\s*(?:(?:Next|Previous|Prev|Up)\s*:\s*[^,\[]+?\s*)?(?:\[(?:Contents|Index)\]\s*)+")


def _paragraph_runs(text: str, lines: list[tuple[int, int]], laid_out: bool = False) -> list[list[tuple[int, int]]]:
    """Group lines into paragraphs: blank lines always break; in a hard-wrapped text wrapped lines join,
    and a short line that ends a sentence, or a line opening an item, also breaks."""
    width = _wrap_width(text, lines)
    lengths = [e - s for s, e in lines if text[s:e].strip()]
    # Hard-wrapped: lines stop near one width (40-120 columns) and hardly any line runs past 120. A PDF's text is
    # always laid out in lines (a small font on a wide page runs them to 170 characters and more).
    wrapped = laid_out or 40 <= width <= 120 and sum(n > 120 for n in lengths) <= 0.05 * len(lengths)
    runs: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for start, end in lines:
        line = text[start:end]
        if not line.strip() or _NAV_LINE.fullmatch(line):  # (a navigation bar is layout: it joins nothing)
            if current:
                runs.append(current)
            current = []
            continue
        if current:
            prev = text[current[-1][0] : current[-1][1]].rstrip()
            short = len(prev.strip()) < 0.6 * width
            # A short line ends a paragraph when it ends a sentence, or stands alone as a first line (a title).
            # (A hanging indent continues it: '1.12. "Term"' or '-i, --in-place' over an indented definition.)
            first_indent = _indent(text[current[-1][0] : current[-1][1]])
            hanging = _is_term(text, current[-1]) and _indent(line) > first_indent  # (not a centred title)
            ends_short = short and (prev.endswith((".", "!", "?", ":", ";")) or len(current) == 1 and not hanging)
            # A line that stops on "at", "the", "and" goes on in the next, however narrow the wrapping.
            goes_on = prev.split()[-1] in _LINE_CONTINUES and not ITEM_START.match(line)
            breaks = not wrapped or ends_short or ITEM_START.match(line) or _UNDERLINE.fullmatch(line) and len(current) > 1
            if breaks and not goes_on:
                runs.append(current)
                current = []
        current.append((start, end))
    if current:
        runs.append(current)
    return runs


def _is_term(text: str, line: tuple[int, int]) -> bool:
    """A definition-list term: an option ("-i, --in-place"), a numbered or quoted term, at the left margin."""
    first = text[line[0] : line[1]]
    if first.strip().endswith(".") and _NUMBERED_HEADING.fullmatch(first.strip()):
        return False  # "1. Definitions." heads a section
    return _indent(first) <= 8 and bool(ITEM_START.match(first) or first.lstrip().startswith(("-", '"', "“")))


_OPTION_LINE = re.compile(r"\s*--?[A-Za-z][\w-]*(?:[=\s,<\[]\S*)*\s*$")  # "--x=<4..1000> [default: 72]", "-h --help"


def _definitions(text: str, runs: list[list[tuple[int, int]]], laid_out: bool = False) -> list[list[tuple[int, int]]]:
    """A one-line term over a more indented run (a manual's option list) joins that run: one unit, not a heading.
    A PDF's text keeps no indentation: there an option's line joins the description under it."""
    out: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(runs):
        run = runs[i]
        first = text[run[0][0] : run[0][1]]
        nxt = text[runs[i + 1][0][0] : runs[i + 1][0][1]] if i + 1 < len(runs) else ""
        if (len(run) == 1 and nxt and _is_term(text, run[0])
                and (_indent(nxt) > _indent(first) or laid_out and _OPTION_LINE.fullmatch(first) and nxt.lstrip()[:1].isupper())):
            out.append(run + runs[i + 1])
            i += 2
            continue
        out.append(run)
        i += 1
    return out


def parse_text(source: str, text: str, *, title: str = "", url: str = "", fmt: str = "txt",
               pages: tuple[int, ...] = ()) -> Parsed:
    """Hard-wrapped or not: blank lines break paragraphs; wrapped lines join; items and clauses are units."""
    lines = _lines(text)
    paras = _definitions(text, _paragraph_runs(text, lines, laid_out=fmt == "pdf"), laid_out=fmt == "pdf")
    indents = Counter(_indent(text[s:e]) for s, e in lines if text[s:e].strip())
    margin = indents.most_common(1)[0][0] if indents else 0  # where the body's lines start
    width = _wrap_width(text, lines)
    blocks: list[Block] = []
    after_item = 0  # the number of the numbered item on the line just above (0: none)
    for i, para in enumerate(paras):
        number, after_item = after_item, 0
        # Setext-style underlines ("Title\n=====") mark the line above as a heading.
        if len(para) >= 2 and _UNDERLINE.fullmatch(text[para[1][0] : para[1][1]]):
            blocks.append(Block(*_trim(text, *para[0]), "heading", 1 if "=" in text[para[1][0] : para[1][1]] else 2))
            para = para[2:]
            if not para:
                continue
        if _UNDERLINE.fullmatch(text[para[0][0] : para[0][1]]):
            para = para[1:]  # a rule line on its own
            if not para:
                continue
        if len(para) == 1:
            nxt = text[paras[i + 1][0][0] : paras[i + 1][-1][1]] if i + 1 < len(paras) else None
            raw = text[para[0][0] : para[0][1]]
            line = raw.strip()
            opening_title = not blocks and len(line.split()) <= 10 and not re.search(r"[.!?;,:]$", line)
            # "2. Tag the release." on the line after item 1 is the list's next item, not a numbered title ("4. Limits."
            # after a blank line may be one).
            in_list = number and (m := _ITEM_NUMBER.match(line)) and int(m.group(1)) == number + 1
            if not in_list and (opening_title or _is_text_heading(raw, nxt, margin, width)):
                blocks.append(Block(*_trim(text, *para[0]), "heading", 2))
                continue
        kind: BlockKind = "item" if ITEM_START.match(text[para[0][0] : para[0][1]]) else "paragraph"
        s, e = _trim(text, para[0][0], para[-1][1])
        if e > s and not BOILERPLATE.fullmatch(text[s:e]):
            blocks.append(Block(s, e, kind))
            adjacent = i + 1 < len(paras) and text.count("\n", para[-1][1], paras[i + 1][0][0]) == 1  # no blank line
            if kind == "item" and adjacent and (m := _ITEM_NUMBER.match(text[s:e])):
                after_item = int(m.group(1))
    if not title and blocks and blocks[0].kind == "heading":
        words = text[blocks[0].start : blocks[0].end].strip("#= \t").split()
        if len(words) >= 3 and words[0] == words[-1]:  # a running page header: "NAME(1)  Section  NAME(1)"
            words = words[:-1]
        title = " ".join(words)
    doc = Document(source, text, title or readable_name(source), url, fmt, pages)
    return Parsed(doc, blocks)


# --------------------------------------------------------------------------- Markdown

_MD_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?(?:\[[ xX]\][ \t]+)?")
_TABLE_RULE = re.compile(r"[\s|:\-]+")


def _front_matter(content: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_markdown(source: str, text: str) -> Parsed:
    """ATX and setext headings, paragraphs, list items, code blocks, tables and YAML front matter."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark").enable("table").use(front_matter_plugin)
    tokens = md.parse(text)
    lines = _lines(text)
    meta: dict[str, Any] = {}
    blocks: list[Block] = []
    first_heading = ""
    in_item = 0

    def span(first: int, last: int) -> tuple[int, int]:
        return lines[first][0], lines[min(last, len(lines)) - 1][1]

    for i, tok in enumerate(tokens):
        if tok.type == "front_matter":
            meta = _front_matter(tok.content)
        elif tok.type == "list_item_open":
            in_item += 1
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type == "heading_open" and tok.map:
            start, end = span(tok.map[0], tok.map[0] + 1)  # a setext heading's underline is not text
            m = re.match(r"[ \t]*#{1,6}[ \t]*", text[start:end])
            start += m.end() if m else 0
            end = start + len(re.sub(r"[ \t]+#+[ \t]*$|[ \t]*$", "", text[start:end]))
            start, end = _trim(text, start, end)
            if end > start:
                blocks.append(Block(start, end, "heading", int(tok.tag[1])))
                if tok.tag == "h1":
                    first_heading = first_heading or tokens[i + 1].content
        elif tok.type == "paragraph_open" and tok.map:
            start, end = span(*tok.map)
            m = _MD_MARKER.match(text, start, end)
            start, end = _trim(text, m.end() if m else start, end)
            if end > start:
                blocks.append(Block(start, end, "item" if in_item else "paragraph"))
        elif tok.type == "fence" and tok.map and tok.info.startswith("{"):
            blocks.extend(_role_fence(text, lines, *tok.map))
        elif tok.type in ("fence", "code_block") and tok.map:
            first, last = tok.map
            if tok.type == "fence":
                first, last = first + 1, last - 1  # drop the ``` lines
            if last > first:
                start, end = _trim(text, *span(first, last))
                if end > start:
                    blocks.append(Block(start, end, "code"))
        elif tok.type == "table_open" and tok.map:
            start, end = _trim(text, *span(*tok.map))
            blocks.append(Block(start, end, "table"))
    # The top-level heading names the page; a lower first heading is a section, and the file name says more.
    title = str(meta.get("title") or first_heading or readable_name(source)).strip()
    url = str(meta.get("url") or "").strip()
    return Parsed(Document(source, text, title, url, "md"), blocks)


_ROLE_FENCE = re.compile(r"[ \t]*(?:`{3,}|~{3,})\{(?P<name>[^}]*)\}[ \t]*(?P<arg>.*)")
_FENCE_OPTION = re.compile(r"[ \t]*:[\w-]+:")


def _role_fence(text: str, lines: list[tuple[int, int]], first: int, last: int) -> list[Block]:
    """A MyST fence with a role in braces (```{note}, ```{versionchanged} 20.0): its body is Markdown, parsed as such, not code (unless
    it is one for code). Its argument ("20.0") opens the first paragraph, so "since 20.0" stays with what
    changed; ":class:" option lines are skipped."""
    opening = _ROLE_FENCE.match(text, lines[first][0], lines[first][1])
    body = lines[first + 1 : max(first + 1, last - 1)]
    while body and _FENCE_OPTION.match(text, *body[0]):
        body.pop(0)
    if not body:
        return []
    offset, stop = body[0][0], body[-1][1]
    shown = [text[s:e] for s, e in body if text[s:e].strip()]
    if (opening and opening.group("name").strip().lower() in _CODE_FENCES) or all(_PROMPT.match(x) for x in shown):
        start, end = _trim(text, offset, stop)
        return [Block(start, end, "code")] if end > start else []
    blocks = [Block(b.start + offset, b.end + offset, b.kind, b.level)
              for b in parse_markdown("", text[offset:stop]).blocks]
    if opening and opening.group("arg").strip() and blocks and blocks[0].kind in ("paragraph", "item"):
        blocks[0] = Block(opening.start("name") - 1, blocks[0].end, blocks[0].kind)  # from its "{"
    return blocks


_PROMPT = re.compile(r"[ \t]*(?:\$|>>>|\.\.\.|#|>|C:\\>|PS>)[ \t]")  # a shell's or a REPL's prompt: commands
_CODE_FENCES = ("code-block", "code", "sourcecode", "code-cell", "literalinclude", "prompt")


# --------------------------------------------------------------------------- HTML

_SKIP_TAGS = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "svg", "button",
              "select", "iframe", "head", "title"}
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "dt", "dd", "blockquote", "pre", "table", "tr",
               "thead", "tbody", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption", "br",
               "hr", "body", "html", "details", "summary", "address", "center", "fieldset"}
_CELL_TAGS = {"td", "th"}


class _HtmlText:
    """Collects visible text block by block; each block's whitespace is collapsed to single spaces."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.kind: BlockKind = "paragraph"
        self.level = 0
        self.marker = ""  # a list item's "• " or "2. ": shown before its text, not part of the block

    def flush(self) -> None:
        words = " ".join("".join(self.buffer).split())
        self.buffer = []
        if not words:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if self.marker:
            self.parts.append(self.marker)
            self.length += len(self.marker)
            self.marker = ""  # (the rest of an item, after a nested list, is no new item)
        self.blocks.append(Block(self.length, self.length + len(words), self.kind, self.level))
        self.parts.append(words)
        self.length += len(words)

    def open_block(self, kind: BlockKind, level: int = 0, marker: str = "") -> None:
        self.flush()
        self.kind, self.level, self.marker = kind, level, marker


# Page furniture that generators mark by role or class: navigation bars, sidebars, permalink pilcrows.
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_CHROME_CLASS = re.compile(
    r"\b(?:nav|navbar|nav-panel|navigation|header|footer|sidebar|sphinxsidebar\w*|related|breadcrumbs?|toc|"
    r"headerlink|copiable-anchor|skip-link|mw-editsection|mw-jump-link|catlinks|printfooter|noprint)\b"
)
# A footnote reference: "[1]", "[a]", "[note 3]" in a superscript, or a bare mark that links within the page ("¹" of
# <sup><a href="#fn1">1</a></sup>). Wikis put them after a sentence's full stop ("... floor 3.[1] The ..."), where they
# would glue two sentences together and look like the answer's own citation markers. (A bare number with no link
# stays: "2<sup>31</sup>" is a power.)
_FOOTNOTE_MARK = re.compile(r"\s*\[\s*(?:\d{1,3}|[a-z]{1,2}|[ivx]{1,4}|note\s*\d{1,3}|[*†‡])\s*\]\s*", re.I)
_BARE_MARK = re.compile(r"\s*(?:\d{1,3}|[a-z]|[*†‡])\s*", re.I)


def _is_footnote_ref(node: Any) -> bool:
    if node.tag != "sup":
        return False
    text = node.text(deep=True, separator="")
    if _FOOTNOTE_MARK.fullmatch(text):
        return True
    link = node.css_first("a[href^='#']")
    return link is not None and bool(_BARE_MARK.fullmatch(text))


def _is_chrome(node: Any) -> bool:
    attrs = node.attributes
    if (attrs.get("role") or "") in _CHROME_ROLES or (attrs.get("aria-hidden") or "") == "true":
        return True
    # (A link of class "header" is a heading's own text in mdBook's pages: <h2><a class="header" ...>Data Types</a>.)
    return any(m.group() != "header" or node.tag != "a" for m in _CHROME_CLASS.finditer(attrs.get("class") or ""))


def _ordinal(ol: Any, n: int) -> int:
    """The number an ordered list shows for its ``n``-th item (``<ol start="5">`` counts on from 5)."""
    try:
        return int(ol.attributes.get("start") or 1) + n - 1
    except ValueError:
        return n


def _walk(node: Any, out: _HtmlText, pre: bool = False) -> None:
    items = 0
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            out.buffer.append(child.text_content or "")
            continue
        if tag in _SKIP_TAGS or tag.startswith("-") or _is_chrome(child) or _is_footnote_ref(child):
            continue
        if tag in _CELL_TAGS:
            out.buffer.append(" | " if out.buffer else "")
            _walk(child, out, pre)
            continue
        if tag not in _BLOCK_TAGS:
            if tag == "sup" and out.buffer and out.buffer[-1][-1:].isalnum():
                out.buffer.append("^")  # "2<sup>31</sup>" is 2^31, not 231
            _walk(child, out, pre)
            continue
        if tag[0] == "h" and tag[1:].isdigit():
            out.open_block("heading", int(tag[1:]))
        elif tag == "pre":
            # Code keeps its line structure: each line becomes its own block.
            out.open_block("code")
            for line in (child.text(deep=True, separator="") or "").splitlines():
                out.buffer.append(line)
                out.flush()
            out.open_block("paragraph")
            continue
        elif tag == "li":
            # A list item keeps its bullet or number in the text, as Markdown and plain text do: the source panel
            # shows a list, and the reader knows an item by the mark at its line's start.
            items += 1
            out.open_block("item", marker=f"{_ordinal(node, items)}. " if node.tag == "ol" else "• ")
        elif tag in ("dt", "dd"):
            out.open_block("item")
        elif tag == "tr":
            out.open_block("table")
        elif out.marker and not "".join(out.buffer).strip():
            pass  # "<li><p>text</p></li>": the item's first paragraph carries its mark
        else:
            out.open_block("paragraph")
        _walk(child, out, pre)
        out.open_block("paragraph")


def parse_html(source: str, raw: str) -> Parsed:
    """Title, headings, paragraphs, list items and table rows of a page; no nav, script or style."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(raw)
    title_node = tree.css_first("title")
    title = " ".join((title_node.text() if title_node else "").split())
    root = tree.css_first("main") or tree.css_first("article") or tree.body or tree.root
    out = _HtmlText()
    if root is not None:
        _walk(root, out)
    out.flush()
    text = "".join(out.parts)
    if not text.strip():
        raise CorpusError("the page has no visible text")
    if not title:
        title = next((text[b.start : b.end] for b in out.blocks if b.kind == "heading"), "") or readable_name(source)
    url = ""
    for meta in tree.css('link[rel="canonical"]'):
        url = (meta.attributes.get("href") or "").strip()
    return Parsed(Document(source, text, title, url, "html"), out.blocks)


# --------------------------------------------------------------------------- PDF


_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[\divxlc]+(?:\s*(?:/|of)\s*\d+)?\s*$", re.IGNORECASE)


def _strip_running_lines(pages: list[str], edge: int = 2) -> list[str]:
    """Drop running headers and footers (a line at a page's top or bottom on most pages, digits aside) and
    bare page numbers: they are layout, and they would cut sentences and pose as section headings."""
    if len(pages) < 3:
        return pages

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split())).lower()

    counts: dict[str, int] = {}
    for page in pages:
        lines = [ln for ln in page.splitlines() if ln.strip()]
        for k in {key(ln) for ln in lines[:edge] + lines[-edge:]}:
            counts[k] = counts.get(k, 0) + 1
    # A chapter's running head ("Chapter 2: Parsing 14") repeats on that chapter's pages only.
    running = {k for k, n in counts.items() if n >= max(3, len(pages) // 10)}
    out = []
    for number, page in enumerate(pages):
        lines = page.splitlines()
        for step in (1, -1):  # from the top, then from the bottom
            dropped = 0
            while lines and dropped < edge + 1:
                i = 0 if step == 1 else -1
                if not lines[i].strip():
                    lines.pop(i)
                    continue
                # The first page keeps its running head: there it is the title ("User Manual"). Not its foot: a
                # browser's "Print to PDF" puts the date, the title and the page's address at the foot of every page.
                if ((number or step == -1) and key(lines[i]) in running) or _PAGE_NUMBER.match(lines[i]):
                    lines.pop(i)
                    dropped += 1
                    continue
                break
        out.append("\n".join(lines))
    return out


_HYPHENATED = re.compile(r"\b([A-Za-z]+)-\n([A-Za-z]+)\b[ \t]?")
_BROKEN_NAME = re.compile(r"(\w_)\n(\w)")


def _dehyphenate(text: str) -> str:
    """Rejoin words a typesetter hyphenated at a line end ("manip-\nulation"),
    unless the halves are words of their own ("well-\nknown" stays); and identifiers broken after "_"."""
    from wordfreq import zipf_frequency

    def join(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        word = left + right
        same_case = (left.islower() and right.islower()) or (left.isupper() and right.isupper())
        # Two words of their own ("well", "known") stay hyphenated unless joined they are a common word ("some-thing").
        compound = zipf_frequency(left.lower(), "en") >= 3 and zipf_frequency(right.lower(), "en") >= 3
        if same_case and (not compound or zipf_frequency(word.lower(), "en") >= 3.5):
            return word + "\n"
        return m.group(0)

    return _BROKEN_NAME.sub(r"\1\2", _HYPHENATED.sub(join, text))


# Typographic ligatures ("ﬁle", "proﬁler") as some PDF producers write them: no one types them, so neither the
# question's words nor the speller's would ever match the word. The extracted text is ours, stored with the index.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})


def parse_pdf(source: str, data: bytes) -> Parsed:
    """Text of every page (pypdf), pages joined by a blank line; page starts recorded for citations."""
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise CorpusError("the PDF is encrypted")
        texts = [(page.extract_text() or "").replace("\x00", "").translate(_LIGATURES) for page in reader.pages]
        meta_title = str((reader.metadata or {}).get("/Title") or "").strip()
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorpusError(f"the PDF cannot be read ({exc})") from None
    texts = [_dehyphenate(t) for t in _strip_running_lines(texts)]
    pages: list[int] = []
    parts: list[str] = []
    length = 0
    for page_text in texts:
        if parts:
            # A sentence that runs over the page break stays one paragraph.
            runs_on = not re.search(r"[.:!?)\]]\s*$", parts[-1]) and re.match(r"\s*[a-z(]", page_text)
            parts.append("\n" if runs_on else "\n\n")
            length += len(parts[-1])
        pages.append(length)
        parts.append(page_text)
        length += len(page_text)
    text = "".join(parts)
    if not text.strip():
        raise CorpusError("the PDF has no extractable text (a scan? run OCR first)")
    return parse_text(source, text, title=meta_title, fmt="pdf", pages=tuple(pages))


# --------------------------------------------------------------------------- dispatch

PARSERS: dict[str, Callable[[str, bytes], Parsed]] = {
    ".txt": lambda source, data: parse_text(source, _decode(data)),
    ".md": lambda source, data: parse_markdown(source, _decode(data)),
    ".markdown": lambda source, data: parse_markdown(source, _decode(data)),
    ".html": lambda source, data: parse_html(source, _decode(data)),
    ".htm": lambda source, data: parse_html(source, _decode(data)),
    ".pdf": parse_pdf,
}


def parse_file(source: str, data: bytes) -> Parsed:
    """Parse one file's bytes by its suffix; raises ``CorpusError`` saying why it cannot be used."""
    suffix = Path(source).suffix.lower()
    if suffix not in PARSERS:
        raise CorpusError(f"unsupported file type {suffix!r} (supported: {', '.join(SUFFIXES)})")
    if len(data) > MAX_FILE_BYTES:
        raise CorpusError(f"the file is {len(data) / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    return PARSERS[suffix](source, data)


def iter_units(doc: Document, block: Block) -> Iterator[tuple[int, int]]:
    """The citable units of a block: sentences of prose, lines of code and tables (separator rows skipped)."""
    from .chunk import split_sentences

    if block.kind in ("code", "table"):
        for start, end in _lines(doc.text[block.start : block.end], block.start):
            s, e = _trim(doc.text, start, end)
            if e > s and not (block.kind == "table" and _TABLE_RULE.fullmatch(doc.text[s:e])):
                yield s, e
        return
    for span in split_sentences(doc.text[block.start : block.end], block.start):
        yield span.start, span.end
