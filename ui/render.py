"""Answers and documents as safe HTML/markdown for the chat UI and the widget (no gradio import).

Everything that comes from a document or a model is escaped here, because documents may contain
``<script>`` and model text may contain markdown that would otherwise fetch images or fake links.
Citation markers ``[n]`` become links to the ids of highlighted spans (or of quoted citations, in the widget);
:data:`CITE_JS` scrolls to them, switching the source panel to the cited document. A citation whose document
has a URL links to that page with a text fragment, so the browser opens it scrolled to the quoted sentence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from rag.schema import Answer, Citation, Document

MARKER = re.compile(r"\[(\d{1,3})\]")
# Characters that markdown (as rendered by the chatbot) would interpret; escaped with a backslash.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#~])")
DEFAULT_CORPUS = "the documents"  # what the UI calls the corpus when config.corpus.name is empty
# Text fragments: a short quote is matched whole; a longer one by its first and last words (textStart,textEnd),
# which survives what the rendered page changes in between (links, emphasis, line breaks).
FRAGMENT_WORDS = 4
# Markdown a wiki renders away: [text](url) keeps its text; emphasis and code marks vanish.
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")


def escape_markdown(text: str) -> str:
    """HTML-escape, then backslash-escape markdown syntax so model text renders literally."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def anchor_id(prefix: str, turn: int, n: int) -> str:
    """DOM id of citation ``n`` of answer ``turn``: unique per answer so old markers never jump to new spans."""
    return f"{prefix}-{turn}-{n}"


def link_markers(text: str, citations: Sequence[Citation], prefix: str, turn: int) -> str:
    """Escape ``text`` and turn each known ``[n]`` into a link to its span; unknown markers stay plain text."""
    known = {c.n: c for c in citations}
    parts: list[str] = []
    pos = 0
    for match in MARKER.finditer(text):
        parts.append(escape_markdown(text[pos : match.start()]))
        n = int(match.group(1))
        if n in known:
            quote = html.escape(_shorten(known[n].text, 160), quote=True)
            parts.append(
                f'<a class="cite-marker cite-link" href="#{anchor_id(prefix, turn, n)}" title="{quote}">[{n}]</a>'
            )
        else:
            parts.append(escape_markdown(match.group(0)))
        pos = match.end()
    parts.append(escape_markdown(text[pos:]))
    return "".join(parts)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_answer(answer: Answer, turn: int, prefix: str = "src", corpus: str = DEFAULT_CORPUS) -> str:
    """The assistant message: linked answer text, or a distinct note when the documents do not answer."""
    body = link_markers(answer.answer, answer.citations, prefix, turn)
    if answer.abstained:
        label = {
            "off_topic": f"Outside {corpus}",
            "injection": "Request declined",
            "invalid": "Question not understood",
        }.get(answer.reason, f"Not in {corpus}")
        return f'<div class="abstained"><strong>ℹ️ {label}.</strong> {body}</div>'
    if not answer.grounded and answer.unsupported:
        body += '\n\n<span class="ungrounded">⚠️ Part of this answer is not backed by a quoted span.</span>'
    return body


def render_error(message: str) -> str:
    """A failure shown as a chat message instead of a traceback."""
    return f'<div class="chat-error"><strong>⚠️</strong> {escape_markdown(message)}</div>'


def text_fragment(text: str) -> str:
    """``:~:text=`` directive that finds ``text`` in a rendered page (WICG text fragments; ``-``, ``,`` and ``&``
    are syntax there, so every character but letters, digits and ``_.~`` is percent-encoded)."""
    words = _MD_MARKS.sub("", _MD_LINK.sub(r"\1", text)).split()
    if not words:
        return ""

    def encode(part: list[str]) -> str:
        return quote(" ".join(part), safe="").replace("-", "%2D")

    if len(words) <= 2 * FRAGMENT_WORDS:
        return ":~:text=" + encode(words)
    return f":~:text={encode(words[:FRAGMENT_WORDS])},{encode(words[-FRAGMENT_WORDS:])}"


def source_url(url: str, quote_text: str = "") -> str:
    """The document's web address (http/https only), with a text fragment for ``quote_text``; "" when none."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return ""
    directive = text_fragment(quote_text) if quote_text else ""
    if not directive:
        return url
    return url + directive if "#" in url else f"{url}#{directive}"  # the directive follows any existing fragment


def _external_link(url: str, label: str, css: str) -> str:
    return f'<a class="{css}" href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">{label}</a>'


def render_citations(answer: Answer | None, turn: int, prefix: str = "src", quote_ids: str | None = None) -> str:
    """The numbered list of citations: label (document · section (page)) and quoted text.

    Each marker links to the highlighted span in the source panel (``prefix``); with ``quote_ids`` set
    (the widget, which has no source panel) the entries themselves carry the ids the markers point to.
    A label whose document has a URL opens that page, scrolled to the quote, in a new tab.
    """
    if answer is None or not answer.citations:
        return '<div class="citations empty">Citations of the selected answer appear here.</div>'
    items = []
    for c in answer.citations:
        item_id = f' id="{anchor_id(quote_ids, turn, c.n)}"' if quote_ids else ""
        marker = (
            f'<span class="cite-n">[{c.n}]</span>'
            if quote_ids
            else f'<a class="cite-n cite-link" href="#{anchor_id(prefix, turn, c.n)}">[{c.n}]</a>'
        )
        label, url = html.escape(c.label), source_url(c.url, c.text)
        if url:
            label = _external_link(url, f"{label} ↗", "cite-heading cite-source")
        else:
            label = f'<span class="cite-heading">{label}</span>'
        items.append(
            f'<li class="citation"{item_id}>{marker} {label}'
            f'<blockquote class="cite-quote">{html.escape(c.text)}</blockquote></li>'
        )
    return f'<ol class="citations">{"".join(items)}</ol>'


def heading_ranges(document: Document) -> list[tuple[int, int]]:
    """Where the section headings are (the blocks the chunker takes as headings), to show them as headings."""
    from rag.chunk import parse_document

    return [(b.start, b.end) for b in parse_document(document).blocks if b.kind == "heading"]


def _segments(
    length: int, citations: Iterable[Citation], extra_bounds: Iterable[int] = ()
) -> list[tuple[int, int, list[Citation]]]:
    """Split ``[0, length)`` at every citation boundary; each piece lists the citations covering it."""
    cites = [c for c in citations if 0 <= c.start < c.end <= length]
    extra = {b for b in extra_bounds if 0 <= b <= length}
    bounds = sorted({0, length, *extra, *(c.start for c in cites), *(c.end for c in cites)})
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        covering = sorted((c for c in cites if c.start <= a and b <= c.end), key=lambda c: c.n)
        out.append((a, b, covering))
    return out


def render_document(
    document: Document, citations: Sequence[Citation], turn: int, prefix: str = "src", hidden: bool = False
) -> str:
    """One whole document with every cited span in a ``<mark>``; the first piece of each span carries its id.

    The header shows the title, linked to the document's page when it has a URL.
    """
    mine = [c for c in citations if c.source == document.source]
    headings = heading_ranges(document)
    seen: set[int] = set()
    parts = []
    for a, b, covering in _segments(len(document.text), mine, [x for h in headings for x in h]):
        text = html.escape(document.text[a:b])
        if not covering:
            is_heading = any(h0 <= a and b <= h1 for h0, h1 in headings)
            parts.append(f'<strong class="source-heading">{text}</strong>' if is_heading else text)
            continue
        ids = ""
        for c in covering:
            if c.n not in seen:  # overlapping spans: each id once, on the piece where its span starts
                seen.add(c.n)
                ids += f'<span class="anchor" id="{anchor_id(prefix, turn, c.n)}"></span>'
        label = ",".join(str(c.n) for c in covering)
        parts.append(f'{ids}<mark class="cite-span" data-cite="{label}">{text}</mark>')
        if any(c.end == b for c in covering):
            ends = ",".join(str(c.n) for c in covering if c.end == b)
            parts.append(f'<sup class="cite-label">[{ends}]</sup>')
    title = html.escape(document.title or document.source)
    url = source_url(document.url)
    if url:
        title = _external_link(url, f"{title} ↗", "source-link")
    return (
        f'<article class="source-doc" data-source="{html.escape(document.source, quote=True)}"'
        f'{" hidden" if hidden else ""}><h3 class="source-title">{title}</h3>'
        f'<div class="source-text">{"".join(parts)}</div></article>'
    )


def render_sources(
    documents: Sequence[Document], answer: Answer | None, turn: int, prefix: str = "src", corpus: str = DEFAULT_CORPUS
) -> str:
    """The source panel: one cited document at a time, first the one [1] cites.

    ``documents`` are the cited ones (any order; before an answer, a one-document corpus shows its document).
    With several, tabs switch between them, and :data:`CITE_JS` switches to the document a marker points at.
    """
    citations = answer.citations if answer else []
    first_cite: dict[str, int] = {}
    for c in sorted(citations, key=lambda c: c.n):
        first_cite.setdefault(c.source, c.n)
    shown = sorted((d for d in documents if d.source in first_cite), key=lambda d: first_cite[d.source])
    if not shown:
        if answer is None and len(documents) == 1:
            return render_document(documents[0], [], turn, prefix)
        return f'<div class="source-empty">The cited part of {html.escape(corpus)} appears here, highlighted.</div>'
    tabs = ""
    if len(shown) > 1:
        tabs = '<nav class="source-tabs">' + "".join(
            f'<a class="source-tab{" active" if i == 0 else ""}" href="#" '
            f'data-source="{html.escape(d.source, quote=True)}">{html.escape(d.title or d.source)}</a>'
            for i, d in enumerate(shown)
        ) + "</nav>"
    return tabs + "".join(render_document(d, citations, turn, prefix, hidden=i > 0) for i, d in enumerate(shown))


def _code(value: object) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def render_about(info: dict[str, Any], corpus: str = DEFAULT_CORPUS) -> str:
    """A one-paragraph "about this corpus" header from ``Pipeline.info()``."""
    docs = info.get("documents", [])
    titles = ", ".join(f"*{escape_markdown(d.get('title') or d.get('source', ''))}*" for d in docs) or "no documents"
    chars = sum(int(d.get("chars", 0)) for d in docs)
    return (
        f"**About this corpus:** {titles} — {len(docs)} document{'s' if len(docs) != 1 else ''}, "
        f"{chars:,} characters, {info.get('passages', 0)} passages. "
        f"Retrieval: {_code(info.get('embedder', '?'))}; answers: {_code(info.get('generator', '?'))}. "
        f"Every answer cites exact spans of {escape_markdown(corpus)}; click a marker like [1] to see it."
    )


CSS = """
.cite-marker { font-weight: 600; text-decoration: none; padding: 0 1px; }
.abstained { border-left: 4px solid #d4a017; background: rgba(212, 160, 23, 0.12); padding: 6px 10px;
  border-radius: 4px; }
.chat-error { border-left: 4px solid #c0392b; background: rgba(192, 57, 43, 0.10); padding: 6px 10px;
  border-radius: 4px; }
.ungrounded { font-size: 0.85em; opacity: 0.8; }
.source-panel { max-height: 560px; overflow-y: auto; }
.source-text { white-space: pre-wrap; line-height: 1.55; }
.source-title { margin: 0 0 0.5em 0; }
.source-doc[hidden] { display: none; }
.source-tabs { display: flex; flex-wrap: wrap; gap: 4px; margin: 0 0 0.6em 0; }
.source-tab { font-size: 0.85em; padding: 2px 8px; border: 1px solid #d1d5db; border-radius: 999px;
  text-decoration: none; color: inherit; }
.source-tab.active { background: #fde68a; border-color: #d4a017; }
.source-empty { opacity: 0.7; font-size: 0.9em; }
a.cite-source { text-decoration: underline dotted; color: inherit; }
mark.cite-span { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.dark mark.cite-span { background: #7c5e10; }
.cite-label { font-weight: 600; color: #b45309; }
.anchor { scroll-margin-top: 40px; }
.anchor.cite-active + mark.cite-span { background: #fb923c; outline: 2px solid #ea580c; }
ol.citations { padding-left: 0; list-style: none; margin: 0; }
li.citation { margin: 0 0 0.6em 0; scroll-margin-top: 40px; }
li.citation.cite-active { outline: 2px solid #ea580c; border-radius: 4px; }
.cite-heading { font-weight: 600; font-size: 0.9em; opacity: 0.85; }
blockquote.cite-quote { margin: 0.2em 0 0 1.2em; padding-left: 0.6em; border-left: 3px solid #fde68a;
  font-style: italic; }
.citations.empty { opacity: 0.7; font-size: 0.9em; }
"""


# Gradio pages carry <base href>, so a plain "#id" link would load a new page (and lose the chat) whenever the
# page URL has a query string (?__theme=, ?token=). One delegated listener scrolls in place instead; if the id
# is not there yet (an older answer whose spans the panel is switching to), it waits briefly for it. A span in a
# hidden document first switches the panel to that document; the tabs above the panel do the same.
CITE_JS = """
() => {
  if (window.__ragCiteLinks) return;
  window.__ragCiteLinks = true;
  const showDoc = (doc) => {
    const panel = doc.parentElement;
    panel.querySelectorAll(":scope > article.source-doc").forEach((d) => { d.hidden = d !== doc; });
    panel.querySelectorAll(":scope > .source-tabs .source-tab").forEach((t) => {
      t.classList.toggle("active", t.dataset.source === doc.dataset.source);
    });
  };
  document.addEventListener("click", (event) => {
    const tab = event.target.closest ? event.target.closest("a.source-tab") : null;
    if (tab) {
      event.preventDefault();
      const panel = tab.parentElement.parentElement;
      const docs = [...panel.querySelectorAll(":scope > article.source-doc")];
      const doc = docs.find((d) => d.dataset.source === tab.dataset.source);
      if (doc) showDoc(doc);
      return;
    }
    const link = event.target.closest ? event.target.closest("a.cite-link") : null;
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute("href") || "").replace(/^#/, "");
    let tries = 0;
    const show = () => {
      const target = document.getElementById(id);
      if (!target) { if (++tries < 20) setTimeout(show, 100); return; }
      const doc = target.closest("article.source-doc");
      if (doc && doc.hidden) showDoc(doc);
      document.querySelectorAll(".cite-active").forEach((e) => e.classList.remove("cite-active"));
      target.classList.add("cite-active");
      const into = target.classList.contains("anchor") && target.nextElementSibling ? target.nextElementSibling : target;
      into.scrollIntoView({ behavior: "smooth", block: "center" });
    };
    show();
  }, true);
}
"""
