"""Input checks that run before any model: question validation and requests the assistant must refuse.

Refusals are decided from the question's form (instructions aimed at the assistant, requests
for other kinds of work), never by asking the LM, so no prompt can talk its way past them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from .errors import InvalidQuestionError

Intent = Literal["question", "injection", "off_topic"]

# (A word of a hyphenated name is none of these: "may a builder disregard Rules-Requires-Root?" asks about a field.)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}(?<![\w-])(?:instruction|instructions|prompt|rules|guidelines|"
    r"directions|context|above|previous|prior)(?![\w-])"
    r"|\b(?:system|hidden|initial|original|developer)\s+(?:prompt|message|instructions?)\b"
    r"|\b(?:reveal|print|show|repeat|output|display|leak|tell me)\b.{0,30}\b(?:prompt|instructions|rules|"
    r"configuration)\b"
    r"|\byou are (?:now|no longer)\b|\bpretend (?:to be|you are)\b|\brole-?play\b|\bjailbreak\b"
    r"|\bdeveloper mode\b|\bdo anything now\b|\bnew instructions\b|\bfrom now on,? you\b",
    re.IGNORECASE,
)

# Requests for work other than answering from the documents.
_OFF_TOPIC = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:write|compose|create|generate|draw|sing|make up|invent|"
    r"code|program|implement|translate|draft)\b(?!.{0,40}\b(?:summary|summarize|article)\b)"
    r"|\b(?:poem|poetry|haiku|limerick|song|lyrics|joke|jokes|riddle|recipe|horoscope|python function)\b"
    r"|^\s*(?:hi|hello|hey|thanks|thank you|good (?:morning|evening|afternoon))\b[\s!.?]*$",
    re.IGNORECASE,
)

# C0/C1 controls, U+FFFD and lone surrogates (undecodable argv bytes; they crash tokenizers and JSON encoders).
CONTROL_CHARS = _CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffd\ud800-\udfff]")


def clean_question(question: object, max_chars: int) -> str:
    """Normalize a question or raise ``InvalidQuestionError`` with a message a user can act on."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidQuestionError("The question is not valid UTF-8 text. Type it as plain text.") from None
    if not isinstance(question, str):
        raise InvalidQuestionError(f"The question must be text, not {type(question).__name__}.")
    if len(question) > max_chars * 4:  # cheap guard before any normalization of huge input
        raise InvalidQuestionError(
            f"The question is too long ({len(question):,} characters; the limit is {max_chars:,}). Shorten it."
        )
    text = unicodedata.normalize("NFC", question)
    controls = len(_CONTROL.findall(text))
    if controls and controls > max(2, len(text) // 20):
        raise InvalidQuestionError(
            "The question contains binary data or control characters. Type it as plain text."
        )
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InvalidQuestionError("The question is empty. Type a question about the documents.")
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"The question is too long ({len(text):,} characters; the limit is {max_chars:,}). Shorten it."
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestionError("The question has no words in it, only punctuation or symbols. Ask in words.")
    return text


_DAN = re.compile(r"\bDAN\b")  # the jailbreak persona, case-sensitive so the name "Dan" is fine


# In documents, only text addressed to an AI assistant counts as planted instructions: a manual may well
# say "show the configuration" or "ignore the previous output".
_PLANTED = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:(?:previous|prior|above|all|your) (?:instructions|prompts?|rules))\b"
    r"|\b(?:system|hidden|developer)\s+prompt\b|\byou are (?:now|no longer)\b|\bjailbreak\b"
    r"|\b(?:AI|language model|assistant|chatbot)s?\b.{0,40}\b(?:must|should|will) (?:say|answer|reply|respond)\b",
    re.IGNORECASE,
)


def is_planted_instruction(sentence: str) -> bool:
    """A document sentence that tries to instruct the assistant: never evidence, never shown to the LM."""
    return bool(_PLANTED.search(sentence) or _DAN.search(sentence))


def classify_intent(question: str) -> Intent:
    if _INJECTION.search(question) or _DAN.search(question):
        return "injection"
    if _OFF_TOPIC.search(question):
        return "off_topic"
    return "question"
