"""Replay a stored run's language-model outputs through the current reader: an LM run of every dev set takes an
hour on 2 cores, its replay half a minute.

    python evals/replay.py evals/report-dev/qwen-1127f --rerun evals/report-dev/qwen-1127f/reruns-1127g \\
        --out /tmp/replay -- --set reader.abstain=false
    python evals/replay.py RUN --typed ... -- --typed --set reader.abstain=false   # a typed run, asked typed again

Every result row of a run (``multicorpus.py``) keeps what the LM said: the judge's P(Yes) (``judge``), the yes/no
verdict's (``says_yes``) and the short answer as replied (``direct_reply``). ``RecordedGenerator`` answers the
pipeline's LM calls from those, found by the question the prompt quotes, so a change to what the reader does with
the LM's outputs (which sentence a short answer is cited from, which checks decline it) is measured on every dev
question at once. It is exact only while the LM would be asked the same thing: a change to what the LM reads (the
evidence, the prompts) needs a real run. Arguments after ``--`` go to ``multicorpus.py``; ``--out`` should start
with a copy of the run's ``index`` folder, or the indexes are built again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from rag.judge import SAYS_YES  # noqa: E402

_QUESTION = re.compile(r"\n\nQuestion: (.*?)\n\n", re.S)
UNRECORDED_JUDGE = 0.5  # no opinion: a call the run never made


class RecordedGenerator:
    """The ``Generator`` protocol, answered from stored result rows instead of a model."""

    name = "recorded"

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self._by_question: dict[str, dict[str, Any]] = {}
        for row in rows:  # a follow-up's LM calls quote its standalone form
            for asked in (row.get("question", ""), row.get("standalone_question", "")):
                if asked.strip():
                    self._by_question[asked.strip()] = row
        self.unrecorded = 0
        self._calls: dict[tuple[str, str], int] = {}

    def _signals(self, messages: Sequence[dict[str, str]], job: str) -> dict[str, Any]:
        """The row's signals for this call; with a second look (``signals["looks"]``), the n-th call of a job is
        answered from the n-th look."""
        found = _QUESTION.search(messages[-1]["content"])
        row = self._by_question.get(found.group(1).strip()) if found else None
        if row is None:
            self.unrecorded += 1
            return {}
        signals = row.get("signals") or {}
        looks = signals.get("looks") or [signals]
        key = (found.group(1).strip(), job)
        n = self._calls.get(key, 0)
        self._calls[key] = n + 1
        return looks[n % len(looks)]

    def stream(self, messages: Sequence[dict[str, str]], max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        yield self._signals(messages, "direct").get("direct_reply") or "NONE"

    def p_yes(self, messages: Sequence[dict[str, str]]) -> float:
        key = "says_yes" if messages[-1]["content"].endswith(SAYS_YES) else "judge"
        return float(self._signals(messages, key).get(key, UNRECORDED_JUDGE))


def recorded_rows(run: Path, reruns: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """Every row of the run, a rerun's row (``multicorpus.py --ids``) standing for its question's."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in (run, *reruns):
        for results in sorted(folder.glob("*/results.jsonl")):
            for line in results.open(encoding="utf-8"):
                row = json.loads(line)
                rows[(results.parent.name, row["id"])] = row
    return list(rows.values())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a multicorpus.py output folder (<set>/results.jsonl)")
    parser.add_argument("--rerun", type=Path, action="append", default=[], help="a later rerun of some of its questions")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(own)
    rows = recorded_rows(args.run, args.rerun)
    if not rows:
        raise SystemExit(f"No */results.jsonl under {args.run}")
    generator = RecordedGenerator(rows)
    from multicorpus import main as multicorpus

    code = multicorpus([*rest, "--out", args.out], generator=generator)
    print(f"LM calls with no recorded answer: {generator.unrecorded}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
