"""evals/replay.py answers the pipeline's LM calls from a stored run, so the reader's use of them can be replayed."""

from __future__ import annotations

import json

import pytest

from rag.answer import Pipeline
from rag.embed import FakeEmbedder
from rag.judge import answers_question, direct_answer, says_yes
from rag.schema import Span

from .conftest import load_script


@pytest.fixture(scope="module")
def replay():
    return load_script("replay")


SENTENCE = Span("doc.md", 0, 45, "Japan hosts around 50,000 U.S. military personnel.")
ROWS = [
    {"id": "q1", "question": "How many troops does Japan host?",
     "signals": {"judge": 0.83, "direct": "copied", "direct_reply": "around 50,000"}},
    {"id": "q2", "question": "And where?", "standalone_question": "Where are the troops Japan hosts?",
     "signals": {"judge": 0.2, "direct": "none", "direct_reply": "NONE"}},
    {"id": "q3", "question": "Does Japan host troops?", "signals": {"says_yes": 0.91}},
]


def test_each_call_is_answered_from_the_row_of_the_question_it_quotes(replay):
    lm = replay.RecordedGenerator(ROWS)
    assert answers_question(lm, "How many troops does Japan host?", [SENTENCE]) == pytest.approx(0.83)
    direct, status, _ = direct_answer(lm, "How many troops does Japan host?", [SENTENCE])
    assert status == "copied" and direct.text == "around 50,000"
    assert says_yes(lm, "Does Japan host troops?", [SENTENCE]) == pytest.approx(0.91)
    # a follow-up's calls quote its standalone form
    assert answers_question(lm, "Where are the troops Japan hosts?", [SENTENCE]) == pytest.approx(0.2)
    assert direct_answer(lm, "Where are the troops Japan hosts?", [SENTENCE]).status == "none"
    assert lm.unrecorded == 0


def test_a_call_the_run_never_made_has_no_opinion_and_is_counted(replay):
    lm = replay.RecordedGenerator(ROWS)
    assert answers_question(lm, "Who leads the alliance?", [SENTENCE]) == replay.UNRECORDED_JUDGE
    assert says_yes(lm, "How many troops does Japan host?", [SENTENCE]) == replay.UNRECORDED_JUDGE  # no verdict kept
    assert lm.unrecorded == 1


def test_a_pipeline_replays_a_stored_short_answer(replay, make_config, tmp_path):
    run = tmp_path / "run"
    (run / "seed").mkdir(parents=True)
    question = "How many U.S. military personnel does Japan host?"
    row = {"id": "q1", "question": question,
           "signals": {"judge": 0.9, "direct": "copied", "direct_reply": "around 50,000 U.S. military personnel"}}
    (run / "seed" / "results.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    lm = replay.RecordedGenerator(replay.recorded_rows(run))
    pipe = Pipeline.load(make_config(), embedder=FakeEmbedder(), generator=lm, progress=False)
    answer = pipe.ask(question)
    assert answer.answer == "around 50,000 U.S. military personnel [1]" and answer.signals["judge"] == 0.9


def test_a_second_look_is_replayed_from_its_own_outputs(replay):
    looks = [{"judge": 0.7, "direct": "none", "direct_reply": "NONE"},
             {"judge": 0.8, "direct": "copied", "direct_reply": "around 50,000"}]
    lm = replay.RecordedGenerator([{"id": "q1", "question": "How many troops does Japan host?",
                                    "signals": {**looks[1], "looks": looks}}])
    asked = "How many troops does Japan host?"
    assert answers_question(lm, asked, [SENTENCE]) == pytest.approx(0.7)
    assert direct_answer(lm, asked, [SENTENCE]).status == "none"
    assert answers_question(lm, asked, [SENTENCE]) == pytest.approx(0.8)
    direct, status, _ = direct_answer(lm, asked, [SENTENCE])
    assert status == "copied" and direct.text == "around 50,000"
