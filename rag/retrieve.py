"""Hybrid retrieval: dense FAISS search fused with BM25 by reciprocal rank fusion.

BM25 catches exact names and figures that a small embedder blurs; dense search catches
paraphrases. The fusion needs no score calibration between the two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .config import RetrieveConfig
from .embed import Embedder
from .schema import Passage
from .store import Index, embed_text
from .text import STOPWORDS, stem, tokens

RRF_K = 60


def _bm25_tokens(text: str) -> list[str]:
    return [stem(t) for t in tokens(text) if t not in STOPWORDS] or ["<empty>"]


@dataclass
class Retrieval:
    passages: list[Passage]
    query_vector: np.ndarray  # reused to score sentences, so the question is embedded once


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrieveConfig) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config
        self._bm25 = None
        if config.hybrid:
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
            self._bm25 = bm25s.BM25()
            self._bm25.index([_bm25_tokens(embed_text(c)) for c in index.chunks], show_progress=False)

    def _dense(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        scores, ids = self.index.chunk_vectors.search(qvec[None, :], n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _lexical(self, query: str, n: int) -> list[int]:
        assert self._bm25 is not None
        docs, scores = self._bm25.retrieve([_bm25_tokens(query)], k=n, show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def search(
        self, query: str, top_k: int | None = None, source: str | None = None, keywords: str | None = None
    ) -> Retrieval:
        """The top passages for ``query``; with ``source``, only passages of that document. ``keywords``: what
        BM25 searches for instead of ``query`` (the dense search always reads the whole question)."""
        k = min(top_k or self.config.top_k, len(self.index.chunks))
        n = min(max(self.config.candidates, k), len(self.index.chunks))
        if source is not None:  # look deeper, then keep the named document's passages
            n = len(self.index.chunks) if len(self.index.chunks) <= 5000 else min(len(self.index.chunks), 20 * n)
        qvec = self.embedder.embed([query])[0]
        dense = self._dense(qvec, n)
        fused: dict[int, float] = {}
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        channels = 1
        firsts = [cid for cid, _ in dense[:1]]
        if self._bm25 is not None:
            channels = 2
            lexical = self._lexical(keywords or query, n)
            for rank, cid in enumerate(lexical):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
            firsts += lexical[:1]
        if source is not None:
            fused = {cid: score for cid, score in fused.items() if self.index.chunks[cid].source == source} or fused
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        # Each channel's first passage is kept: fusion favours passages both channels found, and the one passage whose
        # words match best ("... use frob build --release to ...") fell out when meaning ranked it 37th.
        kept = {cid for cid, _ in best}
        missing = [cid for cid in dict.fromkeys(firsts) if cid in fused and cid not in kept]
        if missing:  # (then more than k were fused: the last places go to them)
            best = best[: k - len(missing)] + [(cid, fused[cid]) for cid in missing]
        top = channels / (RRF_K + 1)  # the fused score of a chunk ranked first by every channel
        passages = [
            Passage.from_chunk(self.index.chunks[cid], round(score / top, 4), rank)
            for rank, (cid, score) in enumerate(best, start=1)
        ]
        return Retrieval(passages, qvec)
