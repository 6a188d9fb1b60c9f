"""Each format parses into blocks whose offsets are exact slices of the document text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_parsed, split_sentences
from rag.errors import CorpusError
from rag.formats import iter_units, parse_file, parse_html, parse_markdown, parse_text

WRAPPED = """                                 Sample License
                           Version 2.0, January 2004

   1. Definitions.

      "License" shall mean the terms and conditions for use, reproduction,
      and distribution as defined by Sections 1 through 9 of this document.

      "Licensor" shall mean the copyright owner or entity authorized by
      the copyright owner that is granting the License.

   2. Grant of Copyright License. Subject to the terms and conditions of
      this License, each Contributor hereby grants to You a perpetual,
      worldwide, non-exclusive, no-charge, royalty-free, irrevocable
      copyright license to reproduce the Work.

      (a) You must give any other recipients of the Work a copy of
          this License; and

      (b) You must cause any modified files to carry prominent notices
          stating that You changed the files.
"""


def _exact(parsed):
    text = parsed.document.text
    for b in parsed.blocks:
        assert b.end > b.start and text[b.start : b.end].strip() == text[b.start : b.end]
    chunks, units = chunk_parsed(parsed, max_tokens=40, overlap=1)
    for c in chunks:
        assert text[c.start : c.end] == c.text
    for u in units:
        assert text[u.start : u.end] == u.text
    return chunks, units


def test_hard_wrapped_text_joins_lines_into_paragraphs_and_keeps_clauses_apart():
    parsed = parse_text("license.txt", WRAPPED)
    doc = parsed.document
    assert doc.title == "Sample License"
    kinds = [(b.kind, doc.text[b.start : b.end].split()[0]) for b in parsed.blocks]
    assert ("heading", "1.") in kinds
    chunks, units = _exact(parsed)
    texts = [u.text for u in units]
    # A wrapped sentence is one unit, not one unit per line.
    assert any(t.startswith('"License" shall mean') and t.endswith("this document.") for t in texts)
    assert any(t.startswith("(a) You must give") for t in texts)
    assert any(t.startswith("(b) You must cause") for t in texts)
    assert all(c.heading for c in chunks)


def test_unwrapped_text_one_paragraph_per_line():
    text = "A Title\nFirst paragraph is long enough to be a paragraph of its own. It has two sentences.\nSecond one.\n"
    parsed = parse_text("a.txt", text)
    assert [parsed.document.text[b.start:b.end] for b in parsed.blocks if b.kind != "heading"] == [
        "First paragraph is long enough to be a paragraph of its own. It has two sentences.", "Second one."]


MD = """---
title: Deployment Guide
url: https://wiki.example.com/deploy
---

Intro paragraph with **bold** text. Another sentence here.

Setup
-----

- First item of the list.
- Second item, which wraps
  onto a second line.

```bash
make install
make test
```

| Option | Meaning |
|--------|---------|
| -v     | verbose |

## Rolling back

Run the previous release.
"""


def test_markdown_front_matter_setext_lists_code_and_tables():
    parsed = parse_markdown("deploy.md", MD)
    doc = parsed.document
    assert doc.title == "Deployment Guide" and doc.url == "https://wiki.example.com/deploy"
    blocks = [(b.kind, doc.text[b.start : b.end]) for b in parsed.blocks]
    assert ("heading", "Setup") in blocks and ("heading", "Rolling back") in blocks
    assert ("item", "First item of the list.") in blocks
    assert ("item", "Second item, which wraps\n  onto a second line.") in blocks
    assert ("code", "make install\nmake test") in blocks
    assert not any("---" in t and k != "table" for k, t in blocks)
    chunks, units = _exact(parsed)
    assert "| -v     | verbose |" in [u.text for u in units]
    assert not any(set(u.text) <= set("|-: ") for u in units)  # the table rule is no unit
    assert {c.heading for c in chunks} >= {"Setup", "Rolling back"}


MYST = """# Caching

```{versionchanged} 2.0
Frob now caches builds from a pinned commit
(a full hash).
```

````{tab} Linux
```
~/.cache/frob
```
````

```{note}
:class: dropdown

The cache is safe to delete.

It is rebuilt on the next run.
```

```{frob-cli}
$ frob cache purge
```

```{code-block} toml
[cache]
size = 10
```
"""


def test_a_myst_fence_with_a_role_holds_markdown_and_its_argument_opens_it():
    parsed = parse_markdown("caching.md", MYST)
    doc = parsed.document
    blocks = [(b.kind, doc.text[b.start : b.end]) for b in parsed.blocks]
    assert ("paragraph", "{versionchanged} 2.0\nFrob now caches builds from a pinned commit\n(a full hash).") in blocks
    assert ("code", "~/.cache/frob") in blocks  # a code fence inside one is still code
    assert ("paragraph", "The cache is safe to delete.") in blocks and ("paragraph", "It is rebuilt on the next run.") in blocks
    assert not any(":class:" in t for _, t in blocks)
    assert ("code", "$ frob cache purge") in blocks  # a shell's prompt: commands
    assert ("code", "[cache]\nsize = 10") in blocks
    chunks, _ = _exact(parsed)
    assert {c.code for c in chunks if "frob cache purge" in c.text} == {True}
    assert {c.code for c in chunks if "safe to delete" in c.text} == {False}


HTML = """<html><head><title>Onboarding Page</title><style>p{color:red}</style></head>
<body><nav><a href="/">Home</a> | <a href="/x">Other</a></nav>
<main><h1>Welcome</h1><p>New staff   get a laptop on
day one.</p><ul><li>Badge from reception.</li><li>Wiki account.</li></ul>
<table><tr><th>Day</th><th>Task</th></tr><tr><td>1</td><td>Setup</td></tr></table>
<script>alert('x')</script><pre>ssh-keygen -t ed25519
cat key.pub</pre></main></body></html>"""


def test_html_extracts_visible_text_without_nav_script_or_style():
    parsed = parse_html("onboarding.html", HTML)
    doc = parsed.document
    assert doc.title == "Onboarding Page" and doc.format == "html"
    assert "alert" not in doc.text and "Home" not in doc.text and "color" not in doc.text
    assert "New staff get a laptop on day one." in doc.text
    kinds = {doc.text[b.start : b.end]: b.kind for b in parsed.blocks}
    assert kinds["Welcome"] == "heading" and kinds["Badge from reception."] == "item"
    assert kinds["ssh-keygen -t ed25519"] == "code"
    assert any("Day" in t and "Task" in t for t in kinds)
    _exact(parsed)


WIKI = """<html><head><title>Onboarding - Team Wiki</title></head><body>
<div id="toc" class="toc"><h2>Contents</h2><ul><li>1 Laptops</li></ul></div>
<h1>Onboarding</h1>
<p>New hires get a laptop from the help desk on floor 3.<sup class="reference"><a href="#cite_note-1">[1]</a></sup>
It comes with the standard image.<sup id="r2"><a href="#fn2">2</a></sup> A 2<sup>31</sup> byte limit applies.</p>
<h2><span class="mw-headline">Accounts</span><span class="mw-editsection">[<a href="?action=edit">edit</a>]</span></h2>
<div class="catlinks">Categories: HR</div><div class="printfooter">Retrieved from the wiki</div>
</body></html>"""


def test_wiki_html_drops_footnote_marks_edit_links_and_category_boxes():
    parsed = parse_html("onboarding.html", WIKI)
    text = parsed.document.text
    assert "floor 3. It comes with the standard image. A 2^31 byte limit applies." in text  # a power stays
    assert "[1]" not in text and "edit" not in text and "Categories" not in text and "Retrieved" not in text
    assert "Contents" not in text
    assert [b.kind for b in parsed.blocks if text[b.start:b.end] == "Accounts"] == ["heading"]
    _exact(parsed)


MDBOOK = """<html><head><title>Data Types - The Book</title></head><body>
<nav id="sidebar" class="sidebar"><ol class="chapter"><li><a href="intro.html">Introduction</a></li></ol></nav>
<div id="content" class="content"><main>
<h2 id="data-types"><a class="header" href="#data-types">Data Types</a></h2>
<p>Every value has a type.</p>
<h3 id="scalar"><a class="header" href="#scalar">Scalar Types</a><a class="headerlink" href="#scalar">¶</a></h3>
<p>A scalar type is a single value.</p>
</main></div></body></html>"""


def test_a_heading_whose_text_is_its_own_anchor_link_is_kept():
    """mdBook writes every heading as <h2><a class="header" href="#...">text</a></h2>: the link is the heading, not
    page furniture; a permalink mark ("¶", class headerlink) still is."""
    parsed = parse_html("ch03.html", MDBOOK)
    text = parsed.document.text
    headings = [text[b.start : b.end] for b in parsed.blocks if b.kind == "heading"]
    assert headings == ["Data Types", "Scalar Types"] and "¶" not in text and "Introduction" not in text
    chunks, _ = _exact(parsed)
    assert [c.heading for c in chunks if "single value" in c.text] == ["Data Types › Scalar Types"]


def _pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one text line per page (no extra dependency)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for i, line in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        kids.append(f"{page_id} 0 R")
        stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET"
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
                    f"/Resources << /Font << /F1 {3 + 2 * len(pages)} 0 R >> >> >>")
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    objs.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = "%PDF-1.4\n", []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def test_pdf_pages_are_recorded_for_citations():
    parsed = parse_file("manual.pdf", _pdf_bytes(["The pump needs oil every week.", "Replace the filter yearly."]))
    doc = parsed.document
    assert doc.format == "pdf" and len(doc.pages) == 2
    pos = doc.text.index("Replace the filter")
    assert doc.page_at(pos) == 2 and doc.page_at(0) == 1
    chunks, _ = _exact(parsed)
    assert {c.page for c in chunks} == {1, 2}


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [("a.pdf", b"%PDF-1.4 garbage", "PDF"), ("b.txt", b"\x00\x01\x02binary", "binary"),
     ("c.md", b"\x81\x8d\x90 not utf8", "UTF-8"), ("c2.txt", b"\xff\xfe\x41", "UTF-16"), ("d.html", b"<html><script>x</script></html>", "no visible text"),
     ("e.docx", b"PK..", "unsupported")],
)
def test_unusable_files_say_why(name, data, why):
    with pytest.raises(CorpusError, match=why):
        parse_file(name, data)


def test_sentence_splitter_handles_abbreviations_markers_and_wrapping():
    text = "See Sec. 4 of the U.S. code, e.g. the rules.\nThe next line\nwraps here. 2. Numbered clause follows."
    assert [s.text for s in split_sentences(text)] == [
        "See Sec. 4 of the U.S. code, e.g. the rules.", "The next line\nwraps here.", "2. Numbered clause follows."]


def test_a_sentence_may_start_with_code():
    text = ("Custom allocators may be given here. frobInit() will allocate about 256K bytes. See e.g. frob() for "
            "more. It calls frob_open first. `frob purge` clears the cache. It is fast. and so on.")
    assert [s.text for s in split_sentences(text)] == [
        "Custom allocators may be given here.", "frobInit() will allocate about 256K bytes.",
        "See e.g. frob() for more.", "It calls frob_open first.", "`frob purge` clears the cache.",
        "It is fast. and so on."]  # (a plain lower-case word starts no sentence)


def test_a_footnote_mark_glued_to_a_full_stop_still_ends_the_sentence():
    text = "Laptops come from the help desk.[1] Accounts are made by HR.[^2] See argv[1] for the name."
    assert [s.text for s in split_sentences(text)] == [
        "Laptops come from the help desk.[1]", "Accounts are made by HR.[^2]", "See argv[1] for the name."]


# -- property tests: generated documents of each format keep exact offsets -------------------------------------------
_word = st.sampled_from(["alpha", "Beta", "U.S.", "e.g.", "3.5", "(a)", "-", "*", "#", "##", "|", "`", "```", ">",
                         "1.", "Title", "—", "é", "日本", "<b>", "&amp;", "==="])
_line = st.lists(_word, min_size=0, max_size=12).map(" ".join)
_doc = st.lists(st.one_of(_line, st.just(""), st.just("---"), st.just("    code line")), max_size=30).map("\n".join)


@settings(max_examples=120, deadline=None)
@given(_doc, st.sampled_from(["t.txt", "m.md"]))
def test_generated_text_and_markdown_keep_exact_offsets(text, name):
    try:
        parsed = parse_file(name, text.encode("utf-8"))
    except CorpusError:
        return  # empty documents are refused, with a reason
    assert parsed.document.text == text
    _exact(parsed)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "li", "h2", "td", "pre", "div", "nav", "script"]), _line), max_size=20))
def test_generated_html_keeps_exact_offsets(parts):
    html = "<html><body>" + "".join(f"<{t}>{x}</{t}>" for t, x in parts) + "</body></html>"
    try:
        parsed = parse_html("g.html", html)
    except CorpusError:
        return
    _exact(parsed)


# A sentence of generated words, with abbreviations and figures inside, that ends with . ! or ?
_inner = st.sampled_from(["alpha", "beta", "licence", "U.S.", "e.g.", "i.e.", "Sec. 4", "Dr. Who", "3.5", "v2.0",
                          "(a)", "clause", "50,000", "etc.", "vs.", "No. 7"])
_sentence = st.tuples(st.sampled_from(["The", "A", "Each", "Section", "Our"]), st.lists(_inner, min_size=1, max_size=8),
                      st.sampled_from([".", "!", "?"])).map(lambda t: " ".join([t[0], *t[1]]) + t[2])


@settings(max_examples=150, deadline=None)
@given(st.lists(_sentence, min_size=1, max_size=6), st.lists(st.sampled_from([" ", "\n", "\n   ", "\r\n  "]),
                                                              min_size=60, max_size=60))
def test_sentences_survive_abbreviations_and_hard_wrapping(sentences, gaps):
    """Wrapping a text at random spaces never changes where its sentences start and end."""
    text = " ".join(sentences)
    spaces = iter(gaps)
    wrapped = "".join(next(spaces, " ") if ch == " " else ch for ch in text)
    got = split_sentences(wrapped)
    assert [" ".join(s.text.split()) for s in got] == sentences
    assert all(wrapped[s.start : s.end] == s.text for s in got)


def test_pdf_running_heads_and_page_numbers_are_dropped_but_the_title_page_keeps_its_head():
    from rag.formats import _strip_running_lines

    pages = ["Pump Manual\nHow to use the pump.\n1"] + [
        f"Pump Manual\nChapter {n}: Care {n + 10}\n{body}\n{n}"
        for n, body in enumerate(["Oil it.", "Clean the intake.", "Check the seals.", "Drain it.", "Store dry."], 2)
    ]
    # the chapter head repeats on five pages with its number changing; the title head on every page
    cleaned = _strip_running_lines(pages)
    assert cleaned[0] == "Pump Manual\nHow to use the pump."
    assert cleaned[3] == "Check the seals."


def test_a_browser_printed_pdf_loses_its_date_title_and_address_foot_on_every_page_the_first_too():
    from rag.formats import _LIGATURES, _strip_running_lines

    # "Print to PDF" writes the date and title above each page and the address and page count below it; text
    # extraction puts both at the page's end.
    pages = [f"{body}\n11/28/26, 1:20 AM Pump Manual\nfile:///usr/share/doc/pump/manual.html {n}/4"
             for n, body in enumerate(["Pump Manual\nHow to use the pump.", "Oil it.", "Clean the intake.", "Store dry."], 1)]
    cleaned = _strip_running_lines(pages)
    assert cleaned[0] == "Pump Manual\nHow to use the pump." and cleaned[2] == "Clean the intake."
    assert "the pump’s proﬁle and ﬂow".translate(_LIGATURES) == "the pump’s profile and flow"  # as people type them


def test_a_pdf_with_wide_lines_is_still_read_as_wrapped_and_an_option_joins_its_description():
    # A small font on a wide page: lines of 150+ characters, which a plain-text file would never be wrapped at.
    long = "The pump keeps a log of every cycle it runs, with the pressure, the flow and the temperature at the start. This is"
    text = (f"{long}\nbecause the log is read by the service tool. " + "More words follow here. " * 4 + "\n"
            "Options:\n--depth=<n> [default: 30]\nHow deep the trace goes.\n-q --quiet\nPrint nothing.\n")
    parsed = parse_text("pump.pdf", text, fmt="pdf")
    units = [text[s:e] for b in parsed.blocks for s, e in iter_units(parsed.document, b)]
    assert "This is\nbecause the log is read by the service tool." in units  # not cut at the line's end
    assert "--depth=<n> [default: 30]\nHow deep the trace goes." in units and "-q --quiet\nPrint nothing." in units
    plain = parse_text("pump.txt", text)  # a text file with such lines is not hard-wrapped: each line stands alone
    assert "This is" in [plain.document.text[s:e] for b in plain.blocks for s, e in iter_units(plain.document, b)]


def test_a_manuals_navigation_bar_is_layout_not_part_of_the_next_sentence():
    text = ("Next: Limits, Previous: Setup, Up: Frob Manual   [Contents][Index]\n1.3 Running frob\n"
            "By default, frob writes its report to the standard error stream.\n"
            "File: frob.info,  Node: Limits,  Next: Bugs,  Prev: Running,  Up: Top\n\n"
            "Next steps: install it, then run it.\n")
    parsed = parse_text("frob.pdf", text, fmt="pdf")
    units = [text[s:e] for b in parsed.blocks for s, e in iter_units(parsed.document, b)]
    assert "By default, frob writes its report to the standard error stream." in units
    assert not any("[Contents]" in u or "Node:" in u for u in units)
    assert "Next steps: install it, then run it." in units  # a sentence that starts "Next" is prose


def test_pdf_line_end_hyphens_are_rejoined_only_inside_words():
    from rag.formats import _dehyphenate

    assert _dehyphenate("the manip-\nulation of data") == "the manipulation\nof data"
    assert _dehyphenate("a well-\nknown fact") == "a well-\nknown fact"  # a compound keeps its hyphen
    assert _dehyphenate("OP-\nTIONAL field") == "OPTIONAL\nfield"
    assert _dehyphenate("call ASN1_MAX_\nNAME_SIZE now") == "call ASN1_MAX_NAME_SIZE now"
    assert _dehyphenate("see Jan-\nuary") == "see Jan-\nuary"  # mixed case: left alone


@pytest.mark.parametrize(
    ("data", "text"),
    [("Caf\u00e9 cr\u00eapes \u2013 4 \u20ac".encode("cp1252"), "Café crêpes – 4 €"),  # Windows-1252
     ("Caf\u00e9 menu".encode("utf-16"), "Café menu")],  # UTF-16 with its byte-order mark
)
def test_text_in_windows_encodings_is_read(data, text):
    assert parse_file("menu.txt", data).document.text == text


def test_a_line_that_stops_on_a_function_word_goes_on_in_the_next():
    text = "Office Guide\n\nThe office opens at 8 am and closes at\n6 pm on weekdays. Visitors sign in\nat reception.\n"
    parsed = parse_text("guide.txt", text)
    kinds = [(b.kind, text[b.start:b.end]) for b in parsed.blocks]
    assert kinds == [("heading", "Office Guide"),
                     ("paragraph", "The office opens at 8 am and closes at\n6 pm on weekdays. Visitors sign in\nat reception.")]
    text = "Appendix A\n\nThe fees are listed in the table of charges.\n"  # a capital "A" ends a title
    assert [b.kind for b in parse_text("fees.txt", text).blocks] == ["heading", "paragraph"]



FAQ = """Frob Tools FAQ
==============

Introduction to the tools is given in this first paragraph, which is long.

Q:  The default build of libfrob is too big. How can I make it smaller?

A:  frob -dc foo.tar.frob | tar xf -

If you want to restore the upstream default, add this to the frob config:

  FrobQoS af21 cs1

See also:

  https://bugs.example.org/923879

                                  Preamble

The licenses for most software are designed to take away your freedom to share and change it.
"""


@pytest.mark.parametrize("line", [
    "A:  frob -dc foo.tar.frob | tar xf -",  # an FAQ's answer
    "FrobQoS af21 cs1",  # an example set in deeper than the text
    "https://bugs.example.org/923879",  # an address
])
def test_a_plain_text_command_address_or_answer_line_is_no_heading(line):
    parsed = parse_text("faq.txt", FAQ)
    text = parsed.document.text
    blocks = {text[b.start : b.end]: b.kind for b in parsed.blocks}
    assert blocks[line] != "heading"
    _, units = _exact(parsed)
    assert line in [u.text for u in units]  # citable, as every line of prose or code is


def test_a_centred_title_line_stays_a_heading():
    parsed = parse_text("faq.txt", FAQ)
    text = parsed.document.text
    assert {text[b.start : b.end]: b.kind for b in parsed.blocks}["Preamble"] == "heading"
