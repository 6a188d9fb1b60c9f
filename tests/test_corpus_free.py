"""The library must not know its corpora: no name from the seed article or the dev corpora in rag/."""

from __future__ import annotations

import re
from pathlib import Path

from wordfreq import zipf_frequency

ROOT = Path(__file__).resolve().parent.parent
# Words of the seed article the reader was once fitted to (the team's standing check).
SEED_WORDS = {"japan", "japanese", "hegseth", "taiwan", "okinawa", "pentagon", "trump", "tokyo", "beijing", "alliance",
              "china", "chinese", "strait", "flashpoint", "pacifist"}
# Everyday words of software that also appear capitalized in the corpora (file formats, tools, code terms).
GENERIC = {"api", "ascii", "binary", "byte", "cache", "commands", "embedded", "embedding", "git", "glob", "header",
           "html", "lang", "len", "modules", "nul", "num", "paragraphs", "posix", "prefix", "pypi", "python", "readme",
           "sep", "suffix", "temp", "tmp", "url", "utc", "utf", "verbatim", "zip", "gzip", "definitions", "appendix", "apache",
           "faq", "json", "toml", "yaml", "pdf", "markdown", "sql", "cli", "http", "https", "unicode", "regex",
           "stdin", "stdout", "stderr", "unix", "linux", "config", "sha", "www", "usr", "uri"}


def corpus_names() -> set[str]:
    """Rare capitalized words (not sentence-initial) of every corpus: the names a fitted rule would mention."""
    files = [*(ROOT / "seeds").glob("*.txt"), *(ROOT / "evals" / "dev" / "corpora").rglob("*.*")]
    names = set(SEED_WORDS)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="ignore")
        for match in re.finditer(r"(?<=[a-z,;] )([A-Z][A-Za-z]{2,})", text):
            word = match.group(1).lower()
            if zipf_frequency(word, "en") < 4.0:
                names.add(word)
    return names - GENERIC


def test_no_corpus_word_in_the_library():
    names = corpus_names()
    assert len(names) > 50  # the corpora were found
    leaks = []
    for path in sorted((ROOT / "rag").glob("*.py")):
        words = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", path.read_text(encoding="utf-8"))}
        leaks += [f"{path.name}: {w}" for w in sorted(words & names)]
    assert not leaks, "corpus words in rag/ (rules fitted to one corpus do not carry over): " + ", ".join(leaks)
