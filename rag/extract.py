"""The extractive reader: pick the article sentences that answer a question, or decide that none does.

Facts come from here, not from the LM: sentences of the retrieved passages are scored
against the question (embedding similarity, weighted term overlap, answer-type cues such
as a number for "how many"), and abstention is decided from the same signals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .config import AnswerConfig
from .embed import Embedder
from .guard import classify_intent
from .schema import Passage, Span
from .store import Index
from .text import DATE, NUMBER, content_terms, fuzzy_in, has_name, stems, term_weight, tokens

Kind = Literal["how_many", "when", "who", "where", "why", "yesno", "other"]

_AUX = r"(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might|must)"
_YESNO = re.compile(rf"^\s*{_AUX}\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow\s+(?:many|much)\b(?P<focus>(?:\s+(?!{aux}\b)[\w.’'-]+){{0,4}})".format(aux=_AUX), re.I)
_WHEN = re.compile(r"^\s*when\b|\b(?:what|which)\s+(?:date|year|day|month|time)\b|\bin what year\b", re.IGNORECASE)
_WHO = re.compile(r"^\s*(?:who|whom|whose)\b|\bwhat is the name of\b|\bwhat(?:'s| is) (?:his|her|their) name\b", re.I)
_WHERE = re.compile(r"^\s*where\b|\bin which (?:country|city|place|region)\b", re.IGNORECASE)
_WHY = re.compile(r"^\s*why\b|\bwhat (?:is|are) (?:driving|causing|behind)\b|\bfor what reason\b|\bhow come\b", re.I)
_CAUSAL = re.compile(r"\b(?:because|due to|driven by|as a result|since|so that|in order to|reflects|underscores|"
                     r"risks?|could lead|lead to|leads to|therefore|thus)\b", re.IGNORECASE)

_ANTONYMS = [
    ({"increas", "rais", "boost", "expand", "grow", "doubl", "tripl", "strengthen", "deepen", "more", "higher"},
     {"decreas", "cut", "reduc", "lower", "shrink", "slash", "weaken", "halv", "declin", "less", "fewer"}),
    ({"prais", "commend", "support", "back", "endors"}, {"critic", "critiqu", "oppos", "condemn", "attack"}),
    ({"alli", "partner", "friend"}, {"enemi", "adversari", "rival", "foe"}),
    ({"equal", "fair", "balanc"}, {"unequ", "unfair", "imbalanc"}),
    ({"accept", "agre", "approv"}, {"reject", "disagre", "refus"}),
    ({"transpar", "open", "public"}, {"secret", "classifi", "hidden"}),
]
_NEGATION = {"not", "no", "never", "n't", "without", "neither", "nor"}


@dataclass
class QuestionInfo:
    text: str
    kind: Kind
    terms: list[str]  # content stems
    focus: list[str] = field(default_factory=list)  # what "how many" counts


def analyze(question: str) -> QuestionInfo:
    kind: Kind = "other"
    focus: list[str] = []
    if m := _HOW_MANY.search(question):
        kind = "how_many"
        focus = content_terms(m.group("focus"))
    elif _WHEN.search(question):
        kind = "when"
    elif _WHO.search(question):
        kind = "who"
    elif _WHERE.search(question):
        kind = "where"
    elif _WHY.search(question):
        kind = "why"
    elif _YESNO.search(question):
        kind = "yesno"
    return QuestionInfo(question, kind, content_terms(question), focus)


@dataclass
class Evidence:
    sentence: Span
    passage: Passage
    score: float
    dense: float
    lexical: float
    type_ok: bool


def _type_ok(info: QuestionInfo, text: str) -> bool:
    if info.kind == "how_many":
        return bool(NUMBER.search(text)) and all(fuzzy_in(t, stems(text)) for t in info.focus[:1])
    if info.kind == "when":
        return bool(DATE.search(text))
    if info.kind == "who":
        return has_name(text)
    return True


def _weighted_coverage(terms: list[str], vocabulary: set[str]) -> float:
    total = sum(term_weight(t) for t in terms)
    if not total:
        return 0.0
    return sum(term_weight(t) for t in terms if fuzzy_in(t, vocabulary)) / total


@dataclass
class Decision:
    evidence: list[Evidence]
    abstain: bool
    why: str = ""  # for abstentions: what the article lacks
    yes_no: str = ""  # "Yes" / "No" for yes/no questions
    uncovered: list[str] = field(default_factory=list)


class Reader:
    """Scores sentences of retrieved passages; holds the corpus vocabulary for coverage checks."""

    def __init__(self, index: Index, embedder: Embedder, config: AnswerConfig) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config
        n = index.sentence_vectors.ntotal
        self._vectors = index.sentence_vectors.reconstruct_n(0, n) if n else np.zeros((0, embedder.dim), np.float32)
        self.vocabulary: set[str] = set()
        self._words: dict[str, str] = {}  # stem -> a surface form, for soft matching
        for doc in index.corpus.documents:
            for tok in tokens(doc.text):
                s = next(iter(stems(tok)), tok)
                self.vocabulary.add(s)
                self._words.setdefault(s, tok)
        self._by_chunk: dict[int, list[int]] = {}
        for chunk in index.chunks:
            self._by_chunk[chunk.id] = [
                i for i, s in enumerate(index.sentences)
                if s.source == chunk.source and s.start >= chunk.start and s.end <= chunk.end
            ]

    # -- scoring -----------------------------------------------------------------------------------------------
    def rank(self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray) -> list[Evidence]:
        seen: set[int] = set()
        out: list[Evidence] = []
        total_w = sum(term_weight(t) for t in info.terms) or 1.0
        for passage in passages:
            for sid in self._by_chunk.get(passage.chunk_id, []):
                if sid in seen:
                    continue
                seen.add(sid)
                span = self.index.sentences[sid]
                if classify_intent(span.text) == "injection":
                    continue  # a document's instructions are never an answer, nor shown to the LM as one
                dense = float(self._vectors[sid] @ qvec)
                vocab = stems(span.text) | stems(passage.heading)
                lexical = sum(term_weight(t) for t in info.terms if fuzzy_in(t, vocab)) / total_w
                type_ok = _type_ok(info, span.text)
                score = 0.55 * dense + 0.45 * lexical + 0.02 / passage.rank
                if info.kind in ("how_many", "when", "who"):
                    score += 0.08 if type_ok else -0.12
                elif info.kind == "why" and _CAUSAL.search(span.text):
                    score += 0.03
                out.append(Evidence(span, passage, round(score, 4), round(dense, 4), round(lexical, 4), type_ok))
        return sorted(out, key=lambda e: -e.score)

    def uncovered_terms(self, terms: list[str], context: str) -> list[str]:
        """Question terms the corpus never uses, even as a close synonym in the retrieved text."""
        missing = [t for t in terms if not fuzzy_in(t, self.vocabulary)]
        if not missing:
            return []
        candidates = sorted({w for w in tokens(context) if len(w) > 2})
        if not candidates:
            return missing
        vecs = self.embedder.embed([self._words.get(t, t) for t in missing] + candidates)
        sims = vecs[: len(missing)] @ vecs[len(missing) :].T
        return [t for t, row in zip(missing, sims, strict=True) if float(row.max()) < 0.62]

    # -- decision ----------------------------------------------------------------------------------------------
    def decide(self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray) -> Decision:
        ranked = self.rank(info, passages, qvec)
        if not ranked:
            return Decision([], True, "nothing relevant was retrieved")
        context = " ".join(p.text for p in passages)
        uncovered = self.uncovered_terms(info.terms, context)
        total = sum(term_weight(t) for t in info.terms) or 1.0
        missing_weight = sum(term_weight(t) for t in uncovered) / total
        best = ranked[0]
        if info.kind in ("how_many", "when") and not best.type_ok:
            typed = [e for e in ranked if e.type_ok and e.score >= best.score - 0.1]
            if not typed:
                what = "a number" if info.kind == "how_many" else "a date"
                return Decision(ranked[:1], True, f"the passages about this give no {what}", uncovered=uncovered)
            best = typed[0]
            ranked = [best] + [e for e in ranked if e is not best]
        if uncovered and missing_weight >= 0.45:
            return Decision(ranked[:1], True, "it never mentions " + _quote_terms(uncovered, info.text), uncovered=uncovered)
        if best.score < self.config.min_support:
            return Decision(ranked[:1], True, "no passage answers this closely enough", uncovered=uncovered)
        chosen = [best]
        for other in ranked[1:]:
            if len(chosen) >= 2:
                break
            close = other.score >= best.score - (0.08 if info.kind in ("why", "other") else 0.04)
            if close and other.lexical > 0 and other.sentence.text != best.sentence.text:
                chosen.append(other)
        decision = Decision(chosen, False, uncovered=uncovered)
        if info.kind == "yesno":
            decision.yes_no = yes_or_no(info, best.sentence.text, uncovered)
        return decision


def _quote_terms(stem_terms: list[str], question: str) -> str:
    """Show the user the words of their question that the article lacks, as they typed them."""
    words = []
    for tok in re.findall(r"[\w’'.-]+", question):
        if any(s in stem_terms for s in stems(tok)) and tok.lower() not in (w.lower() for w in words):
            words.append(tok.strip(".’'"))
    return ", ".join(f"“{w}”" for w in words) or "what you asked about"


def yes_or_no(info: QuestionInfo, sentence: str, uncovered: list[str]) -> str:
    """Yes when the sentence states the claim; No when it contradicts it or leaves its key words out."""
    q_stems = set(info.terms)
    s_stems = stems(sentence)
    for pos, neg in _ANTONYMS:
        q_pos, q_neg = _hits(q_stems, pos), _hits(q_stems, neg)
        s_pos, s_neg = _hits(s_stems, pos), _hits(s_stems, neg)
        if (q_pos and s_neg and not s_pos) or (q_neg and s_pos and not s_neg):
            return "No"
    q_negated = bool(_NEGATION & set(tokens(info.text)))
    s_negated = bool(_NEGATION & set(tokens(sentence)))
    if q_negated != s_negated:
        return "No"
    missing = [t for t in info.terms if not fuzzy_in(t, s_stems)]
    weight = sum(term_weight(t) for t in missing) / (sum(term_weight(t) for t in info.terms) or 1.0)
    return "Yes" if weight <= 0.3 else "No"


def _hits(stem_set: set[str], group: set[str]) -> bool:
    return any(any(s.startswith(g) for g in group) for s in stem_set)
