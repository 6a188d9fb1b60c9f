from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_documents, chunk_parsed, count_tokens, paragraphs, split_sentences
from rag.schema import Document

from .conftest import ARTICLE


def test_seed_article_headings_become_metadata_and_boilerplate_is_dropped():
    doc = Document("us-japan-alliance.txt", ARTICLE)
    chunks = chunk_documents([doc])
    texts = [c.text for c in chunks]
    assert "Military Collaboration: A New Framework" not in texts
    assert not any("Leave a Reply" in t for t in texts)
    by_start = {c.text.split()[0]: c.heading for c in chunks}
    assert by_start["Moreover,"] == "Military Collaboration: A New Framework"
    assert chunks[0].heading == ""  # the lead paragraph sits under no heading
    # Paragraphs under one heading are packed up to the budget; a chunk never crosses a heading.
    assert 5 <= len(chunks) <= 9 and all(c.n_tokens <= 200 for c in chunks)
    for heading in {c.heading for c in chunks}:
        assert heading == "" or heading not in " ".join(c.text for c in chunks)


def test_every_chunk_is_an_exact_slice_of_its_source():
    doc = Document("a.txt", ARTICLE)
    for chunk in chunk_documents([doc]):
        assert ARTICLE[chunk.start : chunk.end] == chunk.text


def test_long_paragraph_splits_at_sentences_with_overlap():
    sentences = [f"Sentence number {i} talks about the alliance and its many long-range plans." for i in range(30)]
    text = "Title of the piece\n" + " ".join(sentences) + "\n"
    doc = Document("long.txt", text)
    chunks = chunk_documents([doc], max_tokens=60, overlap=1)
    assert len(chunks) > 3
    assert all(c.n_tokens <= 60 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        last_sentence_of_a = split_sentences(a.text)[-1].text
        assert b.text.startswith(last_sentence_of_a)  # one sentence of overlap
    assert all(c.heading == "Title of the piece" for c in chunks)


def test_sentence_splitter_keeps_abbreviations_together():
    text = "U.S. Defense Secretary Pete Hegseth spoke. The U.S.-Japan alliance grew. Mr. Smith agreed!"
    assert [s.text for s in split_sentences(text)] == [
        "U.S. Defense Secretary Pete Hegseth spoke.",
        "The U.S.-Japan alliance grew.",
        "Mr. Smith agreed!",
    ]


@pytest.mark.parametrize(
    ("text", "units"),
    [  # a definition list's one-letter terms, each on its own line (GNU time's format specifiers, as a PDF gives them)
        ("Maximum resident set size, in Kilobytes.\nt\nAverage resident set size, in Kilobytes.\nK\nAverage total use.",
         ["Maximum resident set size, in Kilobytes.", "t\nAverage resident set size, in Kilobytes.", "K\nAverage total use."]),
        ("Elapsed time, in seconds.\n%e \nElapsed real time.", ["Elapsed time, in seconds.", "%e \nElapsed real time."]),
        # ... but an abbreviation's period ends no sentence, and a short word inside a line is no term
        ("Use a flag, e.g.\nto\nbe quiet.", ["Use a flag, e.g.\nto\nbe quiet."]),
        ("It is done. to be sure, twice.", ["It is done. to be sure, twice."]),
    ],
)
def test_a_term_on_its_own_line_after_a_sentence_starts_the_next_unit(text, units):
    spans = split_sentences(text)
    assert [s.text for s in spans] == units
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_crlf_documents_keep_offsets_into_the_file_text():
    text = "Heading here\r\nFirst paragraph has words. Second sentence.\r\n\r\nAnother paragraph here.\r\n"
    doc = Document("crlf.txt", text)
    for chunk in chunk_documents([doc]):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()  # no stray line breaks at either end


def test_token_counts_come_from_tiktoken():
    assert count_tokens("hello world") == 2


_words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40)
_docs = st.lists(
    st.one_of(_words, st.sampled_from(["\n", "\r\n", "\n\n", ". ", "? ", "U.S. ", "Leave a Reply", "# Title\n", "—"])),
    max_size=60,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(_docs, st.integers(min_value=8, max_value=80), st.integers(min_value=0, max_value=2))
def test_offsets_are_exact_for_random_documents(text, max_tokens, overlap):
    doc = Document("r.txt", text)
    for para in paragraphs(doc):
        assert text[para.start : para.end] == para.text
    for chunk in chunk_documents([doc], max_tokens=max_tokens, overlap=overlap):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
    for span in split_sentences(text, 0, "r.txt"):
        assert text[span.start : span.end] == span.text


def test_a_chunk_heading_is_its_sections_heading_path():
    from rag.chunk import chunk_parsed
    from rag.formats import parse_markdown

    text = ("# Release notes\n\nIntro line.\n\n## 2.4.0\n\n### Fixed\n\n- Imports keep offsets.\n\n"
            "## 2.3.1\n\n### Fixed\n\n- Zero totals validate.\n\n## Deep\n\n### B\n\n#### C\n\n##### D\n\nDeep text.\n")
    chunks, _ = chunk_parsed(parse_markdown("notes.md", text))
    headings = {c.text.strip("- "): c.heading for c in chunks}
    assert headings["Intro line."] == "Release notes"  # the title alone: kept when it is the only heading
    assert headings["Imports keep offsets."] == "2.4.0 › Fixed"  # the two "Fixed" sections are told apart
    assert headings["Zero totals validate."] == "2.3.1 › Fixed"
    assert headings["Deep text."] == "B › C › D"  # the deepest three


def test_a_question_that_would_end_a_chunk_opens_the_next_with_its_answer():
    from rag.formats import parse_text

    filler = " ".join(["Frob widgets are configured in the main file."] * 4)
    text = f"Frob FAQ\n\n{filler}\n\nQ:  The frob build is too big. How can I make it smaller?\n\nA:  Give --enable-small to the configure script.\n"
    chunks, _ = chunk_parsed(parse_text("faq.txt", text), max_tokens=62, overlap=0)
    holding = [c for c in chunks if "How can I make it smaller?" in c.text]
    assert len(holding) == 1 and "--enable-small" in holding[0].text
    assert all(text[c.start : c.end] == c.text for c in chunks)
