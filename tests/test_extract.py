"""The reader's pure parts, table-driven: question analysis, abstention rules, document naming."""

from __future__ import annotations

import dataclasses

import pytest

from rag.config import ReaderConfig
from rag.extract import Signals, abstention_reason, analyze, lm_abstention
from rag.text import name_roots


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many U.S. military personnel does Japan host?", "how_many"),
        ("how much disk does the cache use", "how_many"),
        ("In what year was the treaty signed?", "when_exact"),
        ("When does grep stop reading a file?", "when"),
        ("Who maintains man-db?", "who"),
        ("Where do rejected hunks go?", "where"),
        ("Why is Japan strategically important?", "why"),
        ("Does the MPL allow sublicensing?", "yesno"),
        ("Is the copyright grant temporary or forever?", "other"),  # a choice, not yes/no
        ("Can I use it or not?", "yesno"),
        ("Isn't the grant perpetual?", "yesno"),
        ("Can't I ship binaries?", "yesno"),
        ("Isolate the cause of the error", "other"),
        # A lead-in before the auxiliary, or an auxiliary and its subject mid-question: still yes/no.
        ("Under GPL v3, am I allowed to charge for copies?", "yesno"),
        ("libfoo parser - does case matter", "yesno"),
        ("Under the Mozilla license may I ship binaries under other terms?", "yesno"),
        ("if I'm in the wheel group can I run anything as root", "yesno"),
        ("In the patch manual, what happens if I apply a patch twice?", "other"),
        ("What is the cache, is it shared?", "other"),
        ("Summarize the deployment guide", "summary"),
        ("give me the gist of this page", "summary"),
        ("What is this document about?", "summary"),
        ("main points of the sed manual?", "summary"),
        ("can I get a quick overview of the lease", "summary"),
        ("tl;dr", "summary"),
        ("In the summary table, which UID range is for containers?", "other"),  # a table, not a summary
        ("which flags does the overview section list", "other"),
        ("What does the -i option of sed do?", "other"),
        ("What is the numeric GID of the sudo group?", "number"),
        ("what port number does it listen on", "number"),
        ("which Python 3 version is the default", "number"),
        ("which group has to have GID 5?", "other"),  # asks for a group, not a figure
        ("What version control system does it use?", "other"),
        ("which node versions do they test a fix against", "other"),  # "all supported ones" answers it
        # The clause's own wh-word decides, after a lead-in too, before a "which version" inside the clause.
        ("In the Python policy, where can I find which Python 3 version is the default?", "where"),
        ("When was version 2.0 released?", "when"),
        ("What email address should I write to?", "email"),
        ("which e-mail do I report bugs to", "email"),
        ("what's the URL of the bug tracker", "url"),
        ("What URL scheme does the player handle?", "other"),  # a scheme, not an address
        ("Which email client is supported?", "other"),
        ("Does it send email?", "yesno"),
        # The first wh-word asks; "how many" inside is part of what it asks about.
        ("What mechanism lets me cap how many link steps run at once?", "other"),
        ("Roughly how much memory does frob set aside?", "how_many"),
        ("In which Japanese city is the office?", "where"),  # a place, its adjective between
        ("frobd web interface default port", "number"),  # typed as a search: a figure
        ("does it have a size limit", "yesno"),
    ],
)
def test_question_kinds(question, kind):
    assert analyze(question).kind == kind


def test_names_numbers_and_quoted_phrases_must_appear_literally():
    info = analyze('Did Kishida say "ironclad" about the 2019 summit?')
    assert {"kishida", "ironclad", "2019"} <= set(info.names)
    assert analyze("did the minister say anything about the summit?").names == []  # lower case: no names
    # an amount of money is a value to weigh against the documents' limits, not a figure they must contain
    assert analyze("who approves a $5,000 purchase?").names == []
    assert analyze("Is the fee 40 or €60?").names == ["40"]


@pytest.mark.parametrize(("a", "b", "same"), [("Chinese", "China", True), ("Maltese", "Malta", True),
                                              ("Kenyan", "Kenya", True), ("Austrian", "Australia", False),
                                              ("Korean", "Japan", False)])
def test_a_name_and_its_adjective_share_a_root(a, b, same):
    assert bool(name_roots(a) & name_roots(b)) is same


BASE = Signals(kind="other", missing_names=[], missing_share=0.0, best_score=0.6, best_dense=0.6, max_dense=0.6,
               type_found=True)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, ""),
        ({"missing_names": ["okinawa"]}, "never mention"),
        # Ordinary words missing but a sentence close in meaning: a paraphrase, answered.
        ({"missing_share": 0.9, "best_dense": 0.6}, ""),
        ({"missing_share": 0.9, "best_dense": 0.2, "max_dense": 0.5}, "never mention"),
        ({"max_dense": 0.1, "best_dense": 0.1}, "no passage is about this"),
        ({"kind": "how_many", "type_found": False}, "give no such number"),
        ({"best_score": 0.1}, "closely enough"),
        # A yes/no question about things the documents lack is declined however close the nearest sentence is.
        ({"kind": "yesno", "missing_share": 0.45}, "never mention"),
        ({"kind": "yesno", "missing_share": 0.3}, ""),
        ({"kind": "other", "missing_share": 0.45}, ""),
    ],
)
def test_abstention_rules(change, why):
    signals = dataclasses.replace(BASE, **change)
    weights = ReaderConfig(min_dense=0.3, min_support=0.35, missing_share=0.5, max_dense_for_missing=0.45,
                           yesno_missing_share=0.4)
    reason = abstention_reason(signals, weights, "Does it mention Okinawa or flashpoints?", ["flashpoint"])
    assert (why in reason) if why else reason == ""


def _reader_over(documents):
    from types import SimpleNamespace

    from rag.corpus import Corpus
    from rag.extract import Reader

    reader = Reader.__new__(Reader)  # only the corpus is needed to read document names
    reader.index = SimpleNamespace(corpus=Corpus(documents))
    reader._doc_names = None
    return reader


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("Under the Mozilla license may I ship binaries under other terms?", "MPL-2.0.txt"),
        ("According to the GNU Lesser General Public License, what must accompany object code?", "LGPL-3.txt"),
        ("what does the license say about patents?", None),  # every title says "license": none is named
        ("What does the deployment guide say about rollbacks?", "deploy.md"),
        ("How many troops does Japan host?", None),  # topic words of a title do not name it
    ],
)
def test_a_question_names_a_document_only_when_one_stands_out(question, source):
    from rag.schema import Document

    docs = [Document("MPL-2.0.txt", "x", "Mozilla Public License Version 2.0"),
            Document("LGPL-3.txt", "x", "GNU LESSER GENERAL PUBLIC LICENSE"),
            Document("GPL-3.txt", "x", "GNU GENERAL PUBLIC LICENSE"),
            Document("Apache-2.0.txt", "x", "Apache License"),
            Document("deploy.md", "x", "Deployment Guide"),
            Document("notes.txt", "x", "Japan troop notes and travel plans")]
    assert _reader_over(docs).named_document(question) == source


@pytest.mark.parametrize(
    ("phrase", "question", "ok"),
    [
        ("advanced weaponry", "What advanced weaponry is Japan investing in?", False),  # only repeats the question
        ("advanced weaponry", "Which advanced weapons is Japan buying?", False),  # ... in other forms of its words
        ("legacy", "What still looms large over the national psyche?", False),  # a lone common word
        ("gzip", "which compression formats are handled?", True),  # ... a lone rare one is specific enough
        ("atomically", "how must the cache be written?", True),
        ("longer-range missiles", "What advanced weaponry is Japan investing in?", True),
        ("50,000", "How many troops are there?", True),
        ("FFI_BAD_ABI", "status code for an invalid abi?", True),
        ("/usr/share/python-wheels", "where do wheels land?", True),
        ("Bullseye", "Which release dropped it?", True),
        ("--no-cache", "Which flag skips the cache?", True),  # the identifier is the answer
        ("ffi_call", "what does ffi_call do?", False),  # ... unless the question already names it
    ],
)
def test_a_direct_answer_must_say_something(phrase, question, ok):
    from rag.phrase import says_something

    assert says_something(phrase, question) is ok


@pytest.mark.parametrize(
    ("question", "sentence", "ok"),
    [
        ("What is the numeric GID of the sudo group?", "Members of sudo may run any command.", False),
        ("What is the numeric GID of the sudo group?", "The sudo group has GID 27.", True),
        ("Which Python 3 version is the default?", "The default is the latest Python 3 release.", False),
        ("Which Python 3 version is the default?", "The default is Python 3.11.", True),
    ],
)
def test_a_figure_question_needs_a_figure_it_does_not_give(question, sentence, ok):
    from rag.extract import _type_ok

    assert _type_ok(analyze(question), sentence) is ok


@pytest.mark.parametrize(
    ("question", "sentence", "ok"),
    [
        ("Who maintains the package?", "The current maintainer answers mail within a week.", True),
        ("Who can read the file?", "Only members of the shadow group can read it.", True),
        ("Who can read the file?", "The other settings are kept in the establishment order.", False),
        ("Who is the project lead?", "The maintainer answers mail within a week.", False),  # a name is asked for
        ("In which city is the office?", "The office moved in the spring to a larger floor.", False),
        # a body known by its initials, as the agent of a passive verb
        ("Who creates email accounts?", "Email accounts are created by HR two days before the start date.", True),
        ("Who approves HR requests?", "Requests are filed by HR staff on Mondays and approved later.", True),  # staff
        ("Who approves HR requests?", "HR requests are sorted by date.", False),  # (its initials are the question's)
        # "when": a date, a period, a condition, or a span of time measured from something
        ("When do I need a doctor's note?", "A note is required for absences longer than 3 consecutive days.", True),
        ("When was the tool first released?", "The tool compresses files with the deflate method.", False),
        ("when will the old endpoint be removed", "It will be removed in 3.0.0; use the new one instead.", True),
        ("When was the option added?", "The option was added in version 2 of the tool.", True),
        ("When was the option added?", "The option accepts values up to 2.5 in the config.", False),  # no release
    ],
)
def test_a_who_or_where_question_needs_people_or_a_place(question, sentence, ok):
    from rag.extract import _type_ok

    assert _type_ok(analyze(question), sentence) is ok


W = ReaderConfig(judge_min=0.5, judge_min_if_uncopied=0.9, judge_min_if_made_up=0.6)


@pytest.mark.parametrize(
    ("kind", "judge", "direct", "declines"),
    [
        ("other", None, None, False),  # no judge, no LM verdict
        ("other", 0.45, "copied", True),  # under judge_min, whatever the short answer
        ("other", 0.7, "copied", False),
        ("other", 0.55, "not_copied", True),  # a made-up short answer needs judge_min_if_made_up
        ("other", 0.65, "not_copied", False),
        ("other", 0.7, "restates", False),  # the extractive sentence stands
        ("number", 0.85, "restates", True),  # a figure question without a copied figure needs 0.9
        ("number", 0.95, "no_figure", False),
        ("number", 0.85, "unbound", True),  # a figure from another entry's line
        ("other", 0.85, "unbound", False),  # (the extractive sentence stands: declining these cost more than it won)
        ("yesno", 0.1, None, False),  # a yes/no question is judged for its polarity, not declined by the judge
    ],
)
def test_the_lm_checks_decline_by_kind_judge_and_short_answer(kind, judge, direct, declines):
    assert bool(lm_abstention(kind, judge, direct, W)) is declines


@pytest.mark.parametrize(
    ("judge", "reply", "declines"),
    [
        (0.29, "50,000", True),  # the population of a city answered with a troop count: a bare figure, judged low
        (0.6, "50,000", False),
        (0.29, "about 50,000 personnel", False),  # (a figure with what it counts: judge_min alone, 0 here)
    ],
)
def test_a_copied_bare_figure_needs_judge_min_if_figure(judge, reply, declines):
    w = ReaderConfig(judge_min_if_figure=0.55)
    assert bool(lm_abstention("other", judge, "copied", w, reply)) is declines


def test_a_passage_that_asks_the_question_itself_is_not_declined_for_want_of_a_short_answer():
    """An FAQ's "Q: Who do I contact if my laptop is stolen?" above "A: Report the theft to the Security Operations
    Center ...": the LM finds no person to copy, but the documents ask the very question; the judge still counts."""
    assert lm_abstention("who", 0.84, "none", W, "NONE", best_dense=0.85)
    assert not lm_abstention("who", 0.84, "none", W, "NONE", best_dense=0.95)
    assert lm_abstention("who", 0.45, "none", W, "NONE", best_dense=0.95)  # (under judge_min all the same)
    assert lm_abstention("number", 0.95, "not_copied", W, "37", best_dense=0.95)  # (a made-up figure all the same)


@pytest.mark.parametrize(
    ("direct", "reply", "declines"),
    [
        ("unbound", "37", True),  # "what uid does the web server user have": 37 is another user's
        ("not_copied", "1,024.", True),  # a figure in none of the sentences
        ("restates", "3.1", True),
        ("unbound", "the www-data user", False),  # words, not a bare figure: the extractive answer stands
        ("copied", "37", False),  # a figure copied from the sentence that speaks of what is asked
        ("none", "NONE", False),
    ],
)
def test_a_figure_the_lm_could_not_find_declines_a_question_of_any_kind(direct, reply, declines):
    assert bool(lm_abstention("other", 0.95, direct, W, reply)) is declines
    assert not lm_abstention("yesno", 0.95, direct, W, reply)  # (a yes/no question's verdict is judged instead)


@pytest.mark.parametrize(
    ("word", "context", "cut"),
    [
        ("prod", "Deploy to production with the CLI.", True),  # typed short for a word the passage writes in full
        ("creds", "Database credentials rotate every 90 days.", True),
        ("repo", "Run it from the repository root.", True),
        ("navy", "The naval base hosts ships.", False),  # a word of its own, not a cut
        ("java", "Bindings exist for JavaScript.", False),  # a common word: no cut of a longer one
        ("prod", "Products are listed below.", True),  # (a cut can mislead: the judge reads on)
        ("dns", "The dnsmasq service answers.", False),  # too short to tell
    ],
)
def test_a_word_cut_short_is_covered_by_the_word_written_in_full(word, context, cut):
    from rag.extract import _cut_short
    from rag.text import tokens

    assert _cut_short(word, set(tokens(context))) is cut


def test_words_of_any_script_are_tokens_and_accents_fold():
    from rag.text import tokens

    assert tokens("The Café in Zürich serves crêpes; 日本 too.") == ["the", "cafe", "in", "zurich", "serves", "crepes",
                                                                   "日本", "too"]
    assert tokens("U.S. troops: 50,000") == ["u.s.", "troops", "50,000"]  # (unchanged for plain ASCII)


@pytest.mark.parametrize(
    ("sentence", "asks"),
    [("Q: How do I reset my password?", True), ('??? note "Where are backups stored?"', True),
     ("Q:  The default build is too big.", True),  # an FAQ's question, whatever its first sentence ends with
     ("Backups are stored in the bucket.", False), ("Use grep -E (or egrep?) for that.", False)],
)
def test_a_question_the_text_asks_is_recognised(sentence, asks):
    from rag.extract import _asks

    assert _asks(sentence) is asks


def test_small_numbers_spelled_out_are_the_digits_people_type():
    from rag.text import content_terms, stems

    assert stems("After two hours, page the manager.") >= {"2", "hour"}
    assert content_terms("who do i escalate to after 2 hours") == content_terms("who do I escalate to after two hours")
    assert "1" not in stems("the one that failed")  # "one" is a pronoun as often as a number


def test_an_english_word_written_as_a_call_is_a_specific_thing_asked_about():
    from rag.extract import specific_terms

    assert "inflat" in specific_terms("How many bytes does inflate() need for its state?")
    assert "inflat" not in specific_terms("How many bytes does it inflate to?")
    # ... and one written as a command-line option names that option: "8" of "By default frob assumes 8 bytes per
    # block, ... via the --padding option." is no answer about --spacing
    assert "space" in specific_terms("What is the default value of frob's --spacing option?")
    assert "space" not in specific_terms("What is the default spacing?")


@pytest.mark.parametrize(
    ("question", "sentence", "clash"),
    [
        ("What is the largest value allowed for --depth?", "--depth=<number> [default: 30] Maximum depth of the tree.", True),
        ("max depth?", "The depth is 30 by default.", True),
        ("What is the smallest buffer frob accepts?", "The buffer defaults to 30 KiB.", True),
        ("What is the default --depth?", "--depth=<number> [default: 30]", False),  # the default is asked
        ("What's the default maximum depth?", "The maximum depth is 30 by default.", False),
        ("What is the largest depth?", "The depth may be at most 30.", False),  # not given as a default
        ("What is the largest depth?", "The default is 300; the depth may be at most 30.", False),  # another figure's
    ],
)
def test_a_default_is_no_answer_to_a_question_after_a_maximum_or_minimum(question, sentence, clash):
    from rag.extract import default_not_asked

    assert default_not_asked(question, sentence, "30") is clash


@pytest.mark.parametrize(
    ("question", "excused"),
    [
        ("What does the United States ask of its allies?", {"unit", "state"}),  # the documents write "U.S."
        ("What does the EU require?", {"eu"}),  # the documents spell out "European Union"
        ("Did the Department of Defense agree?", {"depart", "of", "defens"}),  # "DoD"; not the sentence's "Did"
        ("Is Peter Hansen in charge?", set()),  # initials of a name the documents spell otherwise excuse nothing
        ("What did the Warsaw Pact do?", set()),
    ],
)
def test_a_name_written_out_or_as_its_acronym_is_the_same_name(question, excused):
    from rag.text import acronyms, named_by_acronym

    known = acronyms("The U.S. and the European Union met. DoD staff and Pete Hegseth came. NATO members spoke.")
    assert named_by_acronym(question, known) == excused


@pytest.mark.parametrize(
    ("question", "whose"),
    [
        ("which python version does frob -t browse need", ["python"]),
        ("What is the minimum FreeWidget version frob requires?", ["freewidget"]),
        ("which version of Python is the default", ["python"]),
        ("what version of the spec is it?", []),  # the document's own version
        ("what version is it", []),
    ],
)
def test_a_version_question_says_whose_version(question, whose):
    from rag.extract import version_of
    from rag.text import stem

    assert version_of(question) == [stem(w) for w in whose]


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [("Frob is generally 2-6x as fast as libfoo.", True), ("It runs three times faster.", True),
     ("Frob is twice as fast.", True), ("Frob ran 6 jobs in total.", False)],
)
def test_how_many_times_asks_for_a_multiple(sentence, ok):
    from rag.extract import Reader

    reader = Reader.__new__(Reader)  # (no embedder needed: a multiple is told by its form)
    assert reader._focus_ok("times faster than plain libfoo", sentence) is ok


@pytest.mark.parametrize(
    ("focus", "sentence", "ok"),
    [("memory", "It will allocate on the order of 256K bytes for the internal state.", True),
     ("disk", "The cache holds 2 GB at most.", True), ("time", "It waits 10 seconds.", True)],
)
def test_how_much_of_a_measure_is_a_figure_in_its_units(focus, sentence, ok):
    from rag.extract import Reader

    reader = Reader.__new__(Reader)  # (no embedder needed: the unit says what is measured)
    assert reader._focus_ok(focus, sentence) is ok


@pytest.mark.parametrize(
    ("text", "layout"),
    [("Table of Contents 1 Frob Guide 1.1 Installing Frob 1.2 Running Frob 1.2.1 Flags 2 Bugs", True),
     ("Contents . . . . . . . . 12", True),
     ("Versions 1.2, 1.3 and 1.4 are supported.", False),  # figures in a sentence are no contents list
     ("See 3.1 Setup and 3.2 Usage for details.", False)],
)
def test_a_contents_list_run_together_is_layout_not_an_answer(text, layout):
    from rag.extract import _NOT_PROSE

    assert bool(_NOT_PROSE.search(text)) is layout


def test_a_name_glued_to_its_number_is_an_identifier_never_excused():
    """ "SHA-512" beside a text's "SHA-256" is missing like "HTTP/2": written with a hyphen too, and no judge excuses it
    (a text names a vendor in words of its own, an identifier only as it is)."""
    from rag.extract import Signals, only_names_missing, versioned_in, versioned_names

    assert versioned_names("Which check ID is used for SHA-512?") == ["SHA-512"]
    assert not versioned_in("SHA-512", "0x0a 32 bytes sha-256") and versioned_in("SHA-256", "0x0a 32 bytes sha-256")
    base = dict(kind="other", missing_share=0.0, best_score=0.8, best_dense=0.7, max_dense=0.7, type_found=True)
    assert only_names_missing(Signals(missing_names=["frobco"], **base), ReaderConfig())
    assert not only_names_missing(Signals(missing_names=["512", "sha-512"], **base), ReaderConfig())
    assert not only_names_missing(Signals(missing_names=["frob_size"], **base), ReaderConfig())


def test_a_hexadecimal_id_is_a_bare_figure():
    """ "0x03" copied for "What filter ID does the format give the Frob filter?" from another filter's row is a bare
    figure from a line about something else: declined like "37"."""
    assert lm_abstention("other", 0.9, "unbound", ReaderConfig(), "0x03")
    assert lm_abstention("other", 0.9, "unbound", ReaderConfig(), "37")
    assert not lm_abstention("other", 0.9, "unbound", ReaderConfig(), "the frob filter")
