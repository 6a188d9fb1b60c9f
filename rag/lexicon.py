"""The index's word facts: what the corpus mentions, each sentence's terms, and how rare a term is among sentences.

They depend only on the documents, so they are built with the index and stored beside it
(``lexicon.json.gz``): a fresh process reads them instead of tokenizing every document again
(about 0.8 s per MB of text on two cores).
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .schema import Chunk, Document, Span
from .text import name_roots, stem, stems, tokens

# "His acknowledgment ...", "This option ...": the sentence leans on the one before it.
ANAPHOR = re.compile(r"^(?:His|Her|He|She|They|Their|Its|It|This|These|Those|That)\b")
FORMAT = 3


class OutdatedLexicon(ValueError):
    """A lexicon an earlier version wrote: its stems may differ from today's, so it is rebuilt, not read."""


@dataclass
class Lexicon:
    words: dict[str, str]  # stem -> a surface form as written (the corpus vocabulary is its keys)
    word_counts: Counter[str]  # plain words as written: what typos are corrected toward
    sentence_terms: list[set[str]]  # each sentence's stems; an anaphoric one also borrows the names before it
    idf: dict[str, float]  # sentence frequency, scaled to (0, 1]: a word in every sentence says little
    roots: set[str] = field(default_factory=set)  # name roots ("malt" of Malta and Maltese)

    @property
    def vocabulary(self) -> set[str]:
        return set(self.words)

    def to_bytes(self) -> bytes:
        terms = sorted(set(self.words) | {t for s in self.sentence_terms for t in s})
        ids = {t: i for i, t in enumerate(terms)}
        data = {
            "format": FORMAT,
            "terms": terms,
            "surface": [self.words.get(t, "") for t in terms],
            "in_vocabulary": [int(t in self.words) for t in terms],
            "idf": [round(self.idf.get(t, 1.0), 5) for t in terms],
            "sentences": [sorted(ids[t] for t in s) for s in self.sentence_terms],
            "word_counts": dict(self.word_counts),
            "roots": sorted(self.roots),
        }
        return gzip.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Lexicon:
        """Raises ValueError/KeyError/TypeError on anything but a lexicon this code wrote."""
        data = json.loads(gzip.decompress(raw))
        if data.get("format") != FORMAT:
            raise OutdatedLexicon(f"lexicon format {data.get('format')!r}, expected {FORMAT}")
        terms = data["terms"]
        words = {t: s for t, s, known in zip(terms, data["surface"], data["in_vocabulary"], strict=True) if known}
        idf = dict(zip(terms, data["idf"], strict=True))
        sentence_terms = [{terms[i] for i in row} for row in data["sentences"]]
        return cls(words, Counter(data["word_counts"]), sentence_terms, idf, set(data["roots"]))


def sentences_by_chunk(chunks: Sequence[Chunk], sentences: Sequence[Span]) -> dict[int, list[int]]:
    """Chunk id -> the sentences (indices, in document order) that lie wholly inside it."""
    by_source: dict[str, list[int]] = {}
    for i, span in enumerate(sentences):
        by_source.setdefault(span.source, []).append(i)
    starts = {src: [sentences[i].start for i in sids] for src, sids in by_source.items()}
    out: dict[int, list[int]] = {}
    for chunk in chunks:  # sentences of one source are in document order: a window of them per chunk
        sids = by_source.get(chunk.source, [])
        lo = bisect.bisect_left(starts.get(chunk.source, []), chunk.start)
        hi = bisect.bisect_right(starts.get(chunk.source, []), chunk.end)
        out[chunk.id] = [i for i in sids[lo:hi] if sentences[i].end <= chunk.end]
    return out


def build_lexicon(documents: Sequence[Document], chunks: Sequence[Chunk], sentences: Sequence[Span]) -> Lexicon:
    words: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for doc in documents:
        # Titles and file names are part of what the corpus "mentions".
        toks = tokens(f"{doc.text} {doc.title} {doc.source.replace('/', ' ').replace('_', ' ')}")
        counts.update(t for t in toks if t.isalpha())
        for tok in toks:
            words.setdefault(stem(tok), tok)
    terms = [stems(s.text) for s in sentences]
    for sids in sentences_by_chunk(chunks, sentences).values():
        for prev, sid in itertools.pairwise(sids):
            if ANAPHOR.match(sentences[sid].text):
                names = re.findall(r"\b[A-Z][a-z]{2,}", sentences[prev].text)
                terms[sid] = terms[sid] | {stems(n).pop() for n in names}
    n = max(1, len(sentences))
    df: Counter[str] = Counter(t for vocab in terms for t in vocab)
    idf = {t: math.log(1 + n / c) / math.log(1 + n) for t, c in df.items()}
    roots = {r for w in words.values() for r in name_roots(w)}
    return Lexicon(words, counts, terms, idf, roots)
