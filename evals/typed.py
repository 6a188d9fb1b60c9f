"""Write "typed" variants of question sets: questions as people type them into a chat box.

    python evals/typed.py OUT_DIR SET.jsonl [SET.jsonl ...]

Each question is lower-cased, loses its question mark and apostrophes, drops a leading "please"/"can you
tell me", and one longer word gets a typo (two letters swapped). Deterministic (seeded by the question id),
so runs compare. Gold answers and evidence are unchanged. ``evals/multicorpus.py --typed`` uses it.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

_POLITE = re.compile(r"^\s*(?:please\s+|can you (?:please\s+)?(?:tell me\s+)?|could you tell me\s+)", re.I)


def typed(question: str, seed: str) -> str:
    rng = random.Random(seed)
    text = _POLITE.sub("", question).lower()
    text = re.sub(r"[?’']", "", text).strip()
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if long:
        i = rng.choice(long)
        w = words[i]
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in argv[1:]:
        rows = [json.loads(line) for line in Path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["question"] = typed(row["question"], row.get("id", row["question"]))
        (out / Path(name).name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
