"""Lists: which units open an item in every format, the list around a unit, questions that ask for several things."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_parsed
from rag.extract import asks_several
from rag.formats import parse_html, parse_markdown, parse_text
from rag.lists import MAX_ITEMS, item_text, opens_item, run_around

MD = """# Client

## Authentication

The following three types of HTTP Authentication are
supported. These can be used over both HTTP and HTTPS.

* Digest
* Basic
* WSSE

## Caching

The module can keep a private cache.
"""

TXT = """Deploying

Before you deploy:
1. Make sure the pipeline is green. Check the logs too.
2. Tag the release.
3. Announce it in the channel.

Rollbacks take five minutes.
"""

HTML = """<html><head><title>Steps</title></head><body><h1>Steps</h1><p>Before you deploy:</p>
<ol><li>Make sure the pipeline is green. Check the logs too.</li><li><p>Tag the release.</p></li>
<li>Announce it in the channel.</li></ol><p>Rollbacks take five minutes.</p>
<ol start="4"><li>four</li></ol><ul><li>a bullet</li></ul></body></html>"""


def _units(parsed):
    _, sentences = chunk_parsed(parsed)  # (HTML's blocks as parsed, as the index is built)
    return parsed.document.text, sentences


def _sid(sentences, text: str) -> int:
    return next(i for i, s in enumerate(sentences) if s.text.startswith(text))


def test_html_list_items_keep_their_bullet_or_number_outside_the_item():
    parsed = parse_html("steps.html", HTML)
    text = parsed.document.text
    assert "1. Make sure the pipeline is green." in text and "\n\n2. Tag the release." in text
    assert "4. four" in text and "• a bullet" in text  # <ol start="4"> counts on from 4
    items = [text[b.start : b.end] for b in parsed.blocks if b.kind == "item"]
    assert items[:3] == ["Make sure the pipeline is green. Check the logs too.", "Tag the release.",
                         "Announce it in the channel."]  # (the <p> inside an item is the item)


@pytest.mark.parametrize(
    ("parsed", "from_unit", "lead_in", "items", "numbered"),
    [
        # A lead-in two sentences before the list (the next sentence of its paragraph between).
        (parse_markdown("c.md", MD), "The following three types", "The following three types", ["Digest", "Basic", "WSSE"], False),
        (parse_markdown("c.md", MD), "Basic", None, ["Digest", "Basic", "WSSE"], False),  # no ":" before: no lead-in
        (parse_text("d.txt", TXT), "Check the logs", "Before you deploy:", ["1. Make sure", "2. Tag", "3. Announce"], True),
        (parse_text("d.txt", TXT), "Before you deploy:", "Before you deploy:", ["1. Make sure", "2. Tag", "3. Announce"], True),
        (parse_html("s.html", HTML), "Tag the release", "Before you deploy:", ["Make sure", "Tag", "Announce"], True),
        # a heading between two lists ends the first: the second section's items alone
        (parse_markdown("t.md", "# T\n\n## One\n\n- alpha\n- beta\n\n## Two\n\n- gamma\n- delta\n"), "gamma", None,
         ["gamma", "delta"], False),
    ],
)
def test_the_list_a_unit_introduces_or_belongs_to(parsed, from_unit, lead_in, items, numbered):
    text, sentences = _units(parsed)
    run = run_around(sentences, text, _sid(sentences, from_unit))
    assert run is not None
    assert (sentences[run.lead_in].text.startswith(lead_in) if lead_in else run.lead_in is None)
    assert [sentences[i].text[: len(p)] for i, p in zip(run.items, items, strict=True)] == items
    assert run.numbered == numbered
    assert all(opens_item(text, sentences[i]) for i in run.items)


@pytest.mark.parametrize(
    ("parsed", "from_unit"),
    [
        (parse_markdown("c.md", MD), "The module can keep"),  # no list after it
        (parse_text("d.txt", TXT), "Rollbacks take"),  # after a list is not in it
        (parse_text("x.txt", "Intro sentence. Second sentence. Third sentence.\n\n- a\n- b\n"), "Intro sentence."),  # two sentences before: too far
        (parse_text("y.txt", "Only one:\n- a\n\nText.\n"), "Only one:"),  # one item is no list
        (parse_text("z.txt", "Many:\n" + "".join(f"- item {i}\n" for i in range(20))), "Many:"),  # too long to quote
    ],
)
def test_no_list_around_a_unit(parsed, from_unit):
    text, sentences = _units(parsed)
    assert run_around(sentences, text, _sid(sentences, from_unit)) is None


@pytest.mark.parametrize(("unit", "shown"), [("2. Tag the release.", "Tag the release."), ("- a", "a"),
                                             ("Digest", "Digest"), ("(b) the other", "the other")])
def test_an_item_is_shown_without_its_mark(unit, shown):
    assert item_text(unit) == shown


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("Which kinds of HTTP auth does httplib2 support?", True),
        ("what are the steps before deploying", True),
        ("what are the common api error codes?", True),  # three words between "the" and the plural
        ("list the security standards for secrets", True),
        ("In the manual, what is listed under future developments?", True),
        ("which TLS versions are allowed?", True),
        ("What commands does the program offer?", True),
        ("which steps come before a deploy", True),  # a list's parts, whatever verb follows
        ("Which tool rebuilds wheels?", False),  # a verb, not a plural
        ("what happens if I pass NULL?", False),
        ("What keeps holding it back?", False),
        ("Which process owns the lock?", False),
        ("What does the status field mean?", False),
    ],
)
def test_a_question_asks_for_several_things(question, several):
    assert asks_several(question) == several


_WORD = st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"])
_SENTENCE = st.lists(_WORD, min_size=2, max_size=6).map(lambda ws: " ".join(ws).capitalize() + ".")
_LIST = st.tuples(st.booleans(), st.lists(_SENTENCE, min_size=2, max_size=MAX_ITEMS))  # (numbered, items)
_SECTION = st.tuples(st.lists(_WORD, min_size=1, max_size=3), st.lists(_SENTENCE, max_size=3), st.one_of(st.none(), _LIST))


def _markdown(sections) -> tuple[str, list[list[str]]]:
    parts, lists = ["# Doc\n"], []
    for heading, paragraph, listed in sections:
        parts.append("## " + " ".join(heading).title() + "\n")
        if paragraph:
            parts.append(" ".join(paragraph) + "\n")
        if listed:
            numbered, items = listed
            parts.append("".join(f"{i}. {t}\n" if numbered else f"- {t}\n" for i, t in enumerate(items, 1)))
            lists.append(items)
    return "\n".join(parts), lists


@given(st.lists(_SECTION, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_every_generated_list_is_found_whole_from_any_of_its_items(sections):
    text, lists = _markdown(sections)
    parsed = parse_markdown("gen.md", text)
    _, sentences = chunk_parsed(parsed)
    found = set()
    for sid in range(len(sentences)):
        run = run_around(sentences, text, sid)
        if run is None:
            continue
        assert all(opens_item(text, sentences[i]) for i in run.items) and run.items == sorted(set(run.items))
        assert run.lead_in is None or run.lead_in < run.items[0]
        found.add(tuple(sentences[i].text for i in run.items))
        if opens_item(text, sentences[sid]):
            assert sid in run.items  # an item's list holds it
    # Each list is found as itself: never glued to the list of another section, never cut short.
    assert found == {tuple(items) for items in lists}
