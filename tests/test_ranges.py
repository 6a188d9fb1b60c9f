"""Amounts in questions and the tiers that hold them (rag/ranges.py), and the reader answering from the tier."""

from __future__ import annotations

import pytest

from rag.ranges import Amount, amounts, holds, states_tier


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("who approves a $5,000 purchase?", [Amount(5000.0, "$")]),
        ("a €2.5k laptop", [Amount(2500.0, "€")]),
        ("£3 million budget", [Amount(3_000_000.0, "£")]),
        ("how many days of leave after 4 years of service?", [Amount(4.0, "year")]),
        ("what is new in 2.4.0", []),  # a version
        ("what does section 3 say", []),  # a section's number counts nothing
        ("5 or more", []),  # "or" says what kind of number, not what it counts
    ],
)
def test_a_question_gives_amounts_with_a_currency_or_a_unit(text, found):
    assert amounts(text) == found


FIVE_THOUSAND = Amount(5000.0, "$")
FOUR_YEARS = Amount(4.0, "year")


@pytest.mark.parametrize(
    ("sentence", "asked", "held"),
    [
        ("Up to $1,000: your manager.", FIVE_THOUSAND, False),
        ("$1,000 to $25,000: the department head.", FIVE_THOUSAND, True),
        ("Over $25,000: the CFO.", FIVE_THOUSAND, False),
        ("Purchases between $500 and $10,000 need two quotes.", FIVE_THOUSAND, True),
        ("$10,000+ needs the board.", FIVE_THOUSAND, False),
        ("€1,000 to €25,000: the department head.", FIVE_THOUSAND, False),  # another currency
        ("3 to 5 years: 25 days.", FOUR_YEARS, True),  # the unit stands after the range's last end
        ("3-5 years of service: 25 days", FOUR_YEARS, True),
        ("0 to 2 years: 20 days.", FOUR_YEARS, False),
        ("at least 3 years", FOUR_YEARS, True),
        ("10 or more years", FOUR_YEARS, False),
        ("3 to 5 days", FOUR_YEARS, False),  # another unit
        ("Versions 3 to 5 are supported.", FOUR_YEARS, False),
    ],
)
def test_a_tier_holds_the_asked_amount_in_the_same_currency_or_unit(sentence, asked, held):
    assert holds(sentence, asked) is held


LIMITS = ("# Approval limits\n\nSpending approvals depend on the amount:\n\n- Up to $1,000: your manager.\n"
          "- $1,000 to $25,000: the department head.\n- Over $25,000: the CFO.\n")


def test_the_reader_answers_an_amount_from_the_tier_that_holds_it(make_config, tmp_path):
    """The tier, not the list's first item; and no other tier beside it (each answers another amount)."""
    from rag.answer import Pipeline
    from rag.embed import FakeEmbedder

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "limits.md").write_text(LIMITS, encoding="utf-8")
    pipe = Pipeline.load(make_config(folder, **{"generate.backend": "none"}), embedder=FakeEmbedder(), generator=None,
                         progress=False)
    ans = pipe.ask("Who approves spending of $5,000?")
    cited = [c.text for c in ans.citations]
    assert not ans.abstained and "$1,000 to $25,000: the department head." in cited
    assert not any(t.startswith(("Up to", "Over")) for t in cited)
    assert ans.signals["in_tier"] is True
    ans = pipe.ask("Who approves spending of $30,000?")  # (an office by its initials names who)
    assert not ans.abstained and "Over $25,000: the CFO." in [c.text for c in ans.citations]


@pytest.mark.parametrize(
    ("sentence", "tier"),
    [
        ("Over $25,000: the CFO.", True),
        ("• Up to $1,000: your manager.", True),
        ("3 to 5 years: 25 days.", True),
        ("| $1,000 to $25,000 | Department head |", True),
        ("Employees with at least 3 years of service can apply.", False),  # a condition inside a sentence
        ("Versions 3 to 5 are supported.", False),
        ("The CFO approves all travel.", False),
    ],
)
def test_a_tier_line_is_a_range_that_labels_what_follows(sentence, tier):
    assert states_tier(sentence) is tier


def test_what_a_tier_says_answers_only_an_amount_it_holds(make_config, tmp_path):
    """"the CFO" copied from "Over $25,000: the CFO." answers "who approves a $30,000 purchase?", not "who approves
    travel?", which gives no amount: that short answer is unbound; the tier's own range may still be asked for."""
    from rag.answer import Pipeline
    from rag.embed import FakeEmbedder
    from rag.generate import FakeGenerator

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "limits.md").write_text(LIMITS, encoding="utf-8")
    config = make_config(folder, **{"generate.tasks": ["direct"], "reader.missing_share": 1.01})
    pipe = Pipeline.load(config, embedder=FakeEmbedder(), generator=FakeGenerator("the CFO"), progress=False)
    assert pipe.ask("Who approves spending of $30,000?").signals["direct"] == "copied"
    assert pipe.ask("Who approves travel spending?").signals["direct"] == "unbound"
    pipe = Pipeline.load(config, embedder=FakeEmbedder(), generator=FakeGenerator("Over $25,000"), progress=False)
    assert pipe.ask("What spending does the CFO approve?").signals["direct"] == "copied"
