"""Turn a follow-up ("And what holds it back?") into a standalone question using the chat history.

Rule-based on purpose: the packaged LMs are too small to rewrite reliably, and a wrong rewrite
silently answers a different question. Pronouns are resolved to the subject of the previous
user question; "what about X?" swaps X into it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .cite import MARKER
from .errors import InvalidQuestionError
from .guard import CONTROL_CHARS as _CONTROL
from .text import STOPWORDS, WHAT_IS, content_terms, is_demonym

_LEAD = re.compile(r"^\s*(?:and|but|so|also|then|ok|okay|well)\b[\s,]*", re.IGNORECASE)
_WHAT_ABOUT = re.compile(r"^\s*(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?P<p>it|its|they|them|their|he|him|his|she|her|this|that|these|those)\b", re.IGNORECASE)
_DEMONSTRATIVE_ONLY = re.compile(r"^\s*(?:why|how|how so|really|is that so|why is that|why so)\W*$", re.IGNORECASE)
_NAME = re.compile(r"(?:[A-Z][\w.’'-]*(?:\s+(?:of\s+)?[A-Z][\w.’'-]*)*)")
_QWORDS = {"what", "who", "why", "how", "when", "where", "which", "does", "do", "did", "is", "are", "was", "were",
           "can", "could", "will", "would", "should", "has", "have", "the", "a", "an", "and", "but", "so", "i"}


def normalize_history(history: Sequence[Any] | None, max_turns: int, max_chars: int = 4000) -> list[dict[str, str]]:
    """Accept dicts or Message objects; keep the last ``max_turns`` messages with a known role and text.

    History is input too: its text gets the same character cleaning as a question and is cut to its
    last ``max_chars`` characters, so no turn can smuggle binary junk or megabytes into the models.
    """
    out: list[dict[str, str]] = []
    for item in history or ():
        role = getattr(item, "role", None) or (item.get("role") if isinstance(item, dict) else None)
        content = getattr(item, "content", None) or (item.get("content") if isinstance(item, dict) else None)
        if role not in ("user", "assistant"):
            raise InvalidQuestionError(f"History messages need role 'user' or 'assistant', got {role!r}.")
        if not isinstance(content, str):
            raise InvalidQuestionError("Each history message needs text content.")
        out.append({"role": role, "content": re.sub(r"\s+", " ", _CONTROL.sub(" ", content))[-max_chars:].strip()})
    return out[-max_turns:] if max_turns > 0 else []


# A short answer of at most this many words is a thing a following "it" may mean; one that opens with an article is
# a noun phrase up to the longer bound ("An upgrade of the U.S. military command in <country>.": "what's that
# supposed to improve?" asks about the upgrade, not the previous question's subject).
SHORT_ANSWER_WORDS = 8
ANSWER_PHRASE_WORDS = 12
_SENTENCE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|does|did|will|would|can|could|says?|said)\b", re.I)
_QUANTITY = re.compile(r"^(?:around|about|roughly|some|over|under|nearly|almost|more|less|at (?:least|most)|up to|yes|no|\d)",
                       re.IGNORECASE)
# Where an answer's leading noun phrase ends: "-j (--jobs): it sets ...", "Section 6, Trademarks: the License ...".
# (Not at a comma: "Section 6" of "Section 6, Trademarks" says less than the whole.)
_LEAD_END = re.compile(r":| \(| [—–-] ")
_PRONOUN_START = re.compile(r"^(?:it|they|this|that|these|those|he|she|we|you|i)\b", re.IGNORECASE)
_PERSONAL = {"he", "him", "his", "she", "her"}
_ASKS_WHO = re.compile(r"^\W*(?:who|whom)\b", re.IGNORECASE)


# A name written as code: "ms_print", "mime.cache" (a lower-case word is no proper noun, but names a thing all the same).
# ("U.S.", "e.g." are abbreviations: one part of at least three characters, or an underscore, makes a name.)
_CODE_NAME = re.compile(r"(?<![\w./-])(?=[\w.]*(?:_|[A-Za-z0-9]{3}))[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+(?![\w/-]|\.\w)")


def subject_of(question: str) -> str:
    """The main named thing of a question: its first proper-noun phrase (not a demonym) or name written as code,
    else its content words."""
    code = _CODE_NAME.search(question)
    for match in _NAME.finditer(question):
        if code and code.start() < match.start():
            break
        words = [w for w in match.group().split() if w.lower() not in _QWORDS]
        while words and words[0].lower() in STOPWORDS:  # "Under Section 4, ...", "According to ...": a capital, no name
            words.pop(0)
        if words and not (len(words) == 1 and is_demonym(words[0])):
            return " ".join(words).strip("?.,")
    if code:
        return code.group()
    words = [w for w in re.findall(r"[\w’'-]+", question) if w.lower() not in STOPWORDS | _QWORDS]
    return " ".join(words)


def _answer_entity(answer: str) -> str:
    """A short noun-phrase answer ("The Suez Canal.") is what a following "it"/"he" most likely means; of a longer
    answer, the noun phrase it starts with ("-j (--jobs): it sets how many jobs run" -> "-j")."""
    text = MARKER.sub("", answer).strip().rstrip(".!")
    words = text.split()
    if len(words) > SHORT_ANSWER_WORDS and (lead := _LEAD_END.search(text)):
        text = text[: lead.start()].strip()
        words = text.split() if len(text.split()) <= 5 else []
    longest = ANSWER_PHRASE_WORDS if words and words[0].lower() in ("the", "a", "an") else SHORT_ANSWER_WORDS
    if not 0 < len(words) <= longest or _QUANTITY.match(text) or _SENTENCE_VERB.search(text) or _PRONOUN_START.match(text):
        return ""
    return text[:1].lower() + text[1:] if words[0].lower() in ("the", "a", "an") else text


def needs_context(question: str) -> bool:
    if _LEAD.match(question) or _WHAT_ABOUT.match(question) or _DEMONSTRATIVE_ONLY.match(question):
        return True
    return bool(_PRONOUN.search(question)) or len(content_terms(question)) < 2


def rewrite(question: str, history: list[dict[str, str]]) -> str:
    """A standalone version of ``question``; unchanged when there is no history or no reference to it."""
    users = [m["content"] for m in history if m["role"] == "user"]
    answers = [m["content"] for m in history if m["role"] == "assistant"]
    if not users or not needs_context(question):
        return question
    previous = users[-1].strip()
    body = _LEAD.sub("", question).strip()
    if m := _WHAT_ABOUT.match(body):
        subject = subject_of(previous)
        if subject and subject in previous:
            return previous.replace(subject, m.group("x").strip(), 1)
        return f"{previous.rstrip('?')} — {m.group('x')}?"
    if _DEMONSTRATIVE_ONLY.match(body):
        claim = answers[-1] if answers else previous
        claim = MARKER.sub("", claim).strip().rstrip(".")
        return f"Why is it that {claim[:1].lower()}{claim[1:]}?"
    entity = _answer_entity(answers[-1]) if answers else ""
    subject = subject_of(previous)
    if not subject and not entity:
        return f"{body} ({previous})"

    def resolve(match: re.Match[str]) -> str:
        p = match.group("p").lower()
        target = entity or subject
        if p in _PERSONAL and not _NAME.search(target):
            target = subject  # "he" needs a person's name; a short answer like "doubling" is not one
        if p not in _PERSONAL and p not in ("they", "them", "their") and (_ASKS_WHO.match(previous) or WHAT_IS.match(previous)):
            # "Who stewards the license?" "The Foundation." "Can others revise it?": the license. After "What is the
            # cache file?" the answer describes the thing asked about, and "it" still means that thing.
            target = subject
        if p in ("its", "their", "his", "her"):
            return f"{target}’s"
        return target

    resolved, count = _PRONOUN.subn(resolve, body, count=1)
    if count == 0:
        return f"{body.rstrip('?')} ({subject})?"
    return resolved[:1].upper() + resolved[1:]
