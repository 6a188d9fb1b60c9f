"""Where a short answer stands in a sentence: found through case, quotes, whitespace and markup, then grown to a
whole unit (a figure with what it counts, an option with its other spelling, the noun phrase the question asks for).

The LM proposes a phrase; these functions decide which exact characters of the document it is, so an answer is
always document text at its own offsets.
"""

from __future__ import annotations

import itertools
import re

from .text import STOPWORDS, content_terms, fuzzy_in, stem, stems

# (A range's ellipsis too: "60514…60577" is copied as "60514-60577".)
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "…": "-"})
# What a reader skips and a small LM drops when it copies: Markdown emphasis and code marks, escapes ("\\_"), and
# bracketed reference tags without spaces ("red[R], green[G]" is copied as "red, green").
_MARKUP = re.compile(r"[`*\\]|(?<!\w)_{1,2}|_{1,2}(?!\w)|\[[^\]\s]{1,40}\]")


def _pattern(words: list[str]) -> re.Pattern[str]:
    """The words in order, whole: a phrase never starts or ends inside a word ("-i" is not the "-i" of "script-if")."""
    head = r"(?<!\w)" if words[0][:1].isalnum() else ""
    tail = r"(?!\w)" if words[-1][-1:].isalnum() else ""
    # ... nor a figure inside a bigger one: "5 days" is not the end of "1.5 days", "1" not the start of "1,000".
    head += r"(?<!\d[.,])" if words[0][:1].isdigit() else ""
    tail += r"(?![.,]\d)" if words[-1][-1:].isdigit() else ""
    return re.compile(head + r"\s+".join(re.escape(w) for w in words) + tail, re.IGNORECASE)


def _find(phrase: str, text: str) -> tuple[int, int] | None:
    """Where ``phrase`` stands in ``text``, ignoring case, quote style and runs of whitespace, and failing that
    the markup the LM left out; an LM writes "…" as "..." ("61184...65519" of "61184…65519")."""
    found = _find_as_written(phrase, text)
    if found is None and "..." in phrase:
        found = _find_as_written(phrase.replace("...", "…"), text)
    if found is None and (spelled := _SMALL_NUMBER.sub(lambda m: _NUMBER_WORDS[int(m.group())], phrase)) != phrase:
        found = _find_as_written(spelled, text)  # "2" of "only two bytes": the LM writes the figure in digits
    return found


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_SMALL_NUMBER = re.compile(r"(?<![\d.,])\b(?:1?\d|20)\b(?![.,]\d)")


def _find_as_written(phrase: str, text: str) -> tuple[int, int] | None:
    words = phrase.translate(_QUOTES).split()
    if not words:
        return None
    text = text.translate(_QUOTES)
    if match := _pattern(words).search(text):
        return match.start(), match.end()
    kept = [i for i, _ in enumerate(text)]  # the markup-free text, and where each of its characters stands
    for cut in reversed(list(_MARKUP.finditer(text))):
        del kept[cut.start() : cut.end()]
    bare_words = _MARKUP.sub("", " ".join(words)).split()
    if not kept or not bare_words:
        return None
    match = _pattern(bare_words).search("".join(text[i] for i in kept))
    return (kept[match.start()], kept[match.end() - 1] + 1) if match else None


_LIST_SEPARATOR = re.compile(r"\s*(?:,|;|\band\b|\bor\b|&)\s*", re.IGNORECASE)


def _find_list(phrase: str, text: str) -> tuple[int, int] | None:
    """A list the LM re-punctuated ("red, green, blue" of "red, green and blue"): every item in order, close together;
    the answer is the document's own stretch from the first item to the last."""
    items = [item for item in _LIST_SEPARATOR.split(phrase) if item.strip()]
    if len(items) < 2:
        return None
    spans, pos = [], 0
    for item in items:
        found = _find(item, text[pos:])
        if found is None:
            return None
        spans.append((pos + found[0], pos + found[1]))
        pos += found[1]
    start, end = spans[0][0], spans[-1][1]
    return (start, end) if end - start <= 2 * len(phrase) + 20 else None


# A whole sentence this short is a term or a value (a definition list's "ffi_type_pointer", a URL on its own line):
# copied whole, it is the answer. A longer one copied whole only repeats the extractive answer.
SHORT_SENTENCE_WORDS = 8


# A bare figure reads better with what it counts: "5" for "how long may it be" is "5 words" in the sentence.
_BARE_FIGURE = re.compile(rf"\d[\d,.]*|(?i:{'|'.join(_NUMBER_WORDS)})")
# (Not the first letter of an abbreviation: "50,000 U.S. troops" does not count "U"s.)
_UNIT_AFTER = re.compile(r"[ \t]+([A-Za-z]+)\b(?!\.[A-Za-z])")


def with_unit(sentence: str, start: int, end: int) -> int:
    """Where a bare figure's answer ends once the word it counts (not a stopword) is taken in."""
    if not _BARE_FIGURE.fullmatch(sentence[start:end]):
        return end
    unit = _UNIT_AFTER.match(sentence, end)
    return unit.end() if unit and unit.group(1).lower() not in STOPWORDS else end


# A date copied without its year: "Mar 02" of "Mar 02, 2026", "2 March" of "2 March 2026".
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY_MONTH_END = re.compile(rf"(?:\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH})$")
_YEAR_AFTER = re.compile(r",?[ \t]+\d{4}\b")


def with_year(sentence: str, start: int, end: int) -> int:
    """Where a date's answer ends once the year that follows its day and month is taken in."""
    if _DAY_MONTH_END.search(sentence[start:end]) and (year := _YEAR_AFTER.match(sentence, end)):
        return year.end()
    return end


# A command-line option as manuals list it with its other spelling: "-m NUM, --max-count=NUM", "-i[SUFFIX],
# --in-place[=SUFFIX]". A short answer that is one of them is the whole entry: people search for either.
_OPTION_ENTRY = re.compile(r"(?<![\w-])-\w(?:\[?[ =]?[A-Z][A-Z_]*\]?)?,[ \t]*--\w[\w-]*(?:\[?=[A-Z][\w-]*\]?)?")


def with_alias(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Where an option's answer stands once its other spelling is taken in."""
    if not re.fullmatch(r"--?\w[\w-]*", sentence[start:end]):
        return start, end
    for entry in _OPTION_ENTRY.finditer(sentence):
        if entry.start() <= start and end <= entry.end():
            return entry.start(), entry.end()
    return start, end


# A small LM copies the least it can: "Acme" of "Acme's export rules", "transparent yet secure" of "transparent yet
# secure data-sharing environment" for "What environment ...?". The phrase is completed through a possessive and
# the words after it, or up to the kind of thing the question asks for ("what era" -> "post-war era"), never more
# than ``COMPLETE_MAX_WORDS`` words, never across a stopword or punctuation.
COMPLETE_MAX_WORDS = 3
_NEXT_WORD = re.compile(r"(?:[ \t]+|[ \t]*\n[ \t]*)([A-Za-z][\w-]*(?:[./][\w-]+)*)")
_POSSESSIVE = re.compile(r"[’']s\b")
_WHO = re.compile(r"^\W*(?:who|whom|whose)\b", re.IGNORECASE)  # "Smith", not "Smith's announcement"
# The one or two words after "what"/"which" ("what kind of" ...) name the kind of thing asked for, unless a third
# word follows that is no stopword: "What revealed US military intentions" is a clause.
_WH_KIND = re.compile(
    r"\b(?:what|which)\s+(?:(?:kind|sort|type)s?\s+of\s+)?([\w./-]+(?:\s+[\w./-]+)?)(?=\s*(?:$|[^\w\s]|([\w']+)))",
    re.IGNORECASE,
)


def _following_words(sentence: str, pos: int) -> list[re.Match[str]]:
    out: list[re.Match[str]] = []
    while len(out) < COMPLETE_MAX_WORDS and (m := _NEXT_WORD.match(sentence, pos)) and m.group(1).lower() not in STOPWORDS:
        out.append(m)
        pos = m.end()
    return out


def _word_stems(word: str) -> set[str]:
    return {stem(part) for part in re.split(r"[-/]", word.lower()) if part}


_ASKS_OWNER = re.compile(r"\b(?:whose|(?:which|what)\s+\w+['’]s)\b", re.IGNORECASE)


def completed(sentence: str, start: int, end: int, question: str) -> int:
    """Where a short answer ends once completed to the noun phrase the question asks for."""
    # (Not for "who ...?" nor "which company's ...?": they ask for the owner, "Acme" of "Acme's pricing".)
    if not _WHO.match(question) and not _ASKS_OWNER.search(question) and (possessive := _POSSESSIVE.match(sentence, end)):
        if words := _following_words(sentence, possessive.end()):
            return words[-1].end()
    wh = _WH_KIND.search(question)
    if not wh:
        return end
    words = wh.group(1).split()
    kind = list(itertools.takewhile(lambda w: w.lower() not in STOPWORDS, words))
    if len(kind) == len(words) and wh.group(2) and wh.group(2).lower() not in STOPWORDS:
        return end
    asked = set().union(*map(_word_stems, kind))
    if not asked or stems(sentence[start:end]) & asked:
        return end  # the answer already says what it is
    hits = [m for m in _following_words(sentence, end) if _word_stems(m.group(1)) & asked]
    return hits[-1].end() if hits else end


# An identifier as manuals write them: an option, a path, a snake_case or dotted name, an ALL-CAPS constant.
_CODE = re.compile(r"^(?:--?|/)\w|\w_\w|\w[./:]\w|^[A-Z][A-Z0-9_]+\b")


# A lone word this rare in English (wordfreq's Zipf scale: 3 = once per million words) names a thing or a way
# precisely enough to be an answer ("gzip", "atomically"); a commoner one ("legacy", "courts") says too little.
LONE_WORD_MAX_ZIPF = 3.0


# "Which command ...", "what flag ...": the answer is code, often the question's own words in the order a shell takes.
_ASKS_FOR_CODE = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:command|flag|option|switch|function|method|keyword|"
                            r"invocation)s?\b", re.IGNORECASE)
_MIXED = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])\w+$")  # "i32", "python3": one word, not "i" and "32" ("32-bit" is two)


def _terms_of(text: str) -> list[str]:
    """Content terms, with a word of letters and digits kept whole ("i32" is no "32")."""
    words = [w.strip(".,;:!?()[]\"'“”‘’`") for w in text.split()]
    mixed = [w.lower() for w in words if _MIXED.match(w)]
    return content_terms(" ".join(w for w in words if not _MIXED.match(w))) + mixed


def says_something(phrase: str, question: str) -> bool:
    """A short answer must add to the question ("advanced weaponry" for "What advanced weaponry ...?" does not),
    and a lone common word ("legacy", "transparent") is too little: one word must be a figure, a name, code or rare."""
    if any(_CODE.search(w) and w.lower() not in question.lower() for w in phrase.split()):
        return True  # "--no-cache" for "Which flag skips the cache?": the identifier is the answer
    if len(phrase.split()) > 1 and _ASKS_FOR_CODE.search(question) and not occurs_in(phrase, question):
        return True  # "frob new" for "what command creates a new frob project?"
    terms = _terms_of(phrase)
    asked = set(_terms_of(question))
    if not terms or all(fuzzy_in(t, asked) for t in terms):  # "advanced weaponry" for "advanced weapons"
        return False
    words = phrase.split()
    if len(words) > 1 or re.search(r"\d|[^\w\s]|_|^[A-Z]", words[0]):
        return True
    from wordfreq import zipf_frequency

    return zipf_frequency(words[0].lower(), "en") < LONE_WORD_MAX_ZIPF  # "gzip", "atomically": specific enough


def locate(reply: str, sentence: str) -> tuple[int, int] | None:
    """Where the LM's ``reply`` stands in ``sentence`` (a list re-punctuated too), grown to take in the unit a bare
    figure counts and an option's other spelling; None when it is not there."""
    found = _find(reply, sentence) or _find_list(reply, sentence)
    if found is None:
        return None
    start, end = _with_code_marks(sentence, *found)
    return with_alias(sentence, start, with_year(sentence, start, with_unit(sentence, start, end)))


def _with_code_marks(text: str, start: int, end: int) -> tuple[int, int]:
    """A phrase found across inline code keeps its marks whole: "`a`, `b`", never "a`, `b"."""
    before = start > 0 and text[start - 1] == "`"
    after = end < len(text) and text[end] == "`"
    inner = text.count("`", start, end)
    if inner % 2 == 0 and inner and before and after:
        return start - 1, end + 1
    if inner % 2:
        return (start - 1, end) if before else (start, end + 1) if after else (start, end)
    return start, end


def occurs_in(phrase: str, text: str) -> bool:
    """Does ``phrase`` stand in ``text`` as whole words (case, quotes and whitespace aside)?"""
    return _find(phrase, text) is not None
