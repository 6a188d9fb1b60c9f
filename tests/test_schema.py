from __future__ import annotations

import json

from rag.schema import Answer, Citation, Passage, Timings


def test_answer_json_shape_and_round_trip():
    ans = Answer(
        question="How many?",
        answer="Japan hosts around 50,000 U.S. military personnel. [1]",
        citations=[Citation(1, "a.txt", 10, 20, "0123456789", "Heading", 1, 0.9)],
        passages=[Passage(3, "a.txt", 0, 40, "x" * 40, "Heading", 0.8, 1)],
        timings=Timings(retrieve_s=0.1, ttft_s=0.2, total_s=0.3),
    )
    data = json.loads(ans.to_json())
    assert set(data) >= {"question", "answer", "citations", "passages", "abstained", "timings", "standalone_question"}
    assert set(data["citations"][0]) >= {"n", "source", "start", "end", "text", "heading"}
    assert set(data["timings"]) == {"rewrite_s", "retrieve_s", "ttft_s", "total_s"}
    back = Answer.from_json(ans.to_json())
    assert back == ans
    assert isinstance(back.citations[0], Citation) and isinstance(back.timings, Timings)
