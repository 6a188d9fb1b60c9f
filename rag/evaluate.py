"""Evaluation metrics: pure functions from (question, ``Answer``, source texts) to numbers.

Nothing here loads a model, so the metrics are unit-testable and cheap to recompute from saved results.
Every metric that needs gold data a question lacks is ``None`` (skipped in means), never a silent zero.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from .cite import strip_markers
from .errors import EvalInputError
from .schema import Answer, Citation, Passage, _JSON

# Question types whose gold behaviour is to decline (``answerable: false``).
ABSTAIN_TYPES = ("unanswerable", "injection", "offtopic")
YES_NO = ("yes", "no")


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class EvalQuestion(_JSON):
    """One row of a question set (the acceptance format)."""

    id: str
    question: str
    answerable: bool = True
    type: str = "factoid"
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)


def _as_list(value: Any, name: str, where: str, *, csv_cell: bool) -> list[str]:
    """A list of strings from JSON, or from a CSV cell holding JSON or ``a|b|c``."""
    if value is None or value == "":
        return []
    if csv_cell and isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise EvalInputError(f"{where}: {name} is not a valid JSON list ({exc.msg}).") from None
        else:
            return [part.strip() for part in text.split("|") if part.strip()]
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalInputError(f"{where}: {name} must be a list of strings, got {value!r:.80}.")
    return list(value)


def _as_history(value: Any, where: str, *, csv_cell: bool) -> list[dict[str, str]]:
    if value is None or value == "":
        return []
    if csv_cell and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise EvalInputError(f"{where}: history must be a JSON list of {{role, content}} ({exc.msg}).") from None
    if not isinstance(value, list):
        raise EvalInputError(f"{where}: history must be a list of {{\"role\", \"content\"}} objects.")
    turns = []
    for turn in value:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ("user", "assistant")
            or not isinstance(turn.get("content"), str)
        ):
            raise EvalInputError(
                f"{where}: each history turn needs role 'user' or 'assistant' and a string content, got {turn!r:.80}."
            )
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise EvalInputError(f"{where}: answerable must be true or false, got {value!r}.")


def question_from_row(row: Mapping[str, Any], where: str, *, csv_cell: bool = False) -> EvalQuestion:
    """Validate one row; ``where`` ("file:line") prefixes every error so the user can fix that line."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalInputError(f"{where}: 'question' is missing or empty.")
    answers = _as_list(row.get("answers"), "answers", where, csv_cell=csv_cell)
    evidence = _as_list(row.get("evidence"), "evidence", where, csv_cell=csv_cell)
    raw_answerable = row.get("answerable")
    # Without the flag, a row with gold data is answerable; a bare question is one to decline.
    answerable = bool(answers or evidence) if raw_answerable in (None, "") else _as_bool(raw_answerable, where)
    qtype = str(row.get("type") or ("factoid" if answerable else "unanswerable"))
    qid = str(row.get("id") or "").strip() or f"line{where.rsplit(':', 1)[-1]}"
    return EvalQuestion(
        id=qid,
        question=question,
        answerable=answerable,
        type=qtype,
        answers=answers,
        evidence=evidence,
        history=_as_history(row.get("history"), where, csv_cell=csv_cell),
    )


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a ``.jsonl`` (one object per line) or ``.csv`` question file; errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalInputError(f"Question file {path} does not exist. Pass a .jsonl or .csv file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"Question file {path} cannot be read as UTF-8 text: {exc}.") from None
    questions: list[EvalQuestion] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise EvalInputError(f"{path}:1: the CSV header needs a 'question' column (and id, answerable, ...).")
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            if None in row:  # more cells than header columns
                raise EvalInputError(f"{path}:{reader.line_num}: more cells than header columns (quote commas).")
            questions.append(question_from_row(row, f"{path}:{reader.line_num}", csv_cell=True))
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalInputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).") from None
            if not isinstance(row, dict):
                raise EvalInputError(f"{where}: expected a JSON object per line, got {type(row).__name__}.")
            questions.append(question_from_row(row, where))
    if not questions:
        raise EvalInputError(f"Question file {path} holds no questions.")
    seen: dict[str, int] = {}
    for i, q in enumerate(questions):
        if q.id in seen:
            raise EvalInputError(f"{path}: id {q.id!r} is used twice (questions {seen[q.id] + 1} and {i + 1}).")
        seen[q.id] = i
    return questions


# --------------------------------------------------------------------------- answer text


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                         "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
                         "\u2212": "-"})  # fmt: skip
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_INSIDE_WORD = re.compile(r"(?<=\w)[.,'](?=\w)")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization, plus curly quotes and dashes unified so the article's typography never matters.

    A point, comma or apostrophe inside a word is dropped ("50,000" == "50000", "U.S." == "US"); other punctuation
    separates words ("longer-range" == "longer range"), so a word glued to markup or a path is still found
    ("[HackerOne](https://...)" holds "HackerOne", "-i[SUFFIX]" holds "-i", "/etc/shadow" holds "shadow").
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = _ARTICLES.sub(" ", _PUNCT.sub(" ", _INSIDE_WORD.sub("", text)))
    return " ".join(text.split())


def is_yes_no(gold: str) -> bool:
    return normalize_answer(gold) in YES_NO


def answer_matches(answer: str, gold: str) -> bool:
    """Gold contained in the answer; a yes/no gold must be the answer's first word."""
    pred, ref = normalize_answer(answer), normalize_answer(gold)
    if not ref:
        return False
    if ref in YES_NO:
        return pred.split(" ", 1)[0] == ref
    return f" {ref} " in f" {pred} "  # whole words: "no" must not match inside "know"


def token_f1(answer: str, gold: str) -> float:
    """SQuAD token F1 between normalized answer and gold."""
    pred, ref = normalize_answer(answer).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class GoldSpan:
    """Where a gold evidence quote sits in the corpus."""

    source: str
    start: int
    end: int


def locate_evidence(evidence: Iterable[str], sources: Mapping[str, str]) -> tuple[list[GoldSpan], list[str]]:
    """Find each quote (every occurrence, in any source); return the spans and the quotes found nowhere.

    Runs of whitespace match any run of whitespace, so a quote may span a hard line break.
    """
    spans: list[GoldSpan] = []
    missing: list[str] = []
    for quote in evidence:
        words = quote.split()
        found = False
        if words:
            pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
            for source, text in sources.items():
                for match in pattern.finditer(text):
                    spans.append(GoldSpan(source, match.start(), match.end()))
                    found = True
        if not found:
            missing.append(quote)
    return spans, missing


def overlaps(source: str, start: int, end: int, gold: GoldSpan) -> bool:
    """Half-open ranges [start, end) of the same source share at least one character."""
    return source == gold.source and start < gold.end and gold.start < end


def _overlaps_any(source: str, start: int, end: int, gold: Sequence[GoldSpan]) -> bool:
    return any(overlaps(source, start, end, g) for g in gold)


def retrieval_metrics(passages: Sequence[Passage], gold: Sequence[GoldSpan], k: int | None = None) -> dict[str, Any]:
    """hit@1, hit@k and reciprocal rank of the first passage overlapping gold evidence (None without gold)."""
    if not gold:
        return {"hit_at_1": None, "hit_at_k": None, "reciprocal_rank": None}
    ranked = sorted(passages, key=lambda p: p.rank)
    k = len(ranked) if k is None else k
    first = next((i for i, p in enumerate(ranked, 1) if _overlaps_any(p.source, p.start, p.end, gold)), None)
    return {
        "hit_at_1": float(first == 1),
        "hit_at_k": float(first is not None and first <= k),
        "reciprocal_rank": 1.0 / first if first else 0.0,
    }


def citation_exactness(citations: Sequence[Citation], sources: Mapping[str, str]) -> float | None:
    """Fraction of citations whose text is exactly the source slice they claim (None without citations)."""
    if not citations:
        return None
    exact = sum(
        1 for c in citations if c.source in sources and 0 <= c.start <= c.end and sources[c.source][c.start : c.end] == c.text
    )
    return exact / len(citations)


def citation_metrics(citations: Sequence[Citation], gold: Sequence[GoldSpan]) -> dict[str, Any]:
    """Precision (cited spans on gold), recall (gold spans cited) and hit (any citation on gold).

    Precision is None without citations; recall and hit are None without gold, 0 when nothing is cited.
    """
    precision = (
        sum(_overlaps_any(c.source, c.start, c.end, gold) for c in citations) / len(citations)
        if citations and gold
        else None
    )
    if not gold:
        return {"citation_precision": precision, "citation_recall": None, "citation_hit": None}
    # Each quote may occur more than once; deduplicate by range so a repeated quote is not counted twice.
    unique = list(dict.fromkeys(gold))
    covered = sum(any(overlaps(c.source, c.start, c.end, g) for c in citations) for g in unique)
    return {
        "citation_precision": precision,
        "citation_recall": covered / len(unique),
        "citation_hit": float(covered > 0),
    }


# --------------------------------------------------------------------------- per question


@dataclass
class EvalResult(_JSON):
    """Every metric for one question; ``None`` means "not applicable", and is left out of means."""

    id: str
    type: str
    answerable: bool
    abstained: bool
    passed: bool  # the headline verdict: right answer, or a right refusal
    answer_correct: float | None = None
    token_f1: float | None = None
    hit_at_1: float | None = None
    hit_at_k: float | None = None
    reciprocal_rank: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    citation_hit: float | None = None
    citation_exactness: float | None = None
    abstention_correct: bool = False
    false_abstention: bool = False
    n_citations: int = 0
    n_passages: int = 0
    missing_evidence: list[str] = field(default_factory=list)  # gold quotes found in no source: fix the question
    latency_s: float = 0.0
    ttft_s: float = 0.0


def evaluate_answer(
    question: EvalQuestion, answer: Answer, sources: Mapping[str, str], k: int | None = None
) -> EvalResult:
    """Score one ``Answer`` against its question's gold data; ``k`` defaults to the number of passages."""
    gold, missing = locate_evidence(question.evidence, sources)
    metrics: dict[str, Any] = {}
    if question.answerable:
        metrics.update(retrieval_metrics(answer.passages, gold, k))
        metrics.update(citation_metrics(answer.citations, gold))
        if question.answers:
            # (without its citation markers: "0 [1]" does not answer "1")
            text = "" if answer.abstained else strip_markers(answer.answer)
            metrics["answer_correct"] = float(any(answer_matches(text, g) for g in question.answers))
            metrics["token_f1"] = max(token_f1(text, g) for g in question.answers)
    else:
        metrics["citation_precision"] = None  # nothing is gold, so precision says nothing
    abstention_correct = answer.abstained != question.answerable
    if question.answerable:
        passed = not answer.abstained and metrics.get("answer_correct", 1.0) == 1.0
    else:
        passed = answer.abstained
    return EvalResult(
        id=question.id,
        type=question.type,
        answerable=question.answerable,
        abstained=answer.abstained,
        passed=passed,
        citation_exactness=citation_exactness(answer.citations, sources),
        abstention_correct=abstention_correct,
        false_abstention=question.answerable and answer.abstained,
        n_citations=len(answer.citations),
        n_passages=len(answer.passages),
        missing_evidence=missing,
        latency_s=answer.timings.total_s,
        ttft_s=answer.timings.ttft_s,
        **metrics,
    )


# --------------------------------------------------------------------------- summaries


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), ``q`` in 0..100; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# Metrics averaged over the questions where they apply; the summary table shows them in this order.
MEAN_METRICS = (
    "answer_correct",
    "token_f1",
    "hit_at_1",
    "hit_at_k",
    "reciprocal_rank",
    "citation_precision",
    "citation_recall",
    "citation_hit",
    "citation_exactness",
)


@dataclass
class EvalSummary(_JSON):
    """Aggregates over a set of results; ``by_type`` holds the same summary per question type."""

    n: int = 0
    n_answerable: int = 0
    n_should_abstain: int = 0
    pass_rate: float | None = None
    answer_accuracy: float | None = None
    token_f1: float | None = None
    hit_at_1: float | None = None
    hit_at_k: float | None = None
    mrr: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    citation_hit_rate: float | None = None
    citation_exactness: float | None = None
    abstention_accuracy: float | None = None  # right decision to answer or decline, over all questions
    abstention_precision: float | None = None  # of the refusals, how many were meant to be refusals
    abstention_recall: float | None = None  # of the questions to refuse, how many were refused
    false_abstention_rate: float | None = None  # answerable questions refused
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    failed: list[str] = field(default_factory=list)
    by_type: dict[str, EvalSummary] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "by_type"}
        data["failed"] = list(self.failed)
        data["by_type"] = {name: s.to_dict() for name, s in self.by_type.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        by_type = {name: cls.from_dict(s) for name, s in (data.pop("by_type", None) or {}).items()}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names}, by_type=by_type)


def summarize(results: Sequence[EvalResult], *, by_type: bool = True) -> EvalSummary:
    """Means skip ``None``; ttft percentiles skip zeros (no text was streamed, e.g. a refusal)."""
    answerable = [r for r in results if r.answerable]
    should_abstain = [r for r in results if not r.answerable]
    refused = [r for r in results if r.abstained]
    means = {m: _mean(getattr(r, m) for r in results) for m in MEAN_METRICS}
    latencies = [r.latency_s for r in results]
    ttfts = [r.ttft_s for r in results if r.ttft_s > 0]
    groups: dict[str, list[EvalResult]] = defaultdict(list)
    for r in results:
        groups[r.type].append(r)
    return EvalSummary(
        n=len(results),
        n_answerable=len(answerable),
        n_should_abstain=len(should_abstain),
        pass_rate=_mean(r.passed for r in results),
        answer_accuracy=means["answer_correct"],
        token_f1=means["token_f1"],
        hit_at_1=means["hit_at_1"],
        hit_at_k=means["hit_at_k"],
        mrr=means["reciprocal_rank"],
        citation_precision=means["citation_precision"],
        citation_recall=means["citation_recall"],
        citation_hit_rate=means["citation_hit"],
        citation_exactness=means["citation_exactness"],
        abstention_accuracy=_mean(r.abstention_correct for r in results),
        abstention_precision=_ratio(sum(not r.answerable for r in refused), len(refused)),
        abstention_recall=_ratio(sum(r.abstained for r in should_abstain), len(should_abstain)),
        false_abstention_rate=_ratio(sum(r.false_abstention for r in answerable), len(answerable)),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        ttft_p50_s=percentile(ttfts, 50),
        ttft_p95_s=percentile(ttfts, 95),
        failed=[r.id for r in results if not r.passed],
        by_type={t: summarize(rs, by_type=False) for t, rs in sorted(groups.items())} if by_type else {},
    )


# --------------------------------------------------------------------------- runs


@dataclass
class QuestionRun:
    """One question as asked: the gold row, what the pipeline answered, and its scores."""

    question: EvalQuestion
    answer: Answer
    result: EvalResult
    error: str = ""  # a RagError raised while answering, recorded instead of aborting the whole run


@dataclass
class ConfigRun:
    """Everything one configuration produced."""

    name: str
    config: Any
    overrides: list[tuple[str, str]]
    runs: list[QuestionRun]
    summary: EvalSummary
    pipeline_info: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
