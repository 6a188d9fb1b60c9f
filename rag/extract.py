"""The extractive reader: pick the article sentences that answer a question, or decide that none does.

Facts come from here, not from the LM: sentences of the retrieved passages are scored
against the question (embedding similarity, weighted term overlap, answer-type cues such
as a number for "how many"), and abstention is decided from the same signals.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .config import FEATURE_WEIGHTS, AnswerConfig, ReaderConfig
from .embed import Embedder
from .guard import is_planted_instruction
from .chunk import HEADING_PATH, own_heading
from .lexicon import ANAPHOR as _ANAPHOR
from .lexicon import build_lexicon, sentences_by_chunk
from . import places
from .lists import run_around
from .ranges import amounts, holds_any, states_tier
from .schema import Passage, Span
from .store import Index
from .text import (
    DATE,
    NUMBER,
    PERIOD,
    STOPWORDS,
    WHAT_IS,
    acronyms,
    content_terms,
    fuzzy_in,
    has_name,
    mentions_people,
    name_roots,
    named_by_acronym,
    stem,
    stems,
    term_weight,
    tokens,
    verb_like,
)

Kind = Literal["summary", "how_many", "number", "when_exact", "when", "who", "where", "why", "yesno", "email", "url", "other"]

_AUX = r"(?:is|are|am|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might|must)"
# "According to the author, is ...", "Under version 3, am I ...", "the parser - does case matter": a short
# lead-in before the auxiliary still makes a yes/no question.
_YESNO = re.compile(rf"^\s*(?:(?:(?!\b(?:what|which|how)\b)[^,:;?]){{0,60}}(?:,|:|;|\s[-–—]+)\s*)?"
                    rf"(?:{_AUX}|ca|wo)?(?:{_AUX}\b|n['’]t\b|nnot\b)(?!\s+(?:it|that|this)\s+mean\b)",
                    re.IGNORECASE)
# "Under this license may I ship ...", "if I'm in the admin group can I ...": an auxiliary then its subject, mid-question,
# with no wh-word anywhere.
_YESNO_INNER = re.compile(r"\b(?:am|can|could|may|might|must|should|shall|do|does|did|will|would|is|are)\s+"
                          r"(?:i|we|you|they|he|she|one|it)\b", re.IGNORECASE)
_WH = re.compile(r"\b(?:what|which|who|whom|whose|where|when|why|how)\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow\s+(?:many|much)\b(?P<focus>(?:\s+(?!{aux}\b)[\w.’'-]+){{0,4}})".format(aux=_AUX), re.I)
_WHEN_EXACT = re.compile(r"\b(?:what|which)\s+(?:date|year|day|month)\b|\bin what year\b", re.IGNORECASE)
# "What number ...", "which version of ...", "what is the numeric value of ...": the answer is a figure.
_NUMBER_ASK = re.compile(
    r"\b(?:what|which)(?:\s+(?:is|are|was|were))?(?:\s+(?:the|a|an|its|their))?(?:\s+[\w.-]+){0,2}?\s+"
    r"(?:numbers?|version(?!\s+control)|percentage|numeric(?:al)?\s+[\w-]+)\b",  # ("which versions": "all supported ones")
    re.IGNORECASE,
)
# "What email address ...", "which e-mail ...", "what's the URL of ...": the answer is an address of that form.
# ("What URL scheme ...", "which email client ...": a word after it says the answer is something else.)
_NOT_ADDRESS = r"(?![\s-]+(?:schemes?|handlers?|formats?|grammar|patterns?|parameters?|fragments?|encoding|prefix|paths?|types?|"
_NOT_ADDRESS += r"styles?|fields?|clients?|headers?|servers?|notifications?|lists?|programs?|settings?|options?)\b)"
_EMAIL_ASK = re.compile(rf"\b(?:what|which)\b(?:\W+\w+){{0,3}}?\W+e-?mail\b{_NOT_ADDRESS}", re.I)
_URL_ASK = re.compile(rf"\b(?:what|which)\b(?:\W+\w+){{0,3}}?\W+(?:urls?|web\s+address(?:es)?|links?)\b{_NOT_ADDRESS}", re.I)
_ADDRESS_WORDS = ("email", "e-mail", "mail", "url", "urls", "address", "addresses", "web", "link", "links")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.[\w-]+\.\S+", re.I)
_WHEN = re.compile(r"^\s*when\b|\b(?:what|which)\s+(?:time|period|era)\b|\bsince when\b", re.IGNORECASE)
_WHO = re.compile(r"^\s*(?:who|whom|whose)\b|\bwhat (?:is|are) the names? of\b|\bwhat(?:'s| is) (?:his|her|their) name\b", re.I)
_WHERE = re.compile(
    r"^\s*where\b|\b(?:in|to|from|near)?\s*(?:which|what)(?: [A-Z][\w-]+)? (?:country|countries|city|cities|place|region|island|"
    r"islands|sea|base|port|capital)\b",
    re.IGNORECASE,
)
# "What did X call Y?", "What phrase ...": the answer is usually a quoted expression.
_QUOTE_ASK = re.compile(
    r"\b(?:call|calls|called|describe|describes|described|term|termed|label|labeled|labelled|dub|dubbed|"
    r"refer to|refers to|referred to)\b|\bwhat (?:phrase|word|words|term|expression|label)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"“[^”]{3,80}”|\"[^\"]{3,80}\"")
_WHY = re.compile(
    r"^\s*why\b|\bwhat (?:is|are) (?:driving|causing|behind)\b|\bfor what reason\b|\bhow come\b"
    r"|\bwhat (?:is|was|are) the (?:purpose|aim|goal|reason|point|intent)\b|\bwhat for\b",
    re.IGNORECASE,
)
_CAUSAL = re.compile(r"\b(?:because|due to|driven by|as a result|since|so that|in order to|reflects|underscores|"
                     r"risks?|could lead|lead to|leads to|therefore|thus|(?:intend|aim|seek|mean)s? to|"
                     r"(?:is|are) (?:meant|designed|intended) to|the (?:purpose|aim|goal|reason) (?:is|was)|otherwise|"
                     r"without (?:this|that|it),)\b", re.IGNORECASE)

_ANTONYMS = [
    ({"increas", "rais", "boost", "expand", "grow", "doubl", "tripl", "strengthen", "deepen", "more", "higher"},
     {"decreas", "cut", "reduc", "lower", "shrink", "slash", "weaken", "halv", "declin", "less", "fewer"}),
    ({"prais", "commend", "support", "back", "endors"}, {"critic", "critiqu", "oppos", "condemn", "attack"}),
    ({"alli", "partner", "friend"}, {"enemi", "adversari", "rival", "foe"}),
    ({"equal", "fair", "balanc"}, {"unequ", "unfair", "imbalanc"}),
    ({"accept", "agre", "approv"}, {"reject", "disagre", "refus"}),
    ({"transpar", "open", "public"}, {"secret", "classifi", "hidden"}),
]
_NEGATION = {"not", "no", "never", "n't", "cannot", "without", "neither", "nor"}


# "Even while X, what ...?" / "X, but what ...?": X is given; the sentence that answers is about the rest.
_PREMISE_FIRST = re.compile(
    r"^\s*(?:even (?:while|though|as|if)|despite|although|though|while|besides|apart from|aside from|after|"
    r"given(?: that)?|besides being)\b(?P<premise>[^,]+),\s*(?P<main>.+)$",
    re.IGNORECASE,
)
_PREMISE_WHO = re.compile(
    r"^\s*(?:the|a|an)\s+(?:\w+\s+){0,2}?(?:who|whose|that|which)\s+(?P<premise>.+?)\s+"
    r"(?P<main>(?:also|then|later|was|is|were|are|has|had|did|does|will|would|could)\b.+)$",
    re.IGNORECASE,
)
_PREMISE_BUT = re.compile(r"^(?P<premise>.+?),?\s+but\s+(?P<main>(?:what|who|whom|which|how|why|where|when)\b.+)$", re.I)


@dataclass
class QuestionInfo:
    text: str
    kind: Kind
    terms: list[str]  # content stems
    focus: str = ""  # what "how many" counts, as typed
    names: list[str] = field(default_factory=list)  # stems of capitalized words: named things asked about
    premise: list[str] = field(default_factory=list)  # terms of a clause the question takes as given
    main: str = ""  # the question without that clause
    name_words: dict[str, str] = field(default_factory=dict)  # name stem -> the word as typed


# "Summarize ...", "what is this about", "main points of ...", "give me the gist", "tl;dr". A summary noun asks for
# one only where it is what is wanted ("an overview of", "the gist?"), not where it names a thing ("In the summary
# table, which range ...?" asks for a row).
_SUMMARY = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:summari[sz]e|sum up|recap|outline)\b"
    r"|\b(?:summary|gist|overview|tl;?dr)(?=\s*(?:$|[^\w\s]|(?:of|for|on|about|in|please|pls|plz)\b))"
    r"|\b(?:main (?:points?|ideas?|takeaways?)|key (?:points?|takeaways?))\b"
    r"|^\s*what(?:'s| is| are)\s+(?:this|these|it|the)\s+(?:[\w.-]+\s+){0,5}?(?:all\s+)?about\s*\??\s*$",
    re.IGNORECASE,
)
# Words by which a question points at the document itself ("what is this page about"): no topic within it.
_SELF_WORDS = {stem(w) for w in ("page", "pages", "document", "doc", "docs", "article", "file", "text", "site", "wiki",
                                  "post", "paper", "writeup", "thing", "content", "contents", "pdf", "pdfs", "readme",
                                  "html", "markdown", "manual", "guide", "handbook", "chapter", "report", "brief",
                                  # ... and the words of the request ("summarize", "main points")
                                  "summarize", "summarise", "summary", "recap", "outline", "gist", "overview", "tldr",
                                  "main", "key", "point", "points", "idea", "ideas", "takeaway", "takeaways", "short")}

_CHOICE = re.compile(r"\w\s+or\s+(?!not\b)\w", re.IGNORECASE)

# A question that asks for several things: "list the ...", "what is listed under ...", "which kinds of ...", "what are
# the steps ...". Its answer is a whole list when the best sentence introduces one or is an item of one.
_SEVERAL = re.compile(
    r"^\W*(?:please\s+|can you\s+|could you\s+)?(?:list|enumerate|name\s+(?:all|the|every|some))\b|\blisted\b"
    r"|\b(?:what|which)\s+(?:are|were)\s+(?:the\s+|all\s+|some\s+)?(?:[\w-]+\s+){0,3}?(?P<plural>[a-z]{3,}s)\b"
    # "which kinds", "what API versions" (a word between only when it is an acronym: "which tool rebuilds" is a verb),
    # ... when a verb or "of" follows ("what happens to", "what keeps holding": verbs, not plurals)
    rf"|\b(?:what|which)\s+(?:(?-i:[A-Z0-9]{{2,}}[\w-]*)\s+)?(?P<plural2>[a-z]{{3,}}s)'?(?=\s*(?:$|[^\w\s']|(?:{_AUX}|did|do|of)\b))"
    # ... and nouns that name the parts of a list whatever follows ("which steps come before ...")
    r"|\b(?:what|which)\s+(?:[\w-]+\s+)?(?:steps|stages|phases|kinds|types|ways|options|requirements|prerequisites|"
    r"rules|conditions|reasons|features|methods|fields|parameters|limits)\b"
    # ... and what a release or a revision brought: "what's new in 2.4", "what changed in the last release"
    r"|\bwhat(?:'s|’s|\s+is|\s+was|\s+were|\s+has|\s+have)?(?:\s+been)?\s+(?:new|changed|added|fixed|removed|deprecated)\b",
    re.IGNORECASE,
)
# Words in "s" that are no plurals ("what does", "which process", "what status").
_NOT_PLURAL = re.compile(r"(?:ss|us|is|ous|[^e]as)$|^(?:does|this|was|has|its|his|hers|ours|yours|theirs|always|perhaps|"
                         r"unless|thus|whereas|besides|sometimes|towards|afterwards|news|lens|means|series|species)$", re.I)


def asks_several(question: str) -> bool:
    """Does the question ask for several things (a list), not for one?"""
    for m in _SEVERAL.finditer(question):
        word = m.group("plural") or m.group("plural2")
        if word is None or not _NOT_PLURAL.search(word):
            return True
    return False


# A question typed as a search that ends on what a figure gives ("frobd default port"), no wh-word in it.
_TERSE_FIGURE = re.compile(r"^(?!.*\b(?:what|which|who|whom|whose|where|when|why|how)\b)(?:[\w.+-]+\s+){0,6}"
                           r"(?:port|version|depth|timeout|limit|size|length)(?:\s+(?:number|no))?\s*\??$", re.I)
# "What mechanism lets me cap how many jobs run?": the first wh-word asks; "how many" is part of what it asks about.
_OTHER_WH_FIRST = re.compile(r"\W*(?:[^,?]*,\s*)?(?:what|which|who|whom|whose|where|when|why)\b(?!\W+how\b)", re.I)
# A clause's own wh-word, at the start or after a lead-in ("In the policy, where can I find which versions ...?"):
# what it asks comes before a figure the clause mentions ("which versions" there asks for no figure).
_LEAD_WH = re.compile(rf"^(?:[^,?]*,\s*)?(?P<wh>where|who|whom|whose|when|why)\s+{_AUX}\b", re.IGNORECASE)
_LEAD_KINDS: dict[str, Kind] = {"where": "where", "who": "who", "whom": "who", "whose": "who", "when": "when", "why": "why"}

# First match wins: "When did ..." is a time question before it is a yes/no one.
_KINDS: list[tuple[Kind, re.Pattern[str]]] = [
    ("summary", _SUMMARY),
    ("email", _EMAIL_ASK), ("url", _URL_ASK), ("when_exact", _WHEN_EXACT), ("number", _NUMBER_ASK), ("when", _WHEN), ("who", _WHO), ("where", _WHERE), ("why", _WHY), ("yesno", _YESNO),
]


def analyze(question: str) -> QuestionInfo:
    kind: Kind = "other"
    focus = ""
    if (m := _HOW_MANY.search(question)) and not _OTHER_WH_FIRST.match(question):
        kind, focus = "how_many", m.group("focus").strip()
    else:
        kind = next((k for k, pattern in _KINDS if pattern.search(question)), "other")
        if kind in FIGURE_KINDS and (m := _LEAD_WH.match(question)):
            kind = _LEAD_KINDS[m.group("wh").lower()]
    if kind == "other" and not _WH.search(question) and _YESNO_INNER.search(question):
        kind = "yesno"
    if kind == "other" and _TERSE_FIGURE.search(question):
        kind = "number"  # "frobd default port", "cache file version": typed as a search, asking for a figure
    if kind == "yesno" and _CHOICE.search(question):
        kind = "other"  # "Is the grant temporary or forever?" asks which, not whether
    body = re.sub(r"^\W*\w+", "", question)  # the first word is capitalized anyway
    # What must appear literally: capitalized names, numbers, and the words of quoted phrases.
    # (An amount of money is a value to weigh against the documents' limits and ranges, "who approves a $5,000
    # purchase?" of "$1,000 to $25,000: the department head": it need not appear.)
    literal = re.findall(r"\b[A-Z][\w’'.-]*", body) + re.findall(r"(?<![$€£¥\d,.])\b\d[\d,.]*\b", question)
    literal += [q for q in re.findall(r"[\"“]([^\"”]{2,80})[\"”]", question)]
    names = list(dict.fromkeys(t for w in literal for t in content_terms(w)))
    surface = {stem(t): t for w in literal for t in tokens(w)}
    terms = content_terms(question)
    if kind in ("email", "url"):  # "the URL", "an email address" say what form the answer takes: no thing to find
        form = {t for w in _ADDRESS_WORDS for t in content_terms(w)}
        names, terms = [n for n in names if n not in form], [t for t in terms if t not in form]
    premise: list[str] = []
    main = ""
    if m := _PREMISE_FIRST.match(question) or _PREMISE_BUT.match(question) or _PREMISE_WHO.match(question):
        main_terms = content_terms(m.group("main"))
        premise = [t for t in content_terms(m.group("premise")) if t not in main_terms]
        if main_terms:
            terms, main = main_terms, m.group("main")
    return QuestionInfo(question, kind, terms, focus, names, premise, main, {n: surface.get(n, n) for n in names})


@dataclass
class Evidence:
    sentence: Span
    passage: Passage
    score: float
    dense: float
    lexical: float
    type_ok: bool
    features: dict[str, float] = field(default_factory=dict)  # SENTENCE_FEATURES, for fitting the weights


def _type_ok(info: QuestionInfo, text: str) -> bool:
    if info.kind == "how_many":
        return bool(NUMBER.search(text))
    if info.kind == "number":  # a figure the question does not already give ("Python 3" for "which Python 3 version")
        asked = set(re.findall(r"\d+", info.text))
        return any(n not in asked for n in re.findall(r"\d+", text))
    if info.kind == "when_exact":
        return bool(DATE.search(text))
    if info.kind == "email":
        return bool(EMAIL.search(text))
    if info.kind == "url":
        return bool(URL.search(text))
    if info.kind == "when":  # a time, or in a manual a condition ("when the input is empty, ...")
        return bool(DATE.search(text) or PERIOD.search(text) or _CONDITION.search(text) or _SPAN_OF_TIME.search(text)
                    or _AT_RELEASE.search(text))
    if has_name(text, exclude=set(info.terms) | set(info.names)):
        return True
    if info.kind == "where" and _WHERE_NAMED.search(info.text):
        return False  # "which city": a place name, and there was none
    if info.kind == "where":  # "in the vault", "under /etc", "at reception": a place need not be a name
        return bool(_PLACE.search(text))
    if info.kind == "who" and (m := _BY_BODY.search(text)) and m.group(1).lower() not in info.text.lower():
        return True  # "created by HR", "approved by the CAB": a body known by its initials
    if info.kind == "who" and _TIER_BODY.search(text) and holds_any(text, amounts(info.text)):
        return True  # "Over $25,000: the CFO." for a $30,000 purchase (for travel in general it names no one)
    if info.kind == "who":  # "the maintainer", "members of the group", "any user": people need not be named
        return not _WHO_NAMED.search(info.text) and mentions_people(text)  # ... unless a name is asked for
    return True


# What a sentence is scored on (``Reader.rank``); each feature's weight is a [reader] key (config.FEATURE_WEIGHTS).
SENTENCE_FEATURES = tuple(FEATURE_WEIGHTS)
# Questions that may ask for a whole list ("which kinds of ...", "who are the maintainers", "where are the logs").
LIST_KINDS = ("other", "who", "where")
# Questions that ask for a figure, a date, a name or a place: their answer is a phrase, not a whole sentence.
TYPED_KINDS = ("how_many", "number", "when_exact", "when", "who", "where", "email", "url")
# A question names a document when its words carry 60 % of its title's (or file name's) weight, at least this
# much (about one distinctive word), and this many times what they match of any other document's names.
NAMED_DOC_SHARE = 0.6
NAMED_DOC_MIN = 2.0
NAMED_DOC_MARGIN = 1.5
_WORDY = re.compile(r"[^\W\d_]{2,}")
# Dot leaders ". . . . 12"; a line of rule characters; a contents list run together ("1.2 The Format String 1.2.1 Time
# Resources 1.2.2 ...", as a web page's printed to PDF comes out).
_NOT_PROSE = re.compile(r"(?:\s?\.){6,}|^[\s*#=|+-]*$|(?:(?<![\w.])\d+(?:\.\d+)+\.?\s+[A-Z][^.!?]{0,60}?){3}")
# A line that is nothing but an address ("http://www.example.org/frob/" under a title) answers only a
# question for an address or a place to go.
_BARE_ADDRESS = re.compile(r"\s*<?(?:(?:https?|ftp)://|www\.)\S+\s*|\s*<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?\s*", re.I)
_ASKS_ADDRESS = re.compile(r"\b(?:links?|urls?|web\s*sites?|sites?|pages?|address(?:es)?|home\s*page|download|e-?mail|contact)\b", re.I)
# The agent of a passive verb that is all initials ("by HR", "by the IT team"): who did it, though no capitalized word.
_BY_BODY = re.compile(r"\bby\s+(?:the\s+|your\s+)?([A-Z]{2,6})s?\b")
_TIER_BODY = re.compile(r":\s+the\s+([A-Z]{2,6})s?\b")  # "Over $25,000: the CFO."
# "Who is the prime minister?", "what are the names of ...": a name is asked for, not just a word for people.
_WHO_NAMED = re.compile(r"^\s*who\s+(?:is|was|are|were)\s+(?:the|a|an|this|that)\b|\bnames?\s+of\b", re.IGNORECASE)
_WHERE_NAMED = re.compile(r"\b(?:which|what)\s+(?:country|countries|city|cities|town|towns|state|states|capital)\b",
                          re.IGNORECASE)
_SECTION_ASK = re.compile(r"\b(?:section|chapter|clause|heading|article|part|paragraph)s?\b", re.IGNORECASE)
_TITLE_WORD = re.compile(r"[^\W\d_][\w’'-]*")
_MINOR = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"}


def is_title(text: str) -> bool:
    """A short line whose words are capitalized, optionally numbered: "3. Terms of Use and Liability"."""
    words = _TITLE_WORD.findall(text)
    major = [w for w in words if w.lower() not in _MINOR]
    if not major or len(words) > 12 or re.search(r"[,;:?!]", text):
        return False
    return sum(w[0].isupper() for w in major) >= max(2, len(major)) or (
        bool(re.match(r"\s*\d+(?:\.\d+)*\.?\s", text)) and all(w[0].isupper() for w in major))


def _restates(text: str, title_terms: set[str]) -> bool:
    """Are at least half a sentence's words the title's ("Next: <title> [Contents]", a running head)?"""
    terms = content_terms(text)
    return bool(title_terms) and len(terms) > 0 and sum(t in title_terms for t in terms) >= len(terms) / 2


RUNNERS_UP = 16  # kept with a decision for the LM to read (generate.context_sentences picks from them; the rest
# are for its second look, generate.second_look)
# A figure and the (up to four) words after it: what it counts ("9,000 wooden crates").
_COUNTED_IN_QUESTION = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s+((?:[^\s?,.;]+\s*){1,4})")
_NUMBERED_PART = re.compile(r"\b(?:sections?|clauses?|articles?|paragraphs?|subsections?|items?|steps?|rules?|chapters?|"
                            r"parts?|points?|numbers?|numbered)\b", re.I)  # what a clause number answers
# A question a line of code may answer: it asks for a command, an option, a call, an example, or how to do something.
_CODE_ASK = re.compile(r"\b(?:commands?|flags?|options?|switch|examples?|snippet|invocation|functions?|methods?|"
                       r"calls?|install|run|type|write|declare|define|import|usage)\b|^\W*how\s+(?:do|can|to|should|would)\b",
                       re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"^\s*(?:\d+\.)+(?=\d|\s)")  # "3.5." of "3.5. Interpreters": its subsections share it
_PLACE = re.compile(
    r"\b(?:in|at|on|under|inside|into|from|near|within|to)\s+(?:the\s+|a\s+|an\s+)?[\w/.~-]+|\s/\w|\S+@\S+\.\w+|https?://",
    re.I,
)
# "within 48 hours", "longer than 3 consecutive days", "two weeks before": a time measured from something.
_SPAN_OF_TIME = re.compile(r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a few|several)\s+"
                           r"(?:[a-z]+\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?)\b"
                           r"|\b\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight)\b", re.I)
_CONDITION = re.compile(r"\b(?:if|when|whenever|unless|after|before|until|once|while)\b", re.I)
# Software dates its changes by release: "removed in 3.0.0", "since version 2", "as of v1.4" answer "when".
_AT_RELEASE = re.compile(r"\b(?:in|since|from|until|as of|before|after|starting with)\s+"
                         r"(?:(?:version|release|v)\s*\d+(?:\.\d+)*|\d+\.\d+(?:\.\d+)*)\b", re.I)


@dataclass
class Decision:
    evidence: list[Evidence]
    abstain: bool
    why: str = ""  # for abstentions: what the article lacks
    yes_no: str = ""  # "Yes" / "No" for yes/no questions
    uncovered: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)  # the numbers the decision was made from
    runners_up: list[Evidence] = field(default_factory=list)  # the next best sentences, distinct from the evidence
    # Why to abstain unless the LM judge finds the answer after all (a missing name was the only reason: see
    # ``names_excused``); empty when the decision is final.
    pending: str = ""
    # A question asking for several things, answered by a whole list: each item's cited units (they close
    # ``evidence``, after the sentence that leads in to the list), and whether the list is numbered.
    items: list[list[Evidence]] = field(default_factory=list)
    numbered: bool = False


# An answer that opens with its verdict, after an FAQ's label: "A: Yes, ...", "Answer: No. ...", "No, it does not ...".
_STATED_VERDICT = re.compile(r"^\W*(?:(?:A|Answer)\s*[:.)-]\s*)?(yes|no)\b[,.;:!]", re.I)


def _other_tier(sentence: str, question: str) -> bool:
    """Does the sentence state amounts of the kind the question gives ("Up to $1,000" for "$5,000"), holding none?"""
    asked = amounts(question)
    units = {a.unit for a in asked}
    return any(a.unit in units for a in amounts(sentence)) and not holds_any(sentence, asked)


def _cells(text: str) -> int:
    """How many cells a table row has ("a | b", "| a | b |", "|---|---|" as every format's tables are stored); 0 for
    a sentence that is no row."""
    inner = text.strip().strip("|")
    return len(inner.split("|")) if "|" in inner and "\n" not in inner else 0


_HYPHENATED = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b")


# A word this rare in English that starts a word of the passages is that word cut short ("prod", "creds", "repo",
# "config"); a commoner one is a word of its own ("navy" is no "naval", "java" no "javascript").
CUT_SHORT_MAX_ZIPF = 3.6


def _surface(term: str, question: str) -> str:
    return next((t for t in tokens(question) if stem(t) == term), "")


def _cut_short(word: str, words: set[str]) -> bool:
    """Is ``word`` a cut of one of ``words`` (the passages' tokens)?"""
    from wordfreq import zipf_frequency

    if len(word) < 4 or not word.isalpha() or zipf_frequency(word, "en") >= CUT_SHORT_MAX_ZIPF:
        return False
    cut = word[:-1] if word.endswith("s") and len(word) > 4 else word  # "creds" is "cred"s
    return any(w.startswith(cut) and len(w) > len(cut) + 1 for w in words)


# An FAQ's question, whatever its sentences end with ("Q:  The default build is too big. How can I ...?").
_FAQ_QUESTION = re.compile(r"\s*(?:Q|Question)\s*[:.)]\s", re.I)


def _asks(sentence: str) -> bool:
    return sentence.rstrip().rstrip("\"'”’)]*").endswith("?") or bool(_FAQ_QUESTION.match(sentence))  # ('?? note "Where are backups stored?"')


# A sentence that restates a why-question's premise is usually followed by its reason.
_FOLLOWS_ON = re.compile(r"^(?:This|That|These|It|Such|As a result|Because|Therefore|Thus|Hence|If|The reason|Otherwise|"
                         r"Without (?:this|that|it))\b")
# What carries on the sentence before it, whatever the question: its "this" is that sentence's subject.
_CARRIES_ON = re.compile(r"^(?:This|That|These|Such|As a result|Therefore|Thus|Hence|Instead|Otherwise|In (?:that|this|such a) case)\b")
# A best sentence that is mostly the question's own words restates it; for "why" the reason comes next.
RESTATES = 0.5
RESTATED = 0.1  # below this novelty a sentence says nothing but the question's words (its "an", "the" weigh a little)


class Reader:
    """Scores sentences of retrieved passages; holds the corpus vocabulary for coverage checks."""

    def __init__(self, index: Index, embedder: Embedder, config: AnswerConfig, weights: ReaderConfig | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config
        self.w = weights or ReaderConfig()
        # Sentence vectors come with the index; an index without them (built in memory by a test's fake, or by an
        # older version) has each sentence embedded when it is first scored.
        self._vectors: dict[int, np.ndarray] = {}
        # The word facts are stored with the index; an index built in memory (or by an older version) builds them.
        lexicon = index.lexicon or build_lexicon(index.corpus.documents, index.chunks, index.sentences)
        index.lexicon = lexicon
        self.vocabulary: set[str] = lexicon.vocabulary
        self._words = lexicon.words  # stem -> a surface form, for soft matching
        self.word_counts = lexicon.word_counts
        self.roots = lexicon.roots
        self._vocab = lexicon.sentence_terms
        self._idf = lexicon.idf
        self._doc_names: list[tuple[str, list[dict[str, float]]]] | None = None  # built on first use
        self._by_chunk = sentences_by_chunk(index.chunks, index.sentences)

    def sentence_vector(self, sid: int) -> np.ndarray:
        if sid not in self._vectors:
            self.prefetch([sid])
        return self._vectors[sid]

    def prefetch(self, sids: list[int]) -> None:
        """Fetch (or embed, in one batch) the vectors of the given sentences: the retrieved passages', per question."""
        todo = [i for i in dict.fromkeys(sids) if i not in self._vectors]
        stored = self.index.sentence_vectors
        if todo and stored is not None:
            self._vectors.update(zip(todo, stored[todo].astype(np.float32), strict=True))
        elif todo:
            vecs = self.embedder.embed([self.index.sentences[i].text for i in todo])
            self._vectors.update(zip(todo, vecs, strict=True))

    def _weight(self, term: str) -> float:
        """Term weight for ranking sentences: general rarity times rarity within this corpus."""
        return term_weight(term) * (0.3 + 0.7 * self._idf.get(term, 1.0))

    # -- scoring -----------------------------------------------------------------------------------------------
    def _figure_contradicted(self, info: QuestionInfo, missing: list[str], best: Evidence) -> bool:
        """Are the question's missing names all figures, each followed by what it counts ("9,000 crates"), where the
        best sentence gives another figure of that thing ("about 4,000 crates")?"""
        counted = {m.group(1).replace(",", ""): m.group(2) for m in _COUNTED_IN_QUESTION.finditer(info.text)}
        return all(n in counted for n in missing) and all(
            NUMBER.search(best.sentence.text) and self._focus_ok(counted[n], best.sentence.text) for n in missing)

    def _focus_ok(self, focus: str, sentence: str) -> bool:
        """Does a number in the sentence count what "how many <focus>" asks about (troops ~ personnel)?"""
        if not focus:
            return True
        if _TIMES_ASK.match(focus):  # "how many times faster": a multiple ("2-6x as fast", "three times", "twice")
            return bool(_MULTIPLE.search(sentence))
        if (unit := _MEASURE_UNITS.get(focus.split()[0].lower())) and re.search(rf"\d(?:[\d,.]*\d)?\s*{unit}", sentence, re.I):
            return True  # "how much memory": "256K bytes for the internal state" (the words after it need not say so)
        windows = [" ".join(sentence[m.end():].split()[:4]) for m in NUMBER.finditer(sentence)]
        windows = [w for w in windows if w]
        if not windows:
            return False
        vecs = self.embedder.embed([focus, *windows])
        return float((vecs[1:] @ vecs[0]).max()) >= self.w.focus_min

    def rank(self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray, followup: bool = False) -> list[Evidence]:
        """Every sentence of the passages, best first, scored by ``SENTENCE_FEATURES`` and the ``[reader]`` weights."""
        seen: set[int] = set()
        out: list[Evidence] = []
        self.prefetch([sid for p in passages for sid in self._by_chunk.get(p.chunk_id, [])])
        total_w = sum(self._weight(t) for t in info.terms) or 1.0
        quote_ask = bool(_QUOTE_ASK.search(info.text))
        section_ask = bool(_SECTION_ASK.search(info.text))
        code_ask = bool(_CODE_ASK.search(info.text))
        address_ask = info.kind in ("url", "email", "where") or bool(_ASKS_ADDRESS.search(info.text))
        asked = set(info.terms)
        for passage in passages:
            sids = self._by_chunk.get(passage.chunk_id, [])
            frame = stems(passage.heading) | stems(passage.title)
            heading = sum(self._weight(t) for t in info.terms if fuzzy_in(t, frame)) / total_w

            # Each sentence's share of the question's term weight, read under the heading and title too.
            overlaps = [sum(self._weight(t) for t in info.terms if fuzzy_in(t, self._vocab[i] | frame)) / total_w
                        for i in sids]
            for k, sid in enumerate(sids):
                if sid in seen:
                    continue
                seen.add(sid)
                span = self.index.sentences[sid]
                if is_planted_instruction(span.text):
                    continue  # a document's instructions are never an answer, nor shown to the LM as one
                if _NOT_PROSE.search(span.text) or not _WORDY.search(span.text):
                    continue  # a table-of-contents line, a box border, a lone "?": layout, not an answer
                if not address_ask and _BARE_ADDRESS.fullmatch(span.text):
                    continue
                if _asks(span.text) and k + 1 < len(sids):
                    continue  # a question in the text (an FAQ's, a rhetorical one) is answered by what follows it
                if self._is_header_row(sid):
                    continue  # a table's header row names its columns: no answer (the LM reads it above a row)
                vec = self.sentence_vector(sid)
                dense = float(vec @ qvec)
                # A sentence is read with its neighbours: "It" or "This option" borrows their meaning.
                around = sum((self.sentence_vector(i) for i in sids[max(0, k - 1) : k + 2]), np.zeros_like(vec))
                context = float(around @ qvec) / max(float(np.linalg.norm(around)), 1e-9)
                # ... and under its document's title and section heading ("sed" in sed's manual).
                lexical = overlaps[k]
                j = k
                while j and k - j < 3 and _asks(self.index.sentences[sids[j - 1]].text):
                    # The answer to a question the text asks ("Q: How do I reset my password?" "A: Use the portal.")
                    # is read with that question, all its sentences ("Q: The build is too big. How can I ...?"): it
                    # matches the user's words, the answer need not.
                    j -= 1
                    dense = max(dense, float(self.sentence_vector(sids[j]) @ qvec))
                    lexical = max(lexical, overlaps[j])
                # An answer adds to the question: a sentence made of the question's own words restates it, and
                # the answer often follows it ("... here are a few recommendations:" then the recommendation).
                own = [t for t in self._vocab[sid] if t not in asked]
                novelty = sum(self._weight(t) for t in own) / max(1e-9, sum(self._weight(t) for t in self._vocab[sid]))
                # "His acknowledgment ..." answers "who?" through the sentence before it.
                prev = self.index.sentences[sids[k - 1]].text if k else ""
                typed_text = f"{prev} {span.text}" if _ANAPHOR.match(span.text) else span.text
                type_ok = _type_ok(info, typed_text) and (info.kind != "how_many" or self._focus_ok(info.focus, span.text))
                # A release's date may stand only in its section's heading ("[1.2.0] - 2024-05-01"), which the LM
                # reads beside the sentence and may copy from (``heading_lines``).
                type_ok = type_ok or info.kind in ("when", "when_exact") and bool(DATE.search(passage.heading))
                typed = info.kind in TYPED_KINDS
                features = {
                    "dense": dense,
                    "lexical": lexical,
                    "context": context,
                    "heading": heading,
                    # A follow-up stays on the topic of the previous turn, which ranked its passage first.
                    "rank": 0.0 if followup else 1.0 / passage.rank,
                    "followup": float(followup and passage.rank == 1),
                    "typed": float(typed and type_ok),
                    "untyped": float(typed and not type_ok),
                    "causal": float(info.kind == "why" and bool(_CAUSAL.search(span.text))),
                    "quote": float(quote_ask and bool(_QUOTED.search(span.text))),
                    "lead": float(k == 0),
                    "short": float(len(span.text.split()) < 5),
                    "novelty": novelty,
                    "after": overlaps[k - 1] if k else 0.0,
                    "lead_in": float(span.text.rstrip().endswith((":", "?"))),
                    "title": float(is_title(span.text) and not section_ask),
                    "code": float(passage.code and not code_ask),
                }
                score = sum(self.w.feature_weight(name) * value for name, value in features.items())
                out.append(Evidence(span, passage, round(score, 4), round(dense, 4), round(lexical, 4), type_ok, features))
        return sorted(out, key=lambda e: -e.score)

    def _is_header_row(self, sid: int) -> bool:
        """The first row of a table with rows after it (every format stores a table's rows as units in order)."""
        units = self.index.sentences
        width = _cells(units[sid].text)

        def row(i: int) -> bool:
            return 0 <= i < len(units) and units[i].source == units[sid].source and _cells(units[i].text) == width

        return width >= 2 and not row(sid - 1) and row(sid + 1)

    def table_header(self, evidence: Evidence) -> Span | None:
        """The header row of the table a row sentence belongs to (the first of the rows with as many cells before it
        in the passage); None for a sentence that is no table row, or is the header itself."""
        width = _cells(evidence.sentence.text)
        if width < 2:
            return None
        rows = [self.index.sentences[i] for i in self._by_chunk.get(evidence.passage.chunk_id, [])]
        k = next((i for i, s in enumerate(rows) if s.start == evidence.sentence.start), None)
        if k is None:
            return None
        while k and _cells(rows[k - 1].text) == width:
            k -= 1
        header = rows[k]
        return header if header.start != evidence.sentence.start and _WORDY.search(header.text) else None

    def uncovered_terms(
        self, terms: list[str], context: str, vocabulary: set[str] | None = None, question: str = ""
    ) -> list[str]:
        """Terms missing from ``vocabulary`` (default: the corpus), even as a close synonym in ``context``."""
        vocabulary = self.vocabulary if vocabulary is None else vocabulary
        missing = [t for t in terms if not fuzzy_in(t, vocabulary)]
        if not missing:
            return []  # (the common case: the passages are not tokenized at all)
        # "wifi" for "Wi-Fi", "setup" for "set-up": a compound written with a hyphen
        joined = {stem(w.replace("-", "").lower()) for w in _HYPHENATED.findall(context)}
        missing = [t for t in missing if t not in joined]
        words = set(tokens(context)) if missing else set()
        if missing and question:  # "prod", "creds", "repo": a word cut short, as people type it, of one written in full
            missing = [t for t in missing if not _cut_short(_surface(t, question), words)]
        if not missing:
            return []
        candidates = sorted(w for w in words if len(w) > 2)
        if not candidates:
            return missing
        vecs = self.embedder.embed([self._words.get(t, t) for t in missing] + candidates)
        sims = vecs[: len(missing)] @ vecs[len(missing) :].T
        return [t for t, row in zip(missing, sims, strict=True) if float(row.max()) < self.w.synonym_min]

    def named_document(self, text: str) -> str | None:
        """The document a question names by its title or file name, if one stands out.

        Name words are weighted by rarity in English and among the corpus's names ("license" in seven
        license titles names none of them). A document is named when the question carries most of the
        weight of its title (or of its file name), including a distinctive word, clearly more than any other.
        """
        asked = set(content_terms(text))
        scores = []
        for source, forms in self._name_weights():
            matched = [math.fsum(w for t, w in form.items() if t in asked) for form in forms]
            named = [m for m, form in zip(matched, forms, strict=True) if m >= NAMED_DOC_SHARE * math.fsum(form.values())]
            words = {t for form in forms for t in form if t in asked}
            scores.append((max(named, default=0.0), max(matched, default=0.0), words, source))
        scores.sort(key=lambda s: (s[0], s[1]), reverse=True)
        if not scores or scores[0][0] < NAMED_DOC_MIN:
            return None
        # A runner-up whose matched words are all the winner's too is a shorter name ("Style Guide" inside
        # "Python Style Guide"): the longer, more specific match wins.
        rivals = [m for _, m, words, _ in scores[1:] if not words <= scores[0][2]]
        if rivals and scores[0][0] < NAMED_DOC_MARGIN * max(rivals):
            return None
        return scores[0][3]

    def without_name(self, text: str, source: str) -> str:
        """``text`` without the words that name ``source``, for keyword search inside that document.

        Every passage of a document carries its title, and its code repeats its name: inside the document those
        words only pull keyword search toward passages that say the name most. A dev run (123 questions naming a
        document, 5 corpora): the gold passage retrieved for 116 with the name words dropped from BM25, 112 with
        them kept, 114 with them dropped from the dense query too.
        """
        name = self._name_terms(source)
        kept = [w for w in text.split() if not (terms := content_terms(w)) or not all(t in name for t in terms)]
        rest = " ".join(kept)
        return rest if content_terms(rest) else text

    def inside(self, info: QuestionInfo, source: str) -> QuestionInfo:
        """The question as read inside the document it names: the name's words say nothing about which of that
        document's sentences answers ("import httplib2" is no answer to what the httplib2 README says of HTTPS)."""
        name = self._name_terms(source)
        terms = [t for t in info.terms if t not in name]
        if not terms:
            return info
        return dataclasses.replace(info, terms=terms, names=[n for n in info.names if n not in name])

    def _name_terms(self, source: str) -> set[str]:
        """The stems of a document's title and file name."""
        return {t for forms in dict(self._name_weights()).get(source, []) for t in forms}

    @functools.cached_property
    def _all_name_terms(self) -> set[str]:
        """The stems of every document's title and file name."""
        return {t for _, forms in self._name_weights() for form in forms for t in form}

    def _name_weights(self) -> list[tuple[str, list[dict[str, float]]]]:
        """Per document, its title's and its file name's words, each weighted by rarity in English and among names."""
        if self._doc_names is None:
            names = {
                # A title's version numbers are seldom typed: the title's words are its name.
                doc.source: [{t for t in content_terms(doc.title) if not t[:1].isdigit()},
                             set(content_terms(doc.source.rsplit(".", 1)[0].replace("/", " ").replace("_", " ")))]
                for doc in self.index.corpus.documents
            }
            df: dict[str, int] = {}
            for forms in names.values():
                for t in set().union(*forms):
                    df[t] = df.get(t, 0) + 1
            n = len(names)
            self._doc_names = [
                # (In sorted order: a sum over a set's order, which changes with each process's hash seed, differs in
                # its last bits, and a name that just reaches NAMED_DOC_SHARE was named in one run and not the next.)
                (source, [{t: term_weight(t) * math.log((1 + n) / df[t]) for t in sorted(form)} for form in forms if form])
                for source, forms in names.items()
            ]
        return self._doc_names

    def named_section(self, source: str, terms: list[str]) -> list[int]:
        """The chunks of the section of ``source`` whose heading the terms name, with its numbered subsections.

        A heading is named when the terms carry ``NAMED_DOC_SHARE`` of its words' weight, at least
        ``NAMED_DOC_MIN``; the best such heading wins.
        """
        asked = set(terms)
        best, best_share = None, 0.0
        for chunk in self.index.chunks:
            if chunk.source != source or not chunk.heading:
                continue
            words = {t for t in content_terms(own_heading(chunk.heading)) if not t[:1].isdigit()}
            total = sum(term_weight(t) for t in words)
            matched = sum(term_weight(t) for t in words if t in asked)
            if matched >= NAMED_DOC_MIN and matched >= NAMED_DOC_SHARE * total and matched / total > best_share:
                best, best_share = chunk.heading, matched / total
        if best is None:
            return []
        number = _SECTION_NUMBER.match(own_heading(best))
        prefix = number.group(0) if number else None
        out: list[int] = []
        for chunk in sorted((c for c in self.index.chunks if c.source == source), key=lambda c: c.start):
            if chunk.heading == best or chunk.heading.startswith(best + HEADING_PATH) or (
                out and prefix and own_heading(chunk.heading).startswith(prefix)
            ):
                out.append(chunk.id)
            elif out:
                break  # the next section begins
        return out

    def summarize(self, info: QuestionInfo, passages: list[Passage], n: int = 3) -> Decision:
        """The most central sentences of the document asked about (by embedding centrality), in document order."""
        if not passages:
            return Decision([], True, "nothing relevant was retrieved")
        docs = {d.source for d in self.index.corpus.documents}
        source = self.named_document(info.text) or (next(iter(docs)) if len(docs) == 1 else passages[0].source)
        # A summary of a section: the retrieved passages when the question names something in them.
        # (Its title's and file name's words name the document, not a section: "the frob-utils readme" with a
        # "Using frob-utils" section.)
        named = set(content_terms(self.index.corpus.get(source).title)) | self._name_terms(source) | _SELF_WORDS
        topic = [t for t in info.terms if t not in named]
        sids = [i for i, s in enumerate(self.index.sentences) if s.source == source][:400]
        section = self.named_section(source, topic)
        if section:  # "Summarize the termination section of the lease": that section, whole
            sids = [i for c in section for i in self._by_chunk.get(c, [])] or sids
        elif topic and not self.named_document(info.text):
            sids = [i for p in passages if p.source == source for i in self._by_chunk.get(p.chunk_id, [])] or sids
        # (Not a fragment, a question the text asks, a table row, a line of code, a table of contents or a line that
        # mostly repeats the title, a running head or a navigation bar: none says what a page is about.)
        title = self.index.corpus.get(source).title
        title_terms = set(content_terms(title))
        sids = [i for i in sids if len((text := self.index.sentences[i].text).split()) >= 6 and not _asks(text)
                and _cells(text) < 2 and not self.index.chunks[self.index.sentence_chunk[i]].code
                and not _NOT_PROSE.search(text) and not _restates(text, title_terms)] or sids
        self.prefetch(sids)
        vecs = np.stack([self._vectors[i] for i in sids])
        centroid = vecs.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        if not section and title:
            # What the document says it is about counts as much as what most of its text talks about: a manual
            # whose licence appendix is half its text is still about what its title says.
            centroid = centroid + self.embedder.embed([title])[0]
        centrality = vecs @ (centroid / max(float(np.linalg.norm(centroid)), 1e-9))
        # The lead sentence says what a page is (a README's first line, a manual's NAME, a story's lede);
        # the most central sentences say what it mostly talks about.
        top = sorted({0, *np.argsort(-centrality)[: n - 1].tolist()})
        chunk_of = self.index.sentence_chunk
        by_id = {p.chunk_id: p for p in passages}
        evidence = []
        for k in top:
            sid = sids[k]
            span = self.index.sentences[sid]
            chunk = self.index.chunks[chunk_of[sid]]
            passage = by_id.get(chunk.id) or Passage.from_chunk(chunk, 0.0, len(passages) + 1)
            evidence.append(Evidence(span, passage, float(centrality[k]), float(centrality[k]), 0.0, True))
        return Decision(evidence, False, signals={"centrality": float(centrality.max())})

    def _others(self, ranked: list[Evidence], chosen: list[Evidence]) -> list[Evidence]:
        """The runners-up the LM reads besides the chosen sentences, first to last. The sentence right after one of
        the two best that carries it on ("This will be either ... if everything worked") goes first: it scores low on
        its own, yet on the dev corpora it held the answer for 6 of the 22 questions whose answer the 8 best
        sentences lacked."""
        texts = {c.sentence.text for c in chosen}
        carried = [f for e in ranked[:2] if (f := self._neighbour(e, 1)) is not None and _FOLLOWS_ON.match(f.sentence.text)]
        return [e for e in [*carried, *ranked] if e.sentence.text not in texts and not texts.add(e.sentence.text)][:RUNNERS_UP]

    def list_for(self, info: QuestionInfo, ranked: list[Evidence]) -> tuple[list[Evidence], list[list[Evidence]], bool] | None:
        """For a question asking for several things, the list the best sentence belongs to or introduces, else the
        one a sentence within ``list_margin`` of it introduces: its lead-in and each item's cited units (the item's
        first sentence, and the sentence it was found by where that goes on the item)."""
        if info.kind not in LIST_KINDS or not asks_several(info.text):
            return None
        found = None
        for k, e in enumerate(ranked):
            if e.score < ranked[0].score - self.w.list_margin:
                break
            sid = self._sid(e)
            run = None if sid is None else run_around(self.index.sentences, self._text_of(e.sentence.source), sid)
            # (Below the best: a sentence that leads in to a list, or an item of a section the question names, "what
            # is listed under future work?" of a "Future work" section.)
            if run is not None and (k == 0 or run.lead_in == sid or self._names_section(info, e.passage)):
                found = e, sid, run
                break
        if found is None:
            return None
        best, sid, run = found
        lead = [self._evidence_at(run.lead_in, best)] if run.lead_in is not None else []
        items = []
        for i, opener in enumerate(run.items):
            end = run.items[i + 1] if i + 1 < len(run.items) else len(self.index.sentences)
            units = [opener] + ([sid] if opener < sid < end else [])
            items.append([self._evidence_at(j, best) for j in units])
        return lead, items, run.numbered

    @staticmethod
    def _names_section(info: QuestionInfo, passage: Passage) -> bool:
        """Does the question name the passage's own section: every word of its heading among the question's?"""
        words = [t for t in content_terms(own_heading(passage.heading)) if not t[:1].isdigit()]
        return bool(words) and all(fuzzy_in(t, set(info.terms)) for t in words)

    def _text_of(self, source: str) -> str:
        return self.index.corpus.get(source).text

    def _sid(self, evidence: Evidence) -> int | None:
        return next((i for i in self._by_chunk.get(evidence.passage.chunk_id, []) if self.index.sentences[i] == evidence.sentence), None)

    def _evidence_at(self, sid: int, like: Evidence) -> Evidence:
        """Sentence ``sid`` cited beside ``like``: in its passage when it lies there, else in its own chunk's."""
        span = self.index.sentences[sid]
        passage = like.passage
        if not (passage.source == span.source and passage.start <= span.start and span.end <= passage.end):
            passage = Passage.from_chunk(self.index.chunks[self.index.sentence_chunk[sid]], passage.score, passage.rank)
        if span == like.sentence:
            return like
        return Evidence(span, passage, like.score, like.dense, 0.0, True)

    def _neighbour(self, evidence: Evidence, step: int) -> Evidence | None:
        """The sentence ``step`` places before/after ``evidence`` in the same passage, if any."""
        sids = self._by_chunk.get(evidence.passage.chunk_id, [])
        for i, sid in enumerate(sids):
            if self.index.sentences[sid] == evidence.sentence and 0 <= i + step < len(sids):
                other = self.index.sentences[sids[i + step]]
                return Evidence(other, evidence.passage, evidence.score, evidence.dense, 0.0, True)
        return None

    def gloss(self, evidence: Evidence, phrase: str) -> Evidence | None:
        """The sentence that says what a line holding only ``phrase`` stands for: the one before when it leads into
        the line ("You can report bugs here:" above a URL), else the one after (a definition list's term, then what
        it means). A term alone supports nothing; cited with it, the answer shows why it answers. None when the
        line says more than the phrase, or no neighbour says more than a term."""
        if len("".join(_alnum_words(phrase))) < 0.9 * len("".join(_alnum_words(evidence.sentence.text))):
            return None
        before, after = self._neighbour(evidence, -1), self._neighbour(evidence, 1)
        if before is not None and before.sentence.text.rstrip().endswith(":"):
            return before
        if after is not None and len(_alnum_words(after.sentence.text)) > 3:  # a description, not the next term
            return after
        return None

    @functools.cached_property
    def _folded_text(self) -> str:
        """Every document's text, title and file name, lower case, without Markdown's escapes: where a question's
        identifier is looked up."""
        docs = self.index.corpus.documents
        return "\n".join([d.text.lower().replace("\\_", "_") for d in docs] + [f"{d.title} {d.source}".lower() for d in docs])

    def names_it(self, term: str, word: str) -> bool:
        """Do the documents name what the question's name ``word`` (stem ``term``) names: as it is, as its adjective
        (Malta, Maltese), or a capital as its country ("Paris" in a text about France) and a country as its capital?"""
        if fuzzy_in(term, self.vocabulary) or name_roots(word) & self.roots:
            return True
        return any(all(w in STOPWORDS or fuzzy_in(stem(w), self.vocabulary) or name_roots(w) & self.roots for w in name)
                   for name in places.stands_for(word))

    def missing_identifiers(self, question: str) -> list[str]:
        """The question's snake_case identifiers ("FROB_OPTIONS"), versioned names ("HTTP/2", "ARM64") and lower-case
        words unknown to English ("frobread") that no document contains, lower case.

        Word by word every part may be there ("frob", "options"; "http" and "2") while the thing named is not: such a
        name is missing like any other. (Hyphenated words are left out: prose writes "long-range" and "long range".)
        """
        snake = [i.lower() for i in dict.fromkeys(_SNAKE.findall(question)) if i.lower() not in self._folded_text]
        found = snake + [v.lower() for v in dict.fromkeys(versioned_names(question)) if not versioned_in(v, self._folded_text)]
        found += [w for w in dict.fromkeys(_LOWER_WORD.findall(question)) if w not in found and self._unknown_word(w)]
        return found + [w for w in self._places_typed(question) if w not in found]

    def _places_typed(self, question: str) -> list[str]:
        """The words of places the question types in lower case ("how many troops r on frobisle") that no document
        names: a name all the same. (Capitalized, they are the question's names already.)"""
        out = []
        for place in places.places_in(question):
            if re.search(rf"\b{re.escape(place)}\b", question) is None:  # (written with capitals)
                continue
            out += [w for w in place.split() if w not in STOPWORDS and w not in self._folded_text and not self.names_it(stem(w), w)]
        return out

    def _unknown_word(self, word: str) -> bool:
        """A lower-case word that English hardly knows and no document holds ("frobread", "zq32" typed in a question
        about other functions): a name, typed the way people type names, that the documents lack. (Typos are
        corrected toward the documents' words, or common English ones, before the question gets here.)"""
        from wordfreq import zipf_frequency

        if word in STOPWORDS or not re.search(r"[a-z]", word) or word in self._folded_text:
            return False
        if (m := _GLUED_VERSION.fullmatch(word)) and re.search(rf"\b{m.group(1)}", self._folded_text):
            return False  # "frobv3", "py3" of a name the documents write apart from its version
        if zipf_frequency(word, "en") >= UNKNOWN_ZIPF or fuzzy_in(stem(word), self.vocabulary):
            return False
        return not self._near_a_word(word)

    def _near_a_word(self, word: str) -> bool:
        """A slip the speller left ("widgtes" of "widget's", "prnues"): within two edits of a document word that starts
        with the same letter, or one (two for a long word) of a common English word."""
        from symspellpy import Verbosity
        from symspellpy.editdistance import DistanceAlgorithm, EditDistance
        from wordfreq import zipf_frequency

        from .spelling import COMMON, english

        distance = EditDistance(DistanceAlgorithm.DAMERAU_OSA)
        if any(w[0] == word[0] and abs(len(w) - len(word)) <= 2 and distance.compare(word, w, 2) >= 0
               for w in self.word_counts if len(w) >= 4):
            return True
        near = english().lookup(word, Verbosity.CLOSEST, max_edit_distance=1 if len(word) <= 6 else 2)
        return any(zipf_frequency(s.term, "en") >= COMMON for s in near)

    @functools.cached_property
    def _named_by(self) -> dict[str, set[str]]:
        """Name stem -> the documents whose title or file name has it."""
        out: dict[str, set[str]] = {}
        for source, forms in self._name_weights():
            for t in set().union(*forms):
                out.setdefault(t, set()).add(source)
        return out

    def unnamed_here(self, text: str, evidence: Evidence) -> list[str]:
        """The question's words that name some of the documents, and neither name the document ``evidence`` comes from
        nor stand near it (the sentence, the one before, its heading and title).

        "Which license is <tool> under?" asked of a collection with three pages named for the tool: a license line of
        another project's README answers a different question. Only words rarer than everyday English count
        (``NAME_MAX_ZIPF``: "manual", "license", "make" name documents and say nothing of which), and none with digits;
        a document named by any word of the question is in scope.
        """
        from wordfreq import zipf_frequency

        n_docs = len(self.index.corpus.documents)  # (one document: no word names only some)
        words = [(tok, stem(tok)) for tok in tokens(text) if not re.search(r"\d", tok)]
        owners = {t: o for _, t in words if 0 < len(o := self._named_by.get(t, set())) < n_docs}
        if not owners or any(evidence.sentence.source in o for o in owners.values()):
            return []
        rare = {t for tok, t in words if t in owners and zipf_frequency(tok, "en") < NAME_MAX_ZIPF}
        said = self._said_near(evidence)
        return [t for t in owners if t in rare and t not in said]

    def asks_what_a_document_is(self, text: str) -> bool:
        """ "What is libfoo?" where every word of the thing names documents and is rarer than everyday English
        (``NAME_MAX_ZIPF``): the pages about it answer with what they are about (a summary), not one sentence that
        happens to name it ("libfoo is missing a few features.")."""
        from wordfreq import zipf_frequency

        match = WHAT_IS.match(text)
        if not match or len(match.group("thing").split()) > 3:
            return False
        words = [w for w in tokens(match.group("thing")) if w not in STOPWORDS and not w[:1].isdigit()]  # "libfoo2"
        return bool(words) and all(
            stem(w) in self._all_name_terms and zipf_frequency(w, "en") < NAME_MAX_ZIPF for w in words
        )

    def _tier_holding(self, info: QuestionInfo, best: Evidence, ranked: list[Evidence]) -> Evidence | None:
        """The sentence of the best one's passage (or of the three best) that states a tier holding an amount the
        question gives ("$5,000" in "$1,000 to $25,000: the department head."); None when the best one does, when the
        question gives no amount, or when none does."""
        asked = amounts(info.text)
        if not asked or holds_any(best.sentence.text, asked):
            return None
        near = [e for i, e in enumerate(ranked) if i < 3 or e.passage.chunk_id == best.passage.chunk_id]
        return next((e for e in near if holds_any(e.sentence.text, asked)), None)

    def heading_lines(self, passage: Passage) -> list[Span]:
        """The lines of a passage's heading path as they stand in its document, its own heading first.

        The LM reads the path beside the sentences, and some answers are only there: a release's date in
        "[1.2.0] - 2024-05-01", a version in "Changed in 3.1". (A heading the path holds with its spaces
        normalized, and not as written, is left out; so is a section number: "4" of "4. Modules" counts nothing.)"""
        if not passage.heading:
            return []
        text = self.index.corpus.get(passage.source).text
        out, end = [], passage.start
        for heading in reversed(passage.heading.split(HEADING_PATH)):
            at = text.rfind(heading, 0, end)
            if at < 0:
                break
            skip = m.end() if (m := _SECTION_NUMBER.match(heading)) else 0  # ("4." of "4. Modules" counts nothing)
            skip += len(heading[skip:]) - len(heading[skip:].lstrip())
            out.append(Span(passage.source, at + skip, at + len(heading), heading[skip:]))
            end = at
        return out

    def heading_binds(self, info: QuestionInfo, line: Evidence, answer: str) -> bool:
        """May a short answer copied from a heading line answer the question? Every number and version the question
        gives ("when was 2.4.0 released?") must be in that line's heading path (the date of the release above is no
        answer), and the line must speak of what is asked as a sentence would (``speaks_of_asked``)."""
        path = line.passage.heading[: line.passage.heading.find(line.sentence.text) + len(line.sentence.text)]
        figures = [f for f in _FIGURE.findall(info.main or info.text) if f not in answer]
        return (all(_figure_in(f, path) for f in figures)
                and self.speaks_of_asked(info, line, answer))

    def figures_bound(self, info: QuestionInfo, evidence: Evidence, answer: str) -> bool:
        """May a short answer copied from this sentence answer a question that gives a version or decimal ("what
        changed in 2.3.1?", "when was version 1.0 published?")? That figure must be where the sentence can be said to
        speak of it: the sentence, the one before it, its heading path or its document's title or file name; a figure
        that is part of some document's name names that document, not a fact ("the Frob 2.0 and Baz 3 licences both ...").
        Nor is a sentence's own clause number ("1.8." of '1.8. "License" means ...') an answer, unless the question
        asks for a numbered part ("which section defines ..."), nor what a tier says ("the CFO" of "Over $25,000: the
        CFO.") unless the question gives an amount the tier holds."""
        if ((m := _SECTION_NUMBER.match(evidence.sentence.text)) and answer.strip().rstrip(".") == m.group().strip().rstrip(".")
                and not _NUMBERED_PART.search(info.text)):
            return False
        if (states_tier(evidence.sentence.text) and not re.search(r"\d", answer)
                and not holds_any(evidence.sentence.text, amounts(info.text))):
            return False  # "the CFO" of "Over $25,000: the CFO." answers for that tier only, not "who approves travel?"
        if info.kind == "number" and (whose := version_of(info.text)):
            said = self._said_near(evidence) | self._name_terms(evidence.sentence.source)
            if not any(fuzzy_in(t, said) for t in whose):
                return False  # "which Python version does frob need?" is not answered by "Available since Frob 1.2."
        figures = [f for f in _DOTTED.findall(info.main or info.text) if f not in answer]
        if not figures:
            return True
        near = f"{self._where_said(evidence)} {evidence.sentence.source}"
        return all(_figure_in(f, near) or _figure_in(f, self._names_text) for f in figures)

    @functools.cached_property
    def _acronyms(self) -> tuple[set[str], set[str]]:
        return acronyms(" ".join(d.text for d in self.index.corpus.documents))

    @functools.cached_property
    def _names_text(self) -> str:
        """Every document's title and file name: a figure in one names that document."""
        return " ".join(f"{d.title} {d.source}" for d in self.index.corpus.documents)

    def _where_said(self, evidence: Evidence) -> str:
        """The sentence, the one before it, its section heading and its document's title: where it says what it speaks of."""
        prev = self._neighbour(evidence, -1)
        title = self.index.corpus.get(evidence.sentence.source).title
        return " ".join([evidence.sentence.text, prev.sentence.text if prev else "", evidence.passage.heading, title])

    def _said_near(self, evidence: Evidence) -> set[str]:
        """The stems of the sentence, the one before it, its section heading and its document's title (identifiers
        split at "_" and "-"): what a sentence can be said to speak of."""
        return stems(self._where_said(evidence).replace("_", " ").replace("-", " "))

    def outranks(self, best: Evidence, found: Evidence, answer: str) -> bool:
        """Does the reader's first sentence, holding a figure of its own, cover the question so much better than the
        runner-up the LM copied a bare figure from that the figure is the LM's misreading ("4" of "depth = 4" for
        "console pool depth", over "... a pool named console with a depth of 1.")?"""
        return (found.sentence != best.sentence and bool(BARE_FIGURE.fullmatch(answer.strip()))
                and bool(NUMBER.search(best.sentence.text)) and best.lexical >= found.lexical + OUTRANKS)

    def states_default(self, info: QuestionInfo, found: Evidence, answer: str, read: list[Evidence]) -> Evidence | None:
        """For a question after a default, the sentence that gives the short answer's figure as one: the sentence it
        was copied from when it (or the sentence before it, or its heading) says "default", else another sentence the
        LM read that holds the figure and says so ("By default port 8000 is used." over the example line
        "ninja -t browse --port=8000"); None when none does ("4 KiB" of "The smallest dictionary size is 4 KiB" is
        no default dictionary size). Any other question, or an answer without a figure: ``found``."""
        figure = NUMBER.search(answer)
        if not _DEFAULT.search(info.main or info.text) or figure is None:
            return found
        before = self._neighbour(found, -1)
        if any(_DEFAULT.search(t) for t in (found.sentence.text, before.sentence.text if before else "", found.passage.heading)):
            return found
        holds = re.compile(rf"(?<![\d.]){re.escape(figure.group(0))}(?!\d)")
        return next((e for e in read if _DEFAULT.search(e.sentence.text) and holds.search(e.sentence.text)), None)

    def speaks_of_asked(self, info: QuestionInfo, evidence: Evidence, answer: str = "") -> bool:
        """Does the sentence a figure was copied from speak of every specific thing the question asks about?

        Specific: an identifier ("frob_widget_size", "long-range") or a word rare in English. A figure copied from
        another entry's line ("... it had id 41.") is no answer about the entry the question names. The sentence
        before it, its section heading and its document's title count as where it speaks of them; words that name
        any document do not count as specific (inside a document its sentences seldom repeat its name), nor do
        words with digits (numbers and versions are the missing-name rule's). A bare figure is held to it whatever
        the question's form ("what id does <user> have?" is no "how many" question, and "It had id 37." of
        another user is no answer)."""
        if _cells(evidence.sentence.text) >= 2 and not self._row_is_asked(info, evidence):
            return False
        if info.kind not in FIGURE_KINDS and not BARE_FIGURE.fullmatch(answer.strip()):
            return True
        if answer and default_not_asked(info.text, evidence.sentence.text, answer):
            return False
        asked = {t for t in specific_terms(info.main or info.text) if not set(t.split()) <= self._all_name_terms}
        if not asked:
            return True
        said = self._said_near(evidence)
        # (A word typed short counts: "kube" speaks of what "Kubernetes 1.29 or newer is required." does.)
        return all(all(part in said or len(part) >= 4 and any(s.startswith(part) for s in said) for part in term.split())
                   for term in asked)

    def _row_is_asked(self, info: QuestionInfo, row: Evidence) -> bool:
        """Does the question pick this table row: a word of it in the row, besides the header's ("the team plan"
        picks "| Team | 600 | 100 |"; "the startup plan" picks no row of plans Free, Team and Enterprise)?"""
        header = self.table_header(row)
        own = stems(row.sentence.text) - (stems(header.text) if header else set())
        return any(fuzzy_in(t, own) for t in [*info.terms, *info.names])

    # -- decision ----------------------------------------------------------------------------------------------
    def decide(self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray, followup: bool = False) -> Decision:
        if info.kind == "summary":
            return self.summarize(info, passages)
        if info.main:  # score sentences against what is asked, not against the premise
            qvec = self.embedder.embed([info.main])[0]
        ranked = self.rank(info, passages, qvec, followup)
        if not ranked:
            return Decision([], True, "nothing relevant was retrieved")
        context = " ".join(p.text for p in passages)
        uncovered = self.uncovered_terms(info.terms, context, question=info.text)
        verbs = verb_like(info.main or info.text)

        def weight(t: str) -> float:
            return term_weight(t) * (0.3 if t in verbs else 1.0)

        total = sum(weight(t) for t in info.terms) or 1.0
        best = ranked[0]
        typed = [e for e in ranked if e.type_ok and e.score >= best.score - self.w.typed_margin]
        if info.kind in TYPED_KINDS and not best.type_ok and typed:
            best = typed[0]
            ranked = [best] + [e for e in ranked if e is not best]
        elif tier := self._tier_holding(info, best, ranked):
            # "who approves a $5,000 purchase?": the tier "$1,000 to $25,000: the department head." holds the amount,
            # not "Spending approvals depend on the amount:" above it nor the first tier after it.
            best = tier
            ranked = [best] + [e for e in ranked if e is not best]
        elif info.kind != "yesno" and best.features.get("novelty", 1.0) < RESTATED and self._neighbour(best, 1) is None:
            # "$ frob check" for "what does frob check do?": the question's own words, with nothing after them in its
            # passage to say what of it; the best unit that says anything answers.
            if says := [e for e in ranked if e.features.get("novelty", 1.0) >= RESTATED]:
                best = says[0]
                ranked = [best] + [e for e in ranked if e is not best]
        spelled_otherwise = named_by_acronym(info.text, self._acronyms) if info.names else set()
        signals = Signals(
            kind=info.kind,
            # Named things, numbers and quoted phrases must appear literally (or as their adjective: Malta and
            # Maltese): a neighbouring island does not answer a question about an island. Ordinary words may be
            # paraphrased.
            missing_names=[t for t in info.names if not self.names_it(t, info.name_words.get(t, t)) and t not in spelled_otherwise]
            + self.missing_identifiers(info.text),
            missing_share=round(sum(weight(t) for t in uncovered) / total, 3),
            best_score=best.score,
            best_dense=best.dense,
            max_dense=max(e.dense for e in ranked),
            type_found=info.kind not in TYPED_KINDS or best.type_ok,
            elsewhere=self.unnamed_here(info.text, best),
            in_tier=holds_any(best.sentence.text, amounts(info.text)),
        )
        if info.kind == "yesno" and signals.missing_names and self._figure_contradicted(info, signals.missing_names, best):
            signals.figure_contradicted = True
        reason = abstention_reason(signals, self.w, info.text, uncovered) if self.w.abstain else ""
        pending = ""
        if reason and info.kind != "yesno" and self.w.judge_min_if_names <= 1 and only_names_missing(signals, self.w):
            pending, reason = reason, ""  # the LM judge may still find the answer (names_excused)
        if reason:
            return Decision(ranked[:1], True, reason, uncovered=uncovered, signals=signals.to_dict())
        if (listed := self.list_for(info, [best, *(e for e in ranked if e is not best)])) is not None:
            lead, items, numbered = listed
            signals.listed = len(items)
            cited = [*lead, *(e for item in items for e in item)]
            return Decision(cited, False, uncovered=uncovered, signals=signals.to_dict(), runners_up=self._others(ranked, cited),
                            pending=pending, items=items, numbered=numbered)
        chosen, carried_on = [best], 0
        if _ANAPHOR.match(best.sentence.text) and (prev := self._neighbour(best, -1)) is not None:
            chosen.insert(0, prev)  # "His acknowledgment ..." needs the sentence that says whose
        follow = self._neighbour(best, 1)
        if follow is not None and best.sentence.text.rstrip().endswith(":"):
            chosen.append(follow)  # "... here are a few recommendations:" introduces the answer that follows
        elif follow is not None and len(best.sentence.text.split()) < 5 and best.features.get("novelty", 1.0) < RESTATED and not _cells(best.sentence.text):
            # "Chargeback" (a glossary's term), "Creates an invoice.": the question's own words; what follows says it
            chosen.append(follow)
            carried_on = 1
        elif follow is not None and info.kind == "why" and best.lexical >= 0.5 and (
            _FOLLOWS_ON.match(follow.sentence.text) or best.features.get("novelty", 1.0) < RESTATES
            or (_CAUSAL.search(follow.sentence.text) and not _CAUSAL.search(best.sentence.text))
        ):
            chosen.append(follow)  # the sentence restates the premise; the reason comes next
        elif follow is not None and info.kind != "yesno" and best.lexical >= 0.5 and _CARRIES_ON.match(follow.sentence.text):
            chosen.append(follow)  # "... using /usr/bin/env name. This is not advisable as it bypasses ...": says what of it
            carried_on = 1  # one unit with the best sentence: it takes no companion's place
        if info.premise:
            bridge = max(ranked, key=lambda e: sum(term_weight(t) for t in info.premise if fuzzy_in(t, stems(e.sentence.text))))
            if bridge.sentence != best.sentence:
                chosen.append(bridge)  # the sentence that states what the question takes as given
        for other in ranked[1:]:
            if len(chosen) - carried_on >= self.config.max_citations - 1:
                break
            if other.score >= best.score - self.w.companion_margin and other.lexical > 0 and all(
                other.sentence.text != c.sentence.text for c in chosen  # the same line twice says nothing new
            ) and not (signals.in_tier and _other_tier(other.sentence.text, info.text)):  # (another tier answers another amount)
                chosen.append(other)
        decision = Decision(chosen, False, uncovered=uncovered, signals=signals.to_dict(), runners_up=self._others(ranked, chosen),
                            pending=pending)
        if info.kind == "yesno":
            text = best.sentence.text
            decision.yes_no = yes_or_no(info, text, self.uncovered_terms(info.terms, text, stems(text)), self.w.yes_max_missing)
        return decision


@dataclass
class Signals:
    """The numbers an answer/abstain decision is made from; stored with each answer so the rules can be refit."""

    kind: str
    missing_names: list[str]  # stems of names, numbers and quoted words the documents never contain
    missing_share: float  # weighted share of the question's content words absent even as close synonyms
    best_score: float
    best_dense: float
    max_dense: float  # the closest sentence in meaning, whatever its words
    type_found: bool  # a typed question ("how many", "who" ...) has a sentence of that type to answer from
    # Rare words of the question that name some documents, none of them the best sentence's, which never mentions them.
    elsewhere: list[str] = field(default_factory=list)
    listed: int = 0  # items of the list a question asking for several things is answered with
    in_tier: bool = False  # the best sentence states a tier ("$1,000 to $25,000", "over 5 years") holding the asked amount
    # A yes/no question's figure the documents lack, where the best sentence gives another figure of the same thing
    # ("Does the depot hold 9,000 crates?" of "The depot holds about 4,000 crates."): a "No", not a gap.
    figure_contradicted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# What a typed question asks for, in the words of a reply ("the passages give no such figure").
ASKED_FOR = {"how_many": "such number", "number": "such figure", "who": "name", "where": "place", "when": "time", "when_exact": "date",
             "email": "email address", "url": "web address"}

# (rule, why): the first rule that holds abstains. Each is a named, documented condition on the signals.
ABSTAIN_RULES: list[tuple[Callable[[Signals, ReaderConfig], bool], Callable[[Signals, str, list[str]], str]]] = [
    (lambda s, w: bool(s.missing_names) and not s.figure_contradicted,
     lambda s, q, unc: "they never mention " + _quote_terms(s.missing_names, q)),
    # Many question words absent AND nothing close in meaning: the documents are about something else. (Unless the best
    # sentence is a tier that holds the amount asked about: a policy's "spending" tier answers a "purchase".)
    (lambda s, w: s.missing_share >= w.missing_share and s.best_dense < w.max_dense_for_missing and not s.in_tier,
     lambda s, q, unc: "they never mention " + _quote_terms(unc, q)),
    # A yes/no question about things the documents never mention: they do not say, which is not a "No".
    (lambda s, w: s.kind == "yesno" and s.missing_share >= w.yesno_missing_share,
     lambda s, q, unc: "they never mention " + _quote_terms(unc, q)),
    # The question names documents by a word of theirs ("... the <tool> docs", "... in <project>"), and the closest
    # sentence lies in another document that never mentions it: that document answers for something else.
    (lambda s, w: bool(s.elsewhere),
     lambda s, q, unc: "the closest passages are in other documents, which never mention " + _quote_terms(s.elsewhere, q)),
    (lambda s, w: s.max_dense < w.min_dense,
     lambda s, q, unc: "no passage is about this"),
    (lambda s, w: not s.type_found,
     lambda s, q, unc: f"the passages about this give no {ASKED_FOR.get(s.kind, 'answer of that kind')}"),
    (lambda s, w: s.best_score < w.min_support,
     lambda s, q, unc: "no passage answers this closely enough"),
]


def only_names_missing(signals: Signals, weights: ReaderConfig) -> bool:
    """Is a name, number or quoted word the documents lack the only rule that declines? (A missing identifier, snake_case
    or a name glued to its version, "SHA-512", is never excused: a text names a vendor in words of its own, an
    identifier only as it is, and "SHA-256" beside it is another thing.)"""
    rest = dataclasses.replace(signals, missing_names=[])
    return (bool(signals.missing_names) and not any("_" in n or _VERSIONED.fullmatch(n) for n in signals.missing_names)
            and not any(holds(rest, weights) for holds, _ in ABSTAIN_RULES))


def names_excused(kind: str, judge: float | None, weights: ReaderConfig, direct: str | None = None) -> bool:
    """May the LM judge overrule a missing name? The question may name a thing as the documents do not ("Which vendor
    ...?" for a text that names a company); when the closest sentences answer it all the same, the judge says so. On
    the dev sets every unanswerable question with a missing name was judged below 0.58, and answerable ones from 0.56
    to 0.89. A yes/no question is never judged so: its judge reads polarity. Nor is a name excused once the LM, asked
    for a short answer (``direct``: what became of it), replies that the sentences hold none ("What did <a person the
    text never names> say about ...?", judged 0.61): no dev question answered right had it so."""
    return kind != "yesno" and judge is not None and judge >= weights.judge_min_if_names and direct != "none"


def abstention_reason(signals: Signals, weights: ReaderConfig, question: str, uncovered: list[str]) -> str:
    """Why the documents do not answer, in the user's terms; empty when they may."""
    for holds, why in ABSTAIN_RULES:
        if holds(signals, weights):
            return why(signals, question, uncovered)
    return ""


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)+")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\(\)")
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")  # "2.4.0", "1,024": a number or version as written
_DOTTED = re.compile(r"(?<![\d.])\d+(?:\.\d+)+(?![\d]|\.\d)")  # "2.3.1", "1.0", "0.21": a version or a decimal


def _figure_in(figure: str, text: str) -> bool:
    """Is the figure in the text as a whole figure ("2.4" is not in "2.4.1" nor in "12.4")?"""
    return re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d]|\.\d)", text) is not None


_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_LONG_OPTION = re.compile(r"(?<![\w-])--([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)")
# A question after an extreme ("the largest value allowed for --depth") is not answered by the figure a sentence gives
# as the default ("--depth=<number> [default: 30]"), unless it asks for the default too.
_ASKS_EXTREME = re.compile(r"\b(?:max|maximum|largest|highest|biggest|upper|min|minimum|smallest|lowest|lower)\b", re.I)
_DEFAULT = re.compile(r"\bdefault", re.I)


def default_not_asked(question: str, sentence: str, answer: str) -> bool:
    """Is ``answer`` the figure ``sentence`` gives as a default ("[default: 30]", "defaults to 30", "30 by default")
    while the question asks for a maximum or minimum and not the default?"""
    if not _ASKS_EXTREME.search(question) or _DEFAULT.search(question):
        return False
    figure = re.escape(answer.strip().rstrip("."))
    return re.search(rf"\bdefault(?:s?\s+to|s|\s+is|\s+value\s+is|\s+of)?\W{{0,3}}{figure}(?![\d.])|(?<![\d.]){figure}\W{{0,3}}by\s+default",
                     sentence, re.I) is not None


# A name glued to its version or model number: "HTTP/2", "ARM64", "IPv6", "bzip2", "utf8", "SHA-512". (Not "v3": a
# version of what?)
_VERSIONED = re.compile(r"(?<![\w./-])([A-Za-z]{2,})[/.-]?(\d+(?:\.\d+)*)(?![\w-]|\.\d)")


def versioned_names(question: str) -> list[str]:
    return [m.group(0) for m in _VERSIONED.finditer(question)]


def versioned_in(name: str, text: str) -> bool:
    """Is a versioned name in lower-case ``text``, however it is written there? "IPv6" as "ipv6", "IP v6" or "IP
    version 6"; "python3" as "Python 3"; "abc3" as "ABC-3"; "HTTP/2" as "http2" or "HTTP/2.0" (but "20" is no "2")."""
    m = _VERSIONED.fullmatch(name)
    if m is None:
        return name.lower() in text
    letters, number = m.group(1).lower(), m.group(2)
    stem_ = letters[:-1] if letters.endswith("v") and len(letters) > 2 else letters  # "ipv6": "ip" + "v6"
    sep = r"[\s/._-]?"
    pattern = rf"(?<![a-z0-9]){re.escape(stem_)}{sep}(?:(?:v|version){sep})?{re.escape(number)}(?![0-9])"
    return re.search(pattern, text) is not None


SPECIFIC_MAX_ZIPF = 3.0  # rarer than this in English, a word names a specific thing ("cache" does not)
# A word that names some documents names what they are about when it is rarer than this in English: a tool, a project,
# a product, a vendor; "license", "manual", "patch" are everyday words that titles share.
NAME_MAX_ZIPF = 3.5


def specific_terms(question: str) -> set[str]:
    """The question's identifiers and rare words, as space-joined stems ("frob widget size", "gizmo"); none with
    digits."""
    from wordfreq import zipf_frequency

    out, inside = set(), set()
    for ident in _IDENTIFIER.findall(question):
        parts = tokens(ident.replace("_", " ").replace("-", " "))
        if not re.search(r"\d", ident):
            out.add(" ".join(stem(t) for t in parts))
        inside.update(parts)
    for option in _LONG_OPTION.findall(question):  # "--depth": an everyday word written as an option names that option
        out.add(" ".join(stem(t) for t in tokens(option.replace("-", " "))))
    for call in _CALL.findall(question):  # "inflate()": an English word written as code names that function
        if not re.search(r"\d", call):
            out.add(" ".join(stem(t) for t in tokens(call.replace("_", " "))))
    for tok in tokens(question):
        if tok in inside or tok in STOPWORDS or len(tok) < 3 or re.search(r"\d", tok):
            continue
        if zipf_frequency(tok, "en") < SPECIFIC_MAX_ZIPF and not _everyday_derivation(tok):
            out.add(stem(tok))
    return out


_PREFIXES = ("un", "non", "re", "dis", "mis", "pre", "over", "under", "out", "in", "im", "ir", "il", "de")
EVERYDAY_ZIPF = 3.5  # an everyday word: "modified", "released" (a question paraphrases with these)


def _everyday_derivation(word: str) -> bool:
    """Is a rare word an everyday one with a prefix or an "-ly" ("unmodified", "partially")? It describes, as a
    paraphrase does, rather than naming a specific thing."""
    from wordfreq import zipf_frequency

    bases = [word[len(p):] for p in _PREFIXES if word.startswith(p)] + ([word[:-2]] if word.endswith("ly") else [])
    return any(len(b) >= 4 and zipf_frequency(b, "en") >= EVERYDAY_ZIPF for b in bases)


# What ``signals.direct`` says when the LM gave no usable short answer (an "error" says nothing of the documents).
# "no_figure": it copied a phrase, but a question asking for a figure or a date got one without any (a product name for
# "which version ...?"): the sentences it read hold none.
# "unbound": a figure copied from a sentence that does not speak of the specific thing asked about (speaks_of_asked).
UNCOPIED = ("none", "not_copied", "restates", "no_figure", "unbound")
# A passage this close to the question in meaning asks it itself (an FAQ's "Q: Who do I contact if ...?" above its
# answer): that the LM copied no short answer from it ("who" answered by a team, not a person) declines nothing. In
# the stored dev and probe runs (plain and typed), 57 answerable questions and 1 unanswerable one reached 0.85; none
# of the unanswerable reached 0.86.
ASKED_HERE = 0.9
MADE_UP = ("not_copied", "restates", "unbound")  # a short answer the LM gave that is in none of the sentences, or beside them
# A lower-case question word rarer than this in English (wordfreq's Zipf scale: 1.5 is once in 30 million words) and in
# no document is a name they lack; the speller's bound for a typo (rag.spelling.RARE).
UNKNOWN_ZIPF = 1.5
_LOWER_WORD = re.compile(r"(?<![\w./@-])[a-z][a-z0-9]{3,}(?![\w/@]|[.-]\w)")
_GLUED_VERSION = re.compile(r"([a-z]{2,}?)v?\d+(?:\.\d+)*")
OUTRANKS = 0.4  # how much more of the question's words the reader's sentence must carry to overrule the LM's figure
# "37", "1,024", "1000..60000", "0x0A": a figure with nothing it counts
BARE_FIGURE = re.compile(r"\d[\d,.…:/-]*|0[xX][0-9A-Fa-f]+")
FIGURE_KINDS = ("how_many", "number", "when_exact", "email", "url")  # a short answer must hold what they ask for


# "Which Python version ...", "what is the minimum FreeType version", "which version of Python": whose version.
_VERSION_OF = re.compile(r"\b(?:what|which)\s+(?:(?:is|are|was|were)\s+)?(?:(?:the|a|an|its|their)\s+)?"
                         r"(?P<whose>[\w.+-]+(?:\s+[\w.+-]+){0,2}?)\s+versions?\b|\bversions?\s+of\s+(?:the\s+)?(?P<of>[\w.+-]+)", re.I)
_VERSION_WORDS = frozenset(content_terms("minimum maximum latest oldest newest earliest required default current first last "
                                         "new old recent supported stable exact lowest highest this that spec "
                                         "document doc manual page file standard release"))


_TIMES_ASK = re.compile(r"times\b", re.I)
_MULTIPLE = re.compile(r"\d(?:[\d.,]*\d)?\s*(?:x|×|times|-fold|fold)\b|\b(?:twice|thrice|double[sd]?|triple[sd]?|halve[sd]?|"
                       r"(?:two|three|four|five|six|seven|eight|nine|ten|hundred|thousand)(?:\s+|-)(?:times|fold))\b", re.I)


# What "how much <noun>" measures, by the units a figure of it is written in.
_BYTES = r"(?:[kmgtp]i?b?|bytes?|kilobytes?|megabytes?|gigabytes?|terabytes?)\b"
_DURATION = r"(?:ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?)\b"
_MEASURE_UNITS = {**dict.fromkeys(("memory", "ram", "space", "disk", "storage", "size"), _BYTES),
                  **dict.fromkeys(("time", "delay", "timeout"), _DURATION)}


def version_of(question: str) -> list[str]:
    """The stems of what a question asks the version of; empty when it does not say."""
    if not (m := _VERSION_OF.search(question)):
        return []
    return [t for t in content_terms(m.group("whose") or m.group("of")) if t not in _VERSION_WORDS and not t[:1].isdigit()]


def gives_figure(info: QuestionInfo, phrase: str) -> bool:
    """Does a short answer hold what a figure or date question asks for? (Other kinds: always.)"""
    return info.kind not in FIGURE_KINDS or _type_ok(info, phrase)


def lm_abstention(
    kind: str, judge: float | None, direct: str | None, weights: ReaderConfig, reply: str = "", best_dense: float = 0.0
) -> str:
    """Why the LM's checks decline an answer the rules let through; empty when they do not.

    ``judge`` is its P(Yes) that the sentences answer the question, ``direct`` what became of its short answer
    (None before it was asked), ``reply`` that answer as the LM gave it and ``best_dense`` the best passage's
    similarity to the question. The pipeline decides with this and ``evals/fit_reader.py`` replays it.
    """
    if judge is None or kind == "yesno":  # a yes/no question is judged for its polarity instead
        return ""
    if direct == "no_default":  # a figure from a sentence that gives it as no default, asked for the default
        return "the passages closest to the question give no default"
    # Asked for a short answer, the LM gave a bare figure that is in none of the sentences or comes from one about
    # something else: whatever its wh-word ("what badge number ...", "what port ..."), the question wants a figure the
    # passages lack. In the dev runs (429 questions, plain and typed) 42 such replies were to unanswerable questions
    # and 4 to answerable ones answered wrong or declined anyway; 6 of the 42 were answered (judge up to 0.90). A bare
    # figure it did copy needs judge_min_if_figure.
    if BARE_FIGURE.fullmatch(reply.strip().rstrip(".")) and (
            direct in MADE_UP or direct == "copied" and judge < weights.judge_min_if_figure):
        return f"the passages closest to the question give no {ASKED_FOR.get(kind, 'such figure')}"
    if judge < weights.judge_min or (direct == "none" and judge < weights.judge_min_if_none):
        return "the passages closest to the question do not answer it"
    if direct in UNCOPIED and kind in TYPED_KINDS and judge < weights.judge_min_if_uncopied and best_dense < ASKED_HERE:
        return f"the passages closest to the question give no {ASKED_FOR.get(kind, 'answer of that kind')}"
    if direct == "not_copied" and judge < weights.judge_min_if_made_up:  # its answer is in none of them
        return "the passages closest to the question do not answer it"
    return ""


def _quote_terms(stem_terms: list[str], question: str) -> str:
    """Show the user the words of their question that the article lacks, as they typed them."""
    words = []
    for tok in re.findall(r"\d[\d,]*\d|[\w’'./-]+", question):
        plain = tok.lower().replace(",", "")  # ("100,000" is looked for as 100000)
        if (plain in stem_terms or any(s in stem_terms for s in stems(tok))) and tok.lower() not in (w.lower() for w in words):
            words.append(tok.strip(".’'"))
    return ", ".join(f"“{w}”" for w in words) or "what you asked about"


def yes_or_no(info: QuestionInfo, sentence: str, missing: list[str], max_missing: float = 0.4) -> str:
    """Yes when the sentence states the claim; No when it contradicts it or leaves its key words out."""
    if m := _STATED_VERDICT.match(sentence):  # an FAQ's "A: No. Only ..." answers a question just like it
        return m.group(1).capitalize()
    q_stems = set(info.terms)
    s_stems = stems(sentence)
    for pos, neg in _ANTONYMS:
        q_pos, q_neg = _hits(q_stems, pos), _hits(q_stems, neg)
        s_pos, s_neg = _hits(s_stems, pos), _hits(s_stems, neg)
        if (q_pos and s_neg and not s_pos) or (q_neg and s_pos and not s_neg):
            return "No"
    numbers = [n for n in NUMBER.findall(info.text) if n[:1].isdigit()]
    if any(n not in sentence for n in numbers):
        return "No"  # "around 100,000?" when the article says 50,000
    # "Is X only regional?" against "not only regional but global": the qualifier is denied.
    if re.search(r"\bonly\b", info.text, re.I) and re.search(r"\bnot (?:only|just|merely)\b", sentence, re.I):
        return "No"
    q_negated = bool(_NEGATION & set(tokens(info.text)))
    s_negated = bool(_NEGATION & set(tokens(sentence)))
    if q_negated != s_negated and not re.search(r"\bnot (?:only|just|merely)\b", sentence, re.I):
        return "No"
    weight = sum(term_weight(t) for t in missing) / (sum(term_weight(t) for t in info.terms) or 1.0)
    return "Yes" if weight <= max_missing else "No"


def _hits(stem_set: set[str], group: set[str]) -> bool:
    return any(any(s.startswith(g) for g in group) for s in stem_set)


def _alnum_words(text: str) -> list[str]:
    """The runs of letters and digits: a line's words without its markup ("`--frob`", "* **x**")."""
    return re.findall(r"[^\W_]+", text)
