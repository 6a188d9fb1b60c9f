"""Small text utilities shared by the reader and the citation checker: tokens, stems, term weights."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence

# Dotted acronyms (U.S., e.g.) stay one token; possessive 's is dropped; numbers keep their commas. Letters are any
# script's ("Zürich", "日本"); accents are folded so "cafe" finds "café".
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|\d[\d,]*(?:\.\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)?")
_POSSESSIVE = re.compile(r"['’]s$")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can could did didn't do does doesn't doing don't down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is isn't it its itself
    just let me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was wasn't we were what when where which while who whom whose why will
    with would you your yours yourself yourselves one ones much many may might must shall s t also yet via
    according per else besides apart roughly approximately exactly really actually currently back i'm i've i'd
    i'll you're you've you'd you'll we're we've they're it's that's there's what's who's can't won't isn't
    shouldn't couldn't wouldn't""".split()
)

# Words that frame a question about the text rather than carry its content.
FRAME_WORDS = frozenset(
    """article articles author writer text passage piece story report say says said state states stated mention
    mentions mentioned tell tells told describe describes described name named called refer refers referred
    discuss discusses discussed talk talks note notes noted claim claims claimed suggest suggests suggested
    give given explain explains explained happen happens kind type sort thing things way ways something use uses
    used using main specific specifically call calls""".split()
)

@functools.lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


# Contractions typed without their apostrophe ("doesnt", "whats"): only forms that are no English word of their
# own ("cant" and "wont" are, rarely; "its", "lets", "were", "well", "ill", "id" are common words and stay).
_BARE_CONTRACTIONS = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "cant": "cannot", "couldnt": "could not", "wont": "will not",
    "wouldnt": "would not", "shouldnt": "should not", "hasnt": "has not", "havent": "have not", "hadnt": "had not",
    "mustnt": "must not", "whats": "what is", "whos": "who is", "wheres": "where is", "hows": "how is",
    "whens": "when is", "whys": "why is", "thats": "that is", "theres": "there is", "im": "i am", "ive": "i have",
    "youre": "you are", "theyre": "they are", "youve": "you have", "weve": "we have", "theyve": "they have",
}
_BARE = re.compile(r"\b(" + "|".join(_BARE_CONTRACTIONS) + r")\b", re.IGNORECASE)
BARE_CONTRACTIONS = frozenset(_BARE_CONTRACTIONS)


def expand_bare_contractions(text: str) -> str:
    """ "whats the limit, doesnt it apply" -> "what is the limit, does not it apply": negations and question words
    read as typed with an apostrophe."""

    def expand(match: re.Match[str]) -> str:
        word = match.group(1)
        full = _BARE_CONTRACTIONS[word.lower()]
        return full[:1].upper() + full[1:] if word[:1].isupper() else full

    return _BARE.sub(expand, text)


# Chat shorthand, read in full where it cannot be a flag or a name: "u"/"r" only next to the words they go with in a
# question ("can u", "where r"), so "the r option" and "diff -u" stay as typed.
_SHORTHAND = {"wat": "what", "wut": "what", "pls": "please", "plz": "please", "abt": "about", "cuz": "because",
              "coz": "because", "thx": "thanks", "ur": "your", "b4": "before", "w/o": "without", "w/": "with"}
_SHORT = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(k) for k in sorted(_SHORTHAND, key=len, reverse=True))
                    + r")(?=\s|$|[?!,;])", re.IGNORECASE)
_AUX = r"can|could|do|does|did|would|will|should|have|are|if|when|where|how|what|why|who"
_YOU = re.compile(rf"\b({_AUX}) u(?=\s|$|[?!,;])|(?<![\w./-])u(?= (?:can|need|have|want|get|use|do)\b)", re.IGNORECASE)
_ARE = re.compile(r"\b(where|what|how|why|who|when|which) r(?= )", re.IGNORECASE)


def expand_shorthand(text: str) -> str:
    """ "wat r the limits, can u raise them" -> "what are the limits, can you raise them"."""
    text = _SHORT.sub(lambda m: _SHORTHAND[m.group(1).lower()], text)
    text = _YOU.sub(lambda m: f"{m.group(1)} you" if m.group(1) else "you", text)
    return _ARE.sub(lambda m: f"{m.group(1)} are", text)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, possessives stripped, curly apostrophes unified."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [_POSSESSIVE.sub("", t.lower()).replace("’", "'") for t in _TOKEN.findall(text)]


# Documents spell small numbers out ("after two hours"), people type digits ("after 2 hours"): one term. ("one" is
# left alone: it is a pronoun as often as a number.)
_NUMBER_WORDS = {w: str(n) for n, w in enumerate("two three four five six seven eight nine ten eleven twelve".split(), 2)}


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    if not word[:1].isalpha() or "." in word:
        return word.replace(",", "")
    return _NUMBER_WORDS.get(word) or _stemmer().stemWord(word)


def content_terms(text: str, drop_frame: bool = True) -> list[str]:
    """Stems of the content words, in order, without duplicates."""
    out: dict[str, None] = {}
    for tok in tokens(text):
        if tok in STOPWORDS or (drop_frame and tok in FRAME_WORDS) or len(tok) < 2 and not tok.isdigit():
            continue
        out[stem(tok)] = None
    return list(out)


@functools.lru_cache(maxsize=65536)
def term_weight(term: str) -> float:
    """How much a term says: rare words (by general English frequency) weigh more than common ones."""
    from wordfreq import zipf_frequency

    if term[:1].isdigit():
        return 3.0
    zipf = zipf_frequency(term, "en")
    if zipf == 0.0:
        zipf = 3.0  # unknown to wordfreq (a stem or a rare name): treat as fairly rare
    return max(0.5, 7.0 - zipf)


_WH = {"what", "who", "which", "that", "whom"}
_AUX_WORDS = {"do", "does", "did", "will", "would", "can", "could", "should", "might", "may", "must"}


def verb_like(question: str) -> set[str]:
    """Stems of words that are probably the question's verbs ("What *holds* X back?", "did X *announce*").

    Questions paraphrase their verbs freely while the things they ask about keep their names, so
    a verb the article lacks is weak evidence that the article cannot answer.
    """
    toks = tokens(question)
    out = set()
    for i, tok in enumerate(toks):
        prev = toks[i - 1] if i else ""
        if tok.endswith(("ing", "ed")) and len(tok) > 5:
            out.add(stem(tok))
        elif prev in _WH and tok.endswith("s") and not tok.endswith("ss") and i == 1:
            out.add(stem(tok))
        elif i >= 2 and toks[i - 2] in _AUX_WORDS and tok not in STOPWORDS:
            out.add(stem(tok))  # "does the city HOST", "did the minister ANNOUNCE"
    return out


def stems(text: str) -> set[str]:
    return {stem(t) for t in tokens(text)}


def fuzzy_in(term: str, vocabulary: set[str]) -> bool:
    """Stem match, or a shared 6-letter prefix (constrains/constraints, critique/critiquing)."""
    if term in vocabulary:
        return True
    if len(term) >= 6:
        prefix = term[:6]
        return any(v.startswith(prefix) for v in vocabulary)
    return False


# "What is X?", "what's the cache file": a question that asks what a thing is (X: one to four words).
WHAT_IS = re.compile(r"^\W*what(?:'s|’s|\s+is|\s+are)\s+(?:(?:the|a|an)\s+)?(?P<thing>[^\s?]+(?:\s+[^\s?]+){0,3})\s*\?*\s*$",
                     re.IGNORECASE)
NUMBER = re.compile(
    # (a unit glued on is part of the figure: "256K", "16KiB", "4x", "10ms")
    r"\b\d[\d,]*(?:\.\d+)?(?:[kKMGT](?:i?B)?|[kmg]b|x|ms|ns|px)?\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|"
    r"half|double|doubling|doubled|triple|twice|percent)\b",
    re.IGNORECASE,
)
DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|\b\d+(?:st|nd|rd|th)\b"
)
PERIOD = re.compile(r"\b(?:century|centuries|decade|decades|ago|era|years?|World War|post-war|postwar)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
ROLES = re.compile(
    r"\b(?:president|secretary|minister|official|officials|leader|leaders|ambassador|general|admiral|chief|"
    r"spokesperson|spokesman|policymakers|government|administration)\b",
    re.IGNORECASE,
)
# Words for people in general: a collective, or an agent noun (below).
_PEOPLE_WORDS = re.compile(
    r"\b(?:users?|people|person|persons|anyone|anybody|everyone|everybody|nobody|someone|somebody|staff|team|"
    r"members?|groups?|root|you|we|they|he|she|citizens?|residents?|clients?|customers?|students?|agents?|"
    r"applicants?|tenants?|licensees?|licensors?|parties|party|individuals?|humans?|authors?|"
    r"administrators?|admins?|scientists?|specialists?|experts?|committees?|boards?|councils?|"
    r"(?:department|team|division|unit)\s+heads?|heads?\s+of)\b",
    re.IGNORECASE,
)
_AGENT = re.compile(r"\b(?P<stem>[a-z]{3,}?)(?:er|or|ist)s?\b", re.IGNORECASE)


def is_agent_noun(word: str) -> bool:
    """"maintainer", "developer", "editor", "minister": a common verb or noun plus -er/-or/-ist, or a role word.
    ("other", "order", "never" are not: their stems are no English words.)"""
    from wordfreq import zipf_frequency

    m = _AGENT.fullmatch(word)
    if not m:
        return False
    root = m.group("stem").lower()
    forms = {root, root + "e", root[:-1] if len(root) > 3 and root[-1] == root[-2] else root}  # writ-e, plan-n-er
    return any(zipf_frequency(f, "en") >= 3.5 for f in forms) or bool(ROLES.fullmatch(word))


def mentions_people(text: str) -> bool:
    """A word for people: "members of the group", "the maintainer", "any user", "the author"."""
    return bool(_PEOPLE_WORDS.search(text) or ROLES.search(text)) or any(
        is_agent_noun(m.group(0)) for m in _AGENT.finditer(text))


# Nationality and language adjectives: "Maltese" for Malta, "Kenyan" for Kenya, "Austrian" for Austria.
_DEMONYM_SUFFIX = re.compile(r"(?:ese|ian|ean|an|ish|i|n)$")


def name_roots(word: str) -> set[str]:
    """Forms of a name that its adjective shares (Malta/Maltese -> "malt", Kenya/Kenyan -> "keny")."""
    word = word.lower()
    forms = {word, _DEMONYM_SUFFIX.sub("", word)}
    return {r for f in forms for r in (f, f[:-1] if f[-1:] in ("a", "e", "i", "o", "u") else f) if len(r) >= 4}


# A name of several capitalized words ("United States", "Department of Defense") and the acronyms written for names.
_CAPITAL_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:(?:of|and|for|the)\s+)*[A-Z][a-z]+)+")
_ACRONYM = re.compile(r"(?<![\w.])(?:[A-Z]\.){2,}(?![\w])|\b[A-Z][A-Za-z]?[A-Z]{1,4}s?\b")


def _initials(words: Sequence[str]) -> set[str]:
    """ "Department of Defense" -> {"DD", "DOD"}: with and without its small words."""
    return {"".join(w[0] for w in words if w[0].isupper()), "".join(w[0] for w in words).upper()}


def _runs(text: str) -> Iterator[list[str]]:
    """Each name of several capitalized words, longest first without its first words ("Did the Department of
    Defense", "The European Union": a sentence's first word is capitalized)."""
    for m in _CAPITAL_RUN.finditer(text):
        words = m.group().split()
        for i in range(len(words) - 1):
            if words[i][0].isupper() and sum(w[0].isupper() for w in words[i:]) >= 2:
                yield words[i:]


def _acronym(written: str) -> str:
    return written.replace(".", "").rstrip("s").upper()


def acronyms(text: str) -> tuple[set[str], set[str]]:
    """The acronyms a text writes ("U.S." and "US" as "US", "DoD" as "DOD"), and the initials of the names it spells
    out ("European Union" as "EU"): so a question may say either."""
    return {_acronym(m.group()) for m in _ACRONYM.finditer(text)}, {a for run in _runs(text) for a in _initials(run)}


def named_by_acronym(question: str, known: tuple[set[str], set[str]]) -> set[str]:
    """Stems of the question's name words written one way while the documents write the other: "United States"
    where they say "U.S.", "EU" where they say "European Union" (``known``: the documents' ``acronyms``)."""
    written, spelled = known
    out: set[str] = set()
    for run in _runs(question):
        if _initials(run) & written:
            out |= {stem(w.lower()) for w in run}
    for m in _ACRONYM.finditer(question):
        if _acronym(m.group()) in spelled:
            out |= {stem(t) for t in tokens(m.group())}
    return out


def is_demonym(word: str) -> bool:
    """A capitalized adjective of nationality rather than a name of its own ("Maltese", "Austrian")."""
    return bool(re.search(r"(?:ese|ian|ean|ish)$", word.lower()))


def has_name(sentence: str, exclude: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """A capitalized name (not the sentence's first word, not already in the question) or a role."""
    for match in re.finditer(r"(?<=[\s“\"(])([A-Z][a-z]{2,})", sentence):
        word = match.group(1)
        if stem(word.lower()) not in exclude:
            if not is_demonym(word):
                return True
    return any(stem(m.lower()) not in exclude for m in ROLES.findall(sentence))
