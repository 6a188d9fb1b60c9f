"""Follow-ups made standalone: what "it", "he" and "what about X" refer to."""

from __future__ import annotations

import pytest

from rag.rewrite import rewrite


def _history(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(
    ("previous", "answer", "followup", "standalone"),
    [
        # a short answer is what "it" means
        ("Which libffi function prepares a call interface?", "ffi_prep_cif.", "and what does it return?",
         "What does ffi_prep_cif return?"),
        # ... and of a longer answer, the noun phrase it starts with
        ("Which make option runs jobs in parallel?", "-j (--jobs): it sets how many jobs run simultaneously.",
         "what if I give it no number?", "What if I give -j no number?"),
        ("Which section deals with trademarks?", "Section 6, Trademarks: the License grants no right to use them.",
         "what exception does it make?", "What exception does Section 6, Trademarks make?"),
        # ... and an answer that is a longer noun phrase, opening with an article, is what "that" means
        ("What did Frobnitz announce about the depot?", "An upgrade of the rail depot's loading command in Gizmo City.",
         "what's that supposed to improve?",
         "What's an upgrade of the rail depot's loading command in Gizmo City supposed to improve?"),
        # an answer that is a sentence names no entity: the previous question's subject does
        ("What does pg_upgradecluster do?", "It migrates a cluster from one major version to another.",
         "what does its -v switch do?", "What does pg_upgradecluster’s -v switch do?"),
        # "who ...?" answers with a person or a body; "it" still means the thing asked about
        ("Who is the license steward of the Mozilla Public License?", "The Mozilla Foundation.",
         "can anybody else put out new versions of it?", "Can anybody else put out new versions of Mozilla Public License?"),
        ("Who is the defense secretary mentioned in the article?", "Pete Hegseth.", "What did he call Japan?",
         "What did Pete Hegseth call Japan?"),
        # a name written as code is a name: the first named thing of the question, not the capitalized one after it
        ("What is frob_print used for with Gizmo?", "frob_print reads the file that Gizmo writes and draws it as a "
         "text graph over the whole run of the program.", "how do i make its chart taller",
         "How do i make frob_print’s chart taller"),
        # "what is X?" answers with a description of X; "it" is X
        ("What is the Cache File?", "A binary, mmappable file holding the same information as the other files.",
         "and how must it be written to disk?", "How must Cache File be written to disk?"),
        # a capitalized preposition that opens the question is no part of the name after it
        ("According to the Artistic License, who may modify the package?", "It lets anyone modify the package.",
         "and who wrote it?", "Who wrote Artistic License?"),
        ("Under GPLv3, how long must a written offer stay valid?", "It must stay valid for at least three years.",
         "what else does it require?", "What else does GPLv3 require?"),
    ],
)
def test_a_followup_names_what_it_refers_to(previous, answer, followup, standalone):
    assert rewrite(followup, _history(previous, answer)) == standalone


def test_a_long_answer_without_an_article_is_no_phrase_to_refer_to():
    """ "frob cache list lists all wheel files in the cache." is a sentence whose verb no short list catches: only an
    answer of up to 8 words, or a longer one that opens with an article, stands in for "it"."""
    history = _history("Which command lists what is in the cache?", "frob cache list lists all wheel files in the cache.")
    assert "wheel files" not in rewrite("how do i drop one package from it?", history)


def test_a_standalone_question_is_left_alone():
    assert rewrite("Which port does the server use?", _history("Who wrote it?", "Jane Doe.")) == "Which port does the server use?"


def test_a_figure_is_not_what_it_refers_to():
    history = _history("How long must the offer stay valid?", "At least three years, and as long as parts are offered.")
    standalone = rewrite("and what can they charge for it?", history)
    assert "offer" in standalone and "three years" not in standalone
