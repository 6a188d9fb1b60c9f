"""evals/rerank_lm.py: passages re-ranked by the judge's P(Yes), and where the gold passage lands."""

from __future__ import annotations

from rag.evaluate import GoldSpan
from rag.schema import Passage

from .conftest import load_script


def _passage(rank: int, start: int) -> Passage:
    return Passage(chunk_id=rank, source="a.txt", start=start, end=start + 10, text="x" * 10, heading="", score=1.0,
                   rank=rank)


def test_the_judge_reorders_only_the_passages_it_read():
    script = load_script("rerank_lm")
    passages = [_passage(1, 0), _passage(2, 20), _passage(3, 40), _passage(4, 60)]
    gold = [GoldSpan("a.txt", 45, 48)]  # in the third passage
    assert script.first_gold(passages, gold) == 3
    scores = [0.2, 0.5, 0.9, 0.95]
    assert script.first_gold(script.reranked(passages, scores, 3), gold) == 1
    assert [p.rank for p in script.reranked(passages, scores, 2)] == [2, 1, 3, 4]  # the rest keep their places
    assert [p.rank for p in script.reranked(passages, [0.5, 0.5, 0.5, 0.9], 4)] == [4, 1, 2, 3]  # (ties: as retrieved)
    assert script.first_gold(passages, [GoldSpan("b.txt", 0, 5)]) is None
