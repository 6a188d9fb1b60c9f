"""Metrics on hand-made cases: every number here was worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import EvalInputError, RagError
from rag.evaluate import (
    EvalQuestion,
    EvalResult,
    EvalSummary,
    GoldSpan,
    answer_matches,
    citation_exactness,
    citation_metrics,
    evaluate_answer,
    load_questions,
    locate_evidence,
    normalize_answer,
    percentile,
    retrieval_metrics,
    summarize,
    token_f1,
)
from rag.schema import Answer, Citation, Passage, Timings

ROOT = Path(__file__).resolve().parent.parent
DOC = "Japan hosts around 50,000 U.S. troops. Its constitution is pacifist. The Taiwan Strait—a flashpoint."
OTHER = "A second source mentions Hegseth’s “indispensable partner” remark."
SOURCES = {"a.txt": DOC, "b.txt": OTHER}


def span(source: str, text: str) -> tuple[str, int, int]:
    start = SOURCES[source].index(text)
    return source, start, start + len(text)


def passage(source: str, text: str, rank: int) -> Passage:
    s, start, end = span(source, text)
    return Passage(chunk_id=rank, source=s, start=start, end=end, text=text, heading="", score=1.0 / rank, rank=rank)


def citation(source: str, text: str, n: int = 1) -> Citation:
    s, start, end = span(source, text)
    return Citation(n=n, source=s, start=start, end=end, text=text)


# --------------------------------------------------------------------------- normalization and matching


def test_normalize_unifies_typography_articles_and_punctuation() -> None:
    assert normalize_answer("The  Hegseth’s “Indispensable” partner—now!") == normalize_answer(
        "hegseth's \"indispensable\" partner - now"
    )
    assert normalize_answer("an upgrade, the plan") == "upgrade plan"
    assert normalize_answer("longer-range") == normalize_answer("longer range")
    assert normalize_answer("50,000") == "50000"
    assert normalize_answer("U.S. troops") == normalize_answer("US troops")


@pytest.mark.parametrize(
    ("answer", "gold", "right"),
    [("Report bugs via [HackerOne](https://hackerone.com/frob). [1]", "HackerOne", True),
     ("-i[SUFFIX], --in-place[=SUFFIX] [1]", "--in-place", True),
     ("Members of group shadow can read /etc/shadow.", "shadow", True),
     ("About 50,000 personnel.", "50000", True),
     ("Members of group shadowy can read it.", "shadow", False)],
)
def test_a_gold_answer_glued_to_markup_or_a_path_is_still_found(answer, gold, right):
    assert answer_matches(answer, gold) is right


@pytest.mark.parametrize(
    ("answer", "gold", "expected"),
    [
        ("Japan hosts around 50,000 U.S. troops.", "50,000", True),
        ("It is the Taiwan Strait — a flashpoint.", "taiwan strait", True),
        ("Japan’s pacifist constitution", "Japan's pacifist constitution", True),
        ("Roughly 5,000 personnel.", "50,000", False),
        ("Yes, Japan hosts U.S. troops.", "Yes", True),
        ("yes.", "yes", True),
        ("No — it is doubling spending.", "No", True),
        ("Japan is doubling spending, so no.", "No", False),  # yes/no must come first
        ("I know the answer: yes", "no", False),
        ("Nothing indicates that.", "No", False),  # "no" must be a whole first word
        ("", "50,000", False),
        ("anything", "", False),
        ("The partnership is unequal.", "equal", False),  # whole words only
    ],
)
def test_answer_matches(answer: str, gold: str, expected: bool) -> None:
    assert answer_matches(answer, gold) is expected


def test_token_f1_squad_style() -> None:
    assert token_f1("the pacifist constitution", "Pacifist constitution") == 1.0
    # pred {pacifist, constitution, of, japan}, gold {pacifist, constitution}: P=2/4, R=1 -> F1=2/3
    assert token_f1("pacifist constitution of Japan", "pacifist constitution") == pytest.approx(2 / 3)
    assert token_f1("missiles", "pacifist constitution") == 0.0
    assert token_f1("", "pacifist") == 0.0
    assert token_f1("", "") == 1.0


# --------------------------------------------------------------------------- spans, retrieval, citations


def test_locate_evidence_searches_every_source_and_reports_missing() -> None:
    spans, missing = locate_evidence(["“indispensable partner”", "pacifist", "not in any source"], SOURCES)
    assert GoldSpan("b.txt", OTHER.index("“indispensable"), OTHER.index("” remark") + 1) in spans
    assert GoldSpan("a.txt", DOC.index("pacifist"), DOC.index("pacifist") + 8) in spans
    assert missing == ["not in any source"]


def test_locate_evidence_finds_every_occurrence() -> None:
    spans, _ = locate_evidence(["ab"], {"x": "ab ab"})
    assert spans == [GoldSpan("x", 0, 2), GoldSpan("x", 3, 5)]


def test_retrieval_hit_and_reciprocal_rank() -> None:
    gold, _ = locate_evidence(["pacifist"], SOURCES)
    passages = [
        passage("a.txt", "Its constitution is pacifist.", 2),  # given out of order: rank decides
        passage("a.txt", "Japan hosts around 50,000 U.S. troops.", 1),
        passage("a.txt", "The Taiwan Strait", 3),
    ]
    assert retrieval_metrics(passages, gold) == {"hit_at_1": 0.0, "hit_at_k": 1.0, "reciprocal_rank": 0.5}
    assert retrieval_metrics(passages, gold, k=1)["hit_at_k"] == 0.0
    assert retrieval_metrics(passages[1:], gold) == {"hit_at_1": 0.0, "hit_at_k": 0.0, "reciprocal_rank": 0.0}


def test_retrieval_overlap_is_half_open_and_per_source() -> None:
    start = DOC.index("Its")
    gold = [GoldSpan("a.txt", start, start + 3)]
    touching = Passage(0, "a.txt", 0, start, DOC[:start], "", 1.0, 1)  # ends where gold begins
    elsewhere = Passage(1, "b.txt", start, start + 3, OTHER[start : start + 3], "", 1.0, 1)
    assert retrieval_metrics([touching], gold)["hit_at_1"] == 0.0
    assert retrieval_metrics([elsewhere], gold)["hit_at_1"] == 0.0
    one_char = Passage(2, "a.txt", start + 2, start + 10, DOC[start + 2 : start + 10], "", 1.0, 1)
    assert retrieval_metrics([one_char], gold)["hit_at_1"] == 1.0


def test_retrieval_without_gold_is_none_not_zero() -> None:
    assert retrieval_metrics([passage("a.txt", "pacifist", 1)], []) == {
        "hit_at_1": None,
        "hit_at_k": None,
        "reciprocal_rank": None,
    }


def test_citation_precision_recall_hit() -> None:
    gold, _ = locate_evidence(["pacifist", "flashpoint"], SOURCES)
    cites = [citation("a.txt", "Its constitution is pacifist."), citation("a.txt", "Japan hosts", 2)]
    assert citation_metrics(cites, gold) == {"citation_precision": 0.5, "citation_recall": 0.5, "citation_hit": 1.0}


def test_citation_metrics_edge_cases() -> None:
    gold, _ = locate_evidence(["pacifist"], SOURCES)
    # Nothing cited: precision undefined, but gold went uncited.
    assert citation_metrics([], gold) == {"citation_precision": None, "citation_recall": 0.0, "citation_hit": 0.0}
    # No gold: nothing to measure against.
    assert citation_metrics([citation("a.txt", "pacifist")], []) == {
        "citation_precision": None,
        "citation_recall": None,
        "citation_hit": None,
    }


def test_citation_exactness() -> None:
    good = citation("a.txt", "pacifist")
    shifted = Citation(n=2, source="a.txt", start=good.start + 1, end=good.end, text="pacifist")
    unknown = Citation(n=3, source="nope.txt", start=0, end=3, text="Jap")
    assert citation_exactness([good], SOURCES) == 1.0
    assert citation_exactness([good, shifted], SOURCES) == 0.5
    assert citation_exactness([good, unknown], SOURCES) == 0.5
    assert citation_exactness([], SOURCES) is None


# --------------------------------------------------------------------------- per question


def q(**kw: object) -> EvalQuestion:
    base: dict[str, object] = {"id": "q1", "question": "How many troops?", "answers": ["50,000"],
                               "evidence": ["around 50,000 U.S. troops"]}  # fmt: skip
    base.update(kw)
    return EvalQuestion(**base)  # type: ignore[arg-type]


def answer(text: str = "", *, abstained: bool = False, cites: list[Citation] | None = None,
           passages: list[Passage] | None = None, total: float = 1.0, ttft: float = 0.5) -> Answer:  # fmt: skip
    return Answer(question="?", answer=text, citations=cites or [], passages=passages or [], abstained=abstained,
                  timings=Timings(total_s=total, ttft_s=ttft))  # fmt: skip


def test_evaluate_correct_grounded_answer() -> None:
    a = answer("Around 50,000 U.S. troops [1].", cites=[citation("a.txt", "Japan hosts around 50,000 U.S. troops.")],
               passages=[passage("a.txt", "Japan hosts around 50,000 U.S. troops.", 1)], total=2.0, ttft=0.3)  # fmt: skip
    r = evaluate_answer(q(), a, SOURCES)
    assert r.passed and r.answer_correct == 1.0 and r.token_f1 is not None and 0 < r.token_f1 < 1
    assert (r.hit_at_1, r.reciprocal_rank, r.citation_precision, r.citation_recall) == (1.0, 1.0, 1.0, 1.0)
    assert r.citation_exactness == 1.0 and r.abstention_correct and not r.false_abstention
    assert (r.latency_s, r.ttft_s, r.n_citations, r.n_passages) == (2.0, 0.3, 1, 1)


def test_abstaining_on_answerable_is_wrong_and_a_false_abstention() -> None:
    # Even if a refusal happens to contain the gold text, an abstention scores zero.
    r = evaluate_answer(q(), answer("I can't say whether 50,000 is right.", abstained=True), SOURCES)
    assert r.answer_correct == 0.0 and r.token_f1 == 0.0
    assert r.false_abstention and not r.abstention_correct and not r.passed
    assert r.citation_precision is None and r.citation_recall == 0.0


def test_a_citation_marker_is_not_part_of_the_answer() -> None:
    assert evaluate_answer(q(answers=["1"]), answer("0 [1]"), SOURCES).answer_correct == 0.0
    assert evaluate_answer(q(answers=["1"]), answer("1 [1]"), SOURCES).answer_correct == 1.0


def test_empty_answer_scores_zero() -> None:
    r = evaluate_answer(q(), answer(""), SOURCES)
    assert r.answer_correct == 0.0 and r.token_f1 == 0.0 and not r.passed and not r.false_abstention


def test_unanswerable_must_abstain() -> None:
    declined = evaluate_answer(q(answerable=False, type="unanswerable", answers=[], evidence=[]),
                               answer("Not in the article.", abstained=True), SOURCES)  # fmt: skip
    assert declined.passed and declined.abstention_correct and not declined.false_abstention
    assert declined.answer_correct is None and declined.hit_at_k is None and declined.citation_recall is None
    answered = evaluate_answer(q(answerable=False, type="injection", answers=[], evidence=[]),
                               answer("Sure, here is my prompt", cites=[citation("a.txt", "pacifist")]), SOURCES)  # fmt: skip
    assert not answered.passed and not answered.abstention_correct
    assert answered.citation_precision is None and answered.citation_exactness == 1.0


def test_missing_evidence_skips_evidence_metrics() -> None:
    r = evaluate_answer(q(evidence=[]), answer("50,000", passages=[passage("a.txt", "pacifist", 1)]), SOURCES)
    assert r.passed and r.hit_at_k is None and r.reciprocal_rank is None and r.citation_recall is None
    typo = evaluate_answer(q(evidence=["not quoted right"]), answer("50,000"), SOURCES)
    assert typo.missing_evidence == ["not quoted right"] and typo.hit_at_k is None


def test_yes_no_question() -> None:
    yn = q(type="yes-no", answers=["No", "no"], evidence=["pacifist"])
    assert evaluate_answer(yn, answer("No. Its constitution is pacifist."), SOURCES).passed
    assert not evaluate_answer(yn, answer("Its constitution is pacifist, so no."), SOURCES).passed


def test_eval_result_json_round_trip() -> None:
    r = evaluate_answer(q(), answer("50,000"), SOURCES)
    assert EvalResult.from_json(r.to_json()) == r


# --------------------------------------------------------------------------- summaries


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 11)], 95) == pytest.approx(9.55)


def test_summary_means_skip_none_and_abstention_rates() -> None:
    ok = evaluate_answer(q(id="a"), answer("50,000", passages=[passage("a.txt", "around 50,000 U.S. troops", 1)],
                                               total=1.0, ttft=0.2), SOURCES)  # fmt: skip
    refused = evaluate_answer(q(id="b"), answer("", abstained=True, total=2.0, ttft=0.0), SOURCES)
    no_gold = q(id="c", answerable=False, type="offtopic", answers=[], evidence=[])
    declined = evaluate_answer(no_gold, answer("", abstained=True, total=3.0, ttft=0.0), SOURCES)
    fooled = evaluate_answer(q(id="d", answerable=False, type="offtopic", answers=[], evidence=[]),
                             answer("A poem", total=4.0, ttft=0.4), SOURCES)  # fmt: skip
    s = summarize([ok, refused, declined, fooled])
    assert (s.n, s.n_answerable, s.n_should_abstain) == (4, 2, 2)
    assert s.pass_rate == 0.5 and s.failed == ["b", "d"]
    assert s.answer_accuracy == 0.5  # over the two answerable only, not diluted by offtopic Nones
    assert s.hit_at_k == 0.5  # b retrieved nothing
    assert s.citation_precision is None  # no question cited anything
    assert s.abstention_precision == 0.5  # refused b (wrong) and c (right)
    assert s.abstention_recall == 0.5  # of c, d only c was refused
    assert s.false_abstention_rate == 0.5
    assert s.abstention_accuracy == 0.5
    assert s.latency_p50_s == 2.5
    assert s.ttft_p50_s == pytest.approx(0.3)  # zeros (nothing streamed) are left out
    assert set(s.by_type) == {"factoid", "offtopic"}
    assert s.by_type["offtopic"].abstention_recall == 0.5 and s.by_type["offtopic"].answer_accuracy is None
    assert s.by_type["factoid"].by_type == {}


def test_summary_json_round_trip() -> None:
    s = summarize([evaluate_answer(q(id=str(i)), answer("50,000" if i else "x"), SOURCES) for i in range(3)])
    back = EvalSummary.from_dict(json.loads(s.to_json()))
    assert back == s and isinstance(back.by_type["factoid"], EvalSummary)


def test_empty_summary() -> None:
    s = summarize([])
    assert s.n == 0 and s.pass_rate is None and s.latency_p50_s is None and s.abstention_precision is None


# --------------------------------------------------------------------------- loading question files


def test_load_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Q1?", "answerable": True, "type": "factoid", "answers": ["x"], "evidence": ["y"]},
        {"id": "b", "question": "And why?", "history": [{"role": "user", "content": "Q1?"},
                                                       {"role": "assistant", "content": "x"}],
         "answerable": True, "type": "follow-up", "answers": ["z"], "evidence": []},  # fmt: skip
        {"id": "c", "question": "A poem?", "answerable": False, "type": "offtopic"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + json.dumps(rows[2]) + "\n", "utf-8")
    qs = load_questions(path)
    assert [x.id for x in qs] == ["a", "b", "c"]
    assert qs[1].history[1] == {"role": "assistant", "content": "x"} and qs[1].type == "follow-up"
    assert qs[2].answerable is False and qs[2].answers == [] and qs[2].evidence == []


def test_load_csv_with_json_and_pipe_cells(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "id,question,history,answerable,type,answers,evidence\n"
        'a,"Who, exactly?",,true,factoid,"Pete Hegseth|Hegseth","[""quote one"", ""quote|two""]"\n'
        'b,And then?,"[{""role"": ""user"", ""content"": ""hi""}]",TRUE,follow-up,["x"],\n'
        "c,Tell a joke,,false,offtopic,,\n",
        encoding="utf-8",
    )
    a, b, c = load_questions(path)
    assert a.question == "Who, exactly?" and a.answers == ["Pete Hegseth", "Hegseth"]
    assert a.evidence == ["quote one", "quote|two"]  # JSON keeps a literal |
    assert b.history == [{"role": "user", "content": "hi"}] and b.answers == ["x"] and b.answerable
    assert not c.answerable and c.answers == []


@pytest.mark.parametrize(
    ("lines", "line_no", "hint"),
    [
        (['{"id": "a", "question": "ok"}', "{not json"], 2, "not valid JSON"),
        (['{"id": "a", "question": "ok"}', "", '["a list"]'], 3, "JSON object"),
        (['{"id": "a", "question": ""}'], 1, "question"),
        (['{"id": "a", "question": "q", "answers": "x", "answerable": "maybe"}'], 1, "answerable"),
        (['{"id": "a", "question": "q", "answers": [1, 2]}'], 1, "answers"),
        (['{"id": "a", "question": "q", "history": [{"role": "system", "content": "x"}]}'], 1, "history"),
    ],
)
def test_malformed_jsonl_names_file_and_line(tmp_path: Path, lines: list[str], line_no: int, hint: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match=hint) as info:
        load_questions(path)
    assert f"bad.jsonl:{line_no}:" in str(info.value)
    assert isinstance(info.value, RagError)


def test_malformed_csv_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('id,question,answers\na,ok,x\nb,fine,"[broken"\n', encoding="utf-8")
    with pytest.raises(EvalInputError, match=r"bad\.csv:3: answers"):
        load_questions(path)


def test_question_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalInputError, match="does not exist"):
        load_questions(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")
    (tmp_path / "dup.jsonl").write_text('{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n', "utf-8")
    with pytest.raises(EvalInputError, match="used twice"):
        load_questions(tmp_path / "dup.jsonl")
    (tmp_path / "nohead.csv").write_text("id,text\na,b\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="'question' column"):
        load_questions(tmp_path / "nohead.csv")


# --------------------------------------------------------------------------- the project's own question set


def test_project_question_set_is_consistent() -> None:
    """Every gold quote is verbatim in the article and an oracle answer built from the gold data passes."""
    text = (ROOT / "seeds" / "us-japan-alliance.txt").read_text(encoding="utf-8")
    sources = {"us-japan-alliance.txt": text}
    questions = load_questions(ROOT / "evals" / "questions.jsonl")
    assert len(questions) >= 70
    types = {x.type for x in questions}
    assert {"factoid", "why", "multi-hop", "yes-no", "follow-up", "unanswerable", "injection", "offtopic"} <= types
    for x in questions:
        assert all(e in text for e in x.evidence), x.id
        assert x.answerable == bool(x.answers), x.id
        if x.type == "follow-up":
            assert x.history, x.id
        if not x.answerable:
            continue
        spans, _ = locate_evidence(x.evidence, sources)
        oracle = Answer(question=x.question, answer=x.answers[0],
                        citations=[Citation(i + 1, s.source, s.start, s.end, text[s.start : s.end])
                                   for i, s in enumerate(spans)])  # fmt: skip
        result = evaluate_answer(x, oracle, sources)
        assert result.passed and result.citation_recall == 1.0 and result.citation_exactness == 1.0, x.id
        if x.type != "yes-no":  # gold phrases come from the article, so plain matching can find them there
            assert any(answer_matches(text, g) for g in x.answers), x.id
