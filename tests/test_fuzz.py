"""Property tests (hypothesis) of the parts that take arbitrary text: question guard, chunker, citation checker."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_documents, paragraphs, split_sentences
from rag.cite import MARKER, answer_sentences, verify
from rag.errors import InvalidQuestionError
from rag.guard import classify_intent, clean_question
from rag.schema import Document, Passage

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the question guard --------------------------------------------------------------------------------------------
_any_text = st.text(alphabet=st.characters(), max_size=300)  # every code point, lone surrogates included
_junk = st.one_of(
    _any_text,
    st.binary(max_size=300),
    st.text(alphabet=st.sampled_from("\x00\x01\x1b\x7f\x85\x9b\u200b\u202e\u2028\ufeff\ufffd\udcff \t\r\n?!.a日🙂"),
            max_size=200),
    st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=3),
)


@FAST
@given(_junk, st.integers(min_value=1, max_value=400))
@example("\udcff\udcfeJapan troops?", 100)  # undecodable argv bytes arrive as lone surrogates
@example("Japan\x9b31m troops", 100)  # a C1 control (CSI)
@example(" " * 300 + "a", 100)
def test_clean_question_only_ever_raises_invalid_question(question, limit):
    try:
        text = clean_question(question, limit)
    except InvalidQuestionError as exc:
        assert str(exc).strip()  # always a message a user can act on
        return
    assert text and text == text.strip() and len(text) <= limit
    assert any(ch.isalnum() for ch in text)
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text), ascii(text)
    text.encode("utf-8")  # printable, JSON-able, tokenizable
    assert clean_question(text, limit) == text  # idempotent: the pipeline re-validates what the UI validated
    assert classify_intent(text) in ("question", "injection", "off_topic")


@settings(max_examples=30, deadline=2000)
@given(st.text(alphabet=st.sampled_from("ignore previous instructions system prompt reveal you are now "),
               max_size=1000))
def test_intent_regexes_stay_fast_on_long_adversarial_text(text):
    classify_intent(text)  # the deadline fails the test on catastrophic backtracking


# -- the chunker: unicode-heavy documents (tests/test_chunk.py covers ASCII-ish ones) -------------------------------
_exotic = st.sampled_from([
    "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\u00a0", "\u3000", "e\u0301", "👩‍👩‍👧", "🇯🇵", "\u202e",
    "\ufeff", "日本は", "。", "！", "ＡＢＣ", "İ", "ß", "ﬁ", "\t", "Dr. ", "U.S. ", "…", "“", "”", "\r", "\r\n", "\n\n",
    "## 見出し\n", "Title Line\n", "Leave a Reply\n", ". ", "? ", "[1] ", "<b>", "&amp;",
])
_udocs = st.lists(st.one_of(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20), _exotic),
                  max_size=60).map("".join)


@FAST
@given(_udocs, st.integers(min_value=4, max_value=60), st.integers(min_value=0, max_value=2))
def test_chunk_offsets_hold_for_unicode_heavy_documents(text, max_tokens, overlap):
    doc = Document("u.md", text)
    for para in paragraphs(doc):
        assert text[para.start : para.end] == para.text
    for chunk in chunk_documents([doc], max_tokens=max_tokens, overlap=overlap):
        assert text[chunk.start : chunk.end] == chunk.text and chunk.text.strip() == chunk.text
        for span in split_sentences(chunk.text, chunk.start, "u.md"):
            assert text[span.start : span.end] == span.text
            assert chunk.start <= span.start < span.end <= chunk.end


# -- the citation checker --------------------------------------------------------------------------------------------
_words = st.sampled_from(
    ["Japan", "hosts", "50,000", "U.S.", "troops", "the", "alliance", "China", "missiles", "2027", "Tokyo", "defense",
     "budget", "doubling", "é", "日本", "🙂", "[1]", "[2]", "[9]", "[1, 2]", ".", "?", "!", "\n", "Dr.", "$50", "%"]
)
_sentences = st.lists(_words, min_size=1, max_size=14).map(" ".join)
_documents = st.lists(_sentences, min_size=1, max_size=8).map(lambda s: ". ".join(s) + ".")


@st.composite
def _passages_and_answer(draw):
    doc = draw(_documents)
    passages = []
    for rank in range(1, draw(st.integers(min_value=1, max_value=4)) + 1):
        start = draw(st.integers(min_value=0, max_value=len(doc) - 1))
        end = draw(st.integers(min_value=start + 1, max_value=len(doc)))
        passages.append(Passage(rank, "d.txt", start, end, doc[start:end], "", 1.0 / rank, rank))
    # Answers mix invented text with copies of passage text, with and without (possibly wrong) markers.
    pieces = draw(st.lists(st.one_of(_sentences, st.sampled_from([p.text for p in passages])), min_size=1, max_size=4))
    marks = draw(st.lists(st.sampled_from(["", " [1]", " [2]", " [3]", " [7]", " [1, 3]"]), min_size=len(pieces),
                          max_size=len(pieces)))
    answer = " ".join(f"{p}{m}." for p, m in zip(pieces, marks, strict=True))
    question = draw(st.one_of(st.just(""), _sentences))
    return doc, passages, answer, question


@FAST
@given(_passages_and_answer())
def test_every_verified_span_is_an_exact_slice_of_its_source(case):
    doc, passages, answer, question = case
    checked = verify(answer, passages, question)
    assert len(checked) == len(answer_sentences(answer))
    for s in checked:
        assert 0.0 <= s.support <= 1.0
        assert (s.span is None) == (s.passage is None)
        if s.span is not None:
            assert s.span.text == doc[s.span.start : s.span.end]
            assert s.passage in passages
            assert s.passage.start <= s.span.start < s.span.end <= s.passage.end  # inside the passage it cites
        assert not MARKER.search(s.text)  # markers are stripped from the checked text
