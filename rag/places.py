"""Place names, from a packaged gazetteer (``countryinfo``): what a question's words name on the map.

Two things a reader cannot learn from the documents alone: a capital stands for its country in news prose ("Paris
announced ..." for the government of France), and a place typed in lower case ("how many troops r on frobisle") is
still a name the documents must contain before they can answer about it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# A province's name this common in English is an everyday word as often as a place: the gazetteer's lists include
# districts named "Central", "Store", "Plateau" or "Aurora". Countries and capitals count whatever their frequency.
PROVINCE_MAX_ZIPF = 3.5
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Gazetteer:
    # lower-case word -> the names (each as lower-case words) of the country it is the capital of, or of the capital
    # when it is a country's one-word name: either stands for the other
    stands_for: dict[str, frozenset[tuple[str, ...]]]
    names: frozenset[tuple[str, ...]]  # every country, capital and province, as lower-case words


def _words(name: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(name.lower()))


@functools.cache
def gazetteer() -> Gazetteer:
    """Built once from the package's country files (~30 ms)."""
    import countryinfo
    from wordfreq import zipf_frequency

    stands_for: dict[str, set[tuple[str, ...]]] = {}
    names: set[tuple[str, ...]] = set()
    for country in countryinfo.all_countries():
        info = country.info()
        own = [info.get("name") or ""]
        own += [s for s in info.get("altSpellings") or [] if isinstance(s, str) and len(s) > 3 and s.isascii()]
        forms = [w for n in [*own, info.get("demonym") or ""] if (w := _words(n))]
        capitals = info.get("capital") or []
        capitals = [_words(c.replace("D.C.", "")) for c in ([capitals] if isinstance(capitals, str) else capitals)]
        capitals = [c for c in capitals if c]  # ("Washington D.C." is "Washington")
        for capital in capitals:
            if len(capital) == 1:
                stands_for.setdefault(capital[0], set()).update(forms)
        for form in forms:
            if len(form) == 1:
                stands_for.setdefault(form[0], set()).update(c for c in capitals if len(c) == 1)
        names.add(_words(own[0]))  # (its alternative spellings include "Island" for Iceland)
        names.update(capitals)
        for province in info.get("provinces") or []:
            if isinstance(province, str) and (w := _words(province)):
                if len(w) > 1 or zipf_frequency(w[0], "en") < PROVINCE_MAX_ZIPF:
                    names.add(w)
    return Gazetteer({k: frozenset(v) for k, v in stands_for.items() if v}, frozenset(n for n in names if len("".join(n)) >= 4))


def places_in(text: str) -> list[str]:
    """The place names ``text`` holds, in lower case, longest first where they overlap ("south korea", not "korea")."""
    words = _words(text)
    found, taken = [], set()
    known = gazetteer().names
    for size in (4, 3, 2, 1):
        for i in range(len(words) - size + 1):
            span = set(range(i, i + size))
            if words[i : i + size] in known and not span & taken:
                found.append(" ".join(words[i : i + size]))
                taken |= span
    return found


def stands_for(word: str) -> frozenset[tuple[str, ...]]:
    """The names, as lower-case word tuples, of what a capital or a country's one-word name stands for: "Paris" ->
    France's names ("france", "french", ...); "France" -> ("paris",). Empty for anything else."""
    return gazetteer().stands_for.get(word.lower(), frozenset())
