"""Amounts a question gives, and the ranges of a policy's tiers that hold them.

"Who approves a $5,000 purchase?" is answered by "$1,000 to $25,000: the department head.", a line that never
says 5,000: policies state limits as tiers ("up to", "over", "A to B"), and the user asks about one value. Only
an amount with a currency sign, or a number with a unit word ("4 years", "12 days"), is read: a bare number is too
often a version, a section or a count to be held to a range.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import stem

_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_CURRENCY = "$€£¥"
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mn": 1e6, "bn": 1e9, "billion": 1e9}
_SCALE_WORD = r"(?:k|m|mn|bn|thousand|million|billion)\b"
# "$5,000", "€2.5k", "£3 million"; "5,000 USD" is read through its unit word.
_MONEY = rf"(?P<cur>[{_CURRENCY}])\s?(?P<num>{_NUMBER})\s*(?P<scale>{_SCALE_WORD})?"
# "4 years", "12 working days", "30 GB": a number and the word that says what it counts (one word may come between).
_COUNTED = rf"(?<![\w.{_CURRENCY}-])(?P<num2>{_NUMBER})\s*(?:[a-z]+\s+)??(?P<unit>[a-z]{{2,}})\b"
_AMOUNT = re.compile(rf"{_MONEY}|{_COUNTED}", re.IGNORECASE)
# Words after a number that say what kind of number it is, not what it counts ("5 or more", "3 to 5 years").
_NOT_UNITS = frozenset("""to and or of the a an in on at by for from with up over under than is are was were be
    per each every more less fewer most least plus through until till before after""".split())
# Singular words that measure ("1 year", "5 GB"); any other unit word is a plural ("10 employees").
_UNITS = re.compile(r"(?:second|minute|hour|day|week|month|year|percent|kb|mb|gb|tb|kg|km|mile|user|seat|employee|"
                    r"person|night|page|item|unit)", re.I)
_LOW = r"(?:up\s+to|under|below|less\s+than|fewer\s+than|at\s+most|no\s+more\s+than|not\s+more\s+than|maximum(?:\s+of)?|max\.?|≤|<=?)"
_HIGH = r"(?:over|above|more\s+than|greater\s+than|at\s+least|in\s+excess\s+of|exceeding|minimum(?:\s+of)?|min\.?|≥|>=?)"
_HIGH_AFTER = r"(?:\+|\s+or\s+(?:more|above|over|greater|higher)|\s+and\s+(?:above|over|up|more|higher))"


@dataclass(frozen=True)
class Amount:
    value: float
    unit: str  # the currency sign, or the stem of the unit word


def _amount(m: re.Match[str]) -> Amount | None:
    if m.group("num") is not None:
        value = float(m.group("num").replace(",", "")) * _SCALE.get((m.group("scale") or "").lower(), 1.0)
        return Amount(value, m.group("cur"))
    unit = m.group("unit").lower()
    if unit in _NOT_UNITS or unit in _SCALE or not (_UNITS.fullmatch(unit) or re.fullmatch(r"[a-z]+[^s]s", unit)):
        return None  # (a unit is a plural or a measure: "3 say" of "what does section 3 say" counts nothing)
    return Amount(float(m.group("num2").replace(",", "")), stem(unit))


def amounts(text: str) -> list[Amount]:
    """The amounts a text gives: "$5,000" and "4 years", not "2.4.0", "section 3" or a bare "12"."""
    return [a for m in _AMOUNT.finditer(text) if (a := _amount(m)) is not None]


# One end of a range: a money amount, or a number whose unit word may come after the range's other end ("3 to 5 years").
_END = rf"(?:[{_CURRENCY}]\s?{_NUMBER}(?:\s*{_SCALE_WORD})?|{_NUMBER})"
_BETWEEN = re.compile(rf"(?:between\s+|from\s+)?(?P<a>{_END})\s*(?:to|-|–|—|and|through)\s*(?P<b>{_END})(?P<tail>\s*[a-z]+)?", re.I)
_BELOW = re.compile(rf"{_LOW}\s*(?P<a>{_END})(?P<tail>\s*[a-z]+)?", re.I)
_ABOVE = re.compile(rf"{_HIGH}\s*(?P<a>{_END})(?P<tail>\s*[a-z]+)?|(?P<b>{_END})(?P<tail2>\s*[a-z]+)?{_HIGH_AFTER}", re.I)


def _end(text: str, tail: str | None, other: str = "") -> Amount | None:
    """An end of a range as an amount: its currency sign, or the unit word after it (or after the other end)."""
    m = _AMOUNT.match(text.strip() + (tail or ""))
    if m is not None and (found := _amount(m)) is not None:
        return found
    m = _AMOUNT.match(other.strip() + (tail or "")) if other else None
    if m is not None and (found := _amount(m)) is not None and found.unit not in _CURRENCY:
        return Amount(float(re.sub(r"[^\d.]", "", text) or 0), found.unit)
    return None


def holds(sentence: str, asked: Amount) -> bool:
    """Does a tier the sentence states ("$1,000 to $25,000", "up to $1,000", "over 5 years", "10+ days") hold the
    asked amount, in the same currency or unit?"""
    for m in _BETWEEN.finditer(sentence):
        low, high = _end(m.group("a"), None, m.group("b")) or _end(m.group("a"), m.group("tail")), _end(m.group("b"), m.group("tail"))
        if low and high and low.unit == high.unit == asked.unit and low.value <= asked.value <= high.value:
            return True
    for m in _BELOW.finditer(sentence):
        if (top := _end(m.group("a"), m.group("tail"))) and top.unit == asked.unit and asked.value <= top.value:
            return True
    for m in _ABOVE.finditer(sentence):
        end = _end(m.group("a"), m.group("tail")) if m.group("a") else _end(m.group("b"), m.group("tail2"))
        if end and end.unit == asked.unit and asked.value >= end.value:
            return True
    return False


def holds_any(sentence: str, asked: Sequence[Amount]) -> bool:
    """Does a tier the sentence states hold any of the asked amounts?"""
    return any(holds(sentence, a) for a in asked)


def states_tier(sentence: str) -> bool:
    """Is the sentence a tier's line: a range at its start (or in a table cell) that labels what follows ("Over
    $25,000: the CFO.", "3 to 5 years: 25 days", "| $1,000 to $25,000 | department head |")? A range inside a
    sentence ("Employees with at least 3 years of service can apply.") is a condition, not a tier of a list."""
    for pattern in (_BETWEEN, _BELOW, _ABOVE):
        for m in pattern.finditer(sentence):
            lead, rest = sentence[: m.start()], sentence[m.end() :]
            if re.fullmatch(r"[\s•*·|-]*|.*\|\s*", lead) and re.match(r"\s*(?:[a-z]+\s*)?[:|–—]", rest, re.I):
                return True
    return False
