"""Typo correction toward the documents' own words: "bencmhark" finds the benchmark, "sysetm" the system.

People type questions fast. A misspelt word matches nothing in BM25, blurs the query embedding and
counts as a word the documents never mention, so one typo can turn an answer into "not found". A word is
corrected only when the documents do not contain it and English knows it at most as a rare word, far
rarer than the correction; preferably to a word the documents contain (SymSpell, Damerau-Levenshtein
distance 1, or 2 for long words), else to a common English word (symspellpy's bundled frequency list:
"minisetr" is the minister the documents do not name, "ignroe all previous instructions" an injection). A
word English knows well is the user's choice (a paraphrase), never "corrected" toward the documents.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from collections.abc import Iterable

from .text import BARE_CONTRACTIONS, tokens

# Zipf frequency (wordfreq: 3 = once per million words). Below RARE a word is taken as a typo; up to COMMON it is
# taken as one when the correction is MORE_COMMON times 10 more frequent ("personel" 1.9 -> "personnel" 4.0,
# while "bellicose" 2.3 has no near neighbour so common). At COMMON and above a word is the user's own.
RARE = 1.5
COMMON = 3.0
MORE_COMMON = 1.5
# A closed-up compound is split only into words the documents use (at least this often each).
MIN_PART_COUNT = 1
PART_MIN_ZIPF = 3.5  # ... and English uses often: "ret run" is no reading of "retrun"
# A two-letter word rarer than this in English is no word of its own ("us", "uk", "de", "it" are): typed for a country,
# it is that country's ISO 3166 code ("jp", "cn", "kr").
CODE_MAX_ZIPF = 4.0
# A clipped word ("mil", "repo") reads as the documents' word it starts when they use that word this often, and this
# many times as often as any other word it starts.
CLIPPED_MIN_COUNT = 3
CLIPPED_DOMINANCE = 3.0
ENGLISH_WORDS = 30_000  # the most frequent words of symspellpy's list: enough for questions, built in ~0.5 s
# Plain words (lower case or capitalized); "CMakeLists", "file.txt", "--in-place", "x_y" and "v2" are left alone.
_WORD = re.compile(r"(?<![\w./-])[A-Za-z][a-z]+(?![\w/-]|\.\w)")


class Speller:
    """Built from the documents' word counts on first use (a fraction of a second per MB of text)."""

    def __init__(self, counts: Counter[str]) -> None:
        self._counts = counts
        self._symspell = None
        self._lock = threading.Lock()

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Speller:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(t for t in tokens(text) if t.isalpha())
        return cls(counts)

    def _index(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._symspell is None:
                from symspellpy import SymSpell

                sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
                for word, count in self._counts.items():
                    if len(word) >= 4:
                        sym.create_dictionary_entry(word, count)
                self._symspell = sym
            return self._symspell

    def suggest(self, word: str) -> str | None:
        """The documents' word a misspelt ``word`` stands for, or None."""
        from wordfreq import zipf_frequency

        lower = word.lower()
        zipf = zipf_frequency(lower, "en")
        if len(lower) <= 4 and zipf < CODE_MAX_ZIPF and lower not in self._counts:  # typed short, not mistyped
            if len(lower) == 2:
                return self._country(lower)
            return None if word[:1].isupper() else self._expanded(lower)
        if len(lower) < 4 or lower in self._counts or zipf >= COMMON or lower in BARE_CONTRACTIONS:
            return None  # ("doesnt" is read in full afterwards, not corrected)
        if lower.endswith("s") and lower[:-1] in self._counts:
            return None  # a plural, or a possessive typed without its apostrophe ("seds" for "sed's")
        if lower in dictionary_words():
            return None  # an English word, however rare, is the user's own ("linker" is no slip of "linked")
        from symspellpy import Verbosity

        # A compound typed closed up ("inplace" for "in-place"), not a slip ("retrun"): no document word one edit away.
        if (not word[:1].isupper() and not self._index().lookup(lower, Verbosity.TOP, max_edit_distance=1)
                and (split := self._split(lower))):
            return split

        # A capitalized word may be a name the documents lack ("Malta" is not "Malia"): only one edit, on long names.
        name = word[:1].isupper()
        distance = 1 if name or len(lower) <= 6 else 2
        if name and len(lower) < 6:
            return None
        found = self._index().lookup(lower, Verbosity.CLOSEST, max_edit_distance=distance)
        # A negation typed fast, without its apostrophe and with a slip ("coudlnt"), must stay a negation, unless a
        # document word is nearer ("evnt" is an event, not "wont").
        bare = _contraction(lower) if lower.endswith("nt") else None
        if bare and (not found or bare[0] < found[0].distance):
            return bare[1]
        if not found and not name and zipf < RARE:  # a slip on a word the documents lack ("atricle")
            found = [s for s in english().lookup(lower, Verbosity.CLOSEST, max_edit_distance=distance)
                     if zipf_frequency(s.term, "en") >= COMMON]
        if not found:
            return None
        best = max(found, key=lambda s: s.count).term
        if zipf >= RARE and zipf_frequency(best, "en") - zipf < MORE_COMMON:
            return None  # a rare word in its own right ("bellicose"), not a slip of the fingers
        return best

    def _expanded(self, short: str) -> str | None:
        """The documents' word a clipped one stands for ("mil" for "military", "repo" for "repository"): the one word
        they use that it starts, or one they use at least ``CLIPPED_DOMINANCE`` times as often as any other."""
        found = sorted(((n, w) for w, n in self._counts.items() if w.startswith(short) and len(w) >= len(short) + 3),
                       reverse=True)
        if not found or found[0][0] < CLIPPED_MIN_COUNT:
            return None
        if len(found) > 1 and found[0][0] < CLIPPED_DOMINANCE * found[1][0]:
            return None
        return found[0][1]

    def _country(self, code: str) -> str | None:
        """The country a two-letter ISO 3166 code typed in chat stands for ("jp"), when the documents name it."""
        import pycountry

        country = pycountry.countries.get(alpha_2=code.upper())
        if country is None:
            return None
        for name in (getattr(country, "common_name", ""), country.name):
            if name and all(t in self._counts for t in tokens(name)):
                return name
        return None

    def _split(self, word: str) -> str | None:
        """Two of the documents' words that ``word`` closes up ("inplace": "in place"), the most frequent pair."""
        from wordfreq import zipf_frequency

        pairs = [(min(self._counts[head], self._counts[tail]), head, tail)
                 for head, tail in ((word[:i], word[i:]) for i in range(2, len(word) - 1))
                 if min(zipf_frequency(head, "en"), zipf_frequency(tail, "en")) >= PART_MIN_ZIPF]
        best = max((p for p in pairs if p[0] >= MIN_PART_COUNT), default=None)
        return f"{best[1]} {best[2]}" if best else None

    def correct(self, text: str) -> tuple[str, dict[str, str]]:
        """The text with misspelt words replaced, and what was replaced (typed -> corrected)."""
        fixes: dict[str, str] = {}

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            better = self.suggest(word)
            if better is None:
                return word
            fixes[word] = better
            return better.capitalize() if word[:1].isupper() else better

        return _WORD.sub(fix, text), fixes


def _contraction(word: str) -> tuple[int, str] | None:
    """The bare negation ("couldnt") nearest ``word`` within two slips, if no other is as near, and its distance."""
    from symspellpy.editdistance import DistanceAlgorithm, EditDistance

    distance = EditDistance(DistanceAlgorithm.DAMERAU_OSA)
    near = sorted((d, c) for c in BARE_CONTRACTIONS if c.endswith("nt") and (d := distance.compare(word, c, 2)) >= 0)
    return near[0] if near and (len(near) == 1 or near[1][0] > near[0][0]) else None


_ENGLISH = None
_ENGLISH_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _frequency_list() -> tuple[tuple[str, int], ...]:
    """symspellpy's English frequency list, most frequent first: 82,765 SCOWL dictionary words with Google Books
    counts, read once for both its uses below."""
    from importlib.resources import files

    listing = files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt")
    with listing.open(encoding="utf-8") as fh:
        return tuple((word, int(count)) for word, count in (line.split() for line in fh if line.strip()))


@functools.lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """Every word of the list: a question word in it is spelt as English spells it, however rarely English uses it."""
    return frozenset(word for word, _ in _frequency_list())


def english():  # type: ignore[no-untyped-def]
    """SymSpell over common English words, built once per process: on first need, or by `rag serve` while it starts."""
    global _ENGLISH
    with _ENGLISH_LOCK:
        if _ENGLISH is None:
            from symspellpy import SymSpell

            sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=5)
            for word, count in _frequency_list()[:ENGLISH_WORDS]:
                if len(word) >= 4:
                    sym.create_dictionary_entry(word, count)
            _ENGLISH = sym
        return _ENGLISH
