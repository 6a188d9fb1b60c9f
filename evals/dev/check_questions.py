#!/usr/bin/env python3
"""Check the multi-corpus dev set: every row well-formed, every evidence quote really in the corpus.

    python3 evals/dev/check_questions.py            # check all evals/dev/*.jsonl, print counts
    python3 evals/dev/check_questions.py --text F   # print the normalized visible text of one file

For each ``evals/dev/<name>.jsonl`` the corpus is ``evals/dev/corpora/<name>/``. A quote must occur,
after collapsing runs of whitespace to one space, in one document's text: the raw file for
.txt/.md, the visible text (html.parser; script/style dropped, entities decoded, block elements
separated) for .html, and for .pdf the text the product itself extracts (``rag.formats.parse_pdf``,
pypdf), since gold evidence is located in that text. Exit status 1 on any malformed row or missing
quote. Stdlib only, except that a corpus with PDFs needs the project's environment
(``.venv/bin/python evals/dev/check_questions.py``).
"""
from __future__ import annotations

import json
import re
import string
import sys
import unicodedata
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPES = ("factoid", "yesno", "followup", "docname", "summary", "multihop", "unanswerable", "offtopic")
UNANSWERABLE = {"unanswerable", "offtopic"}
BLOCK = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
}
SKIP = {"script", "style", "head"}
WS = re.compile(r"\s+")
NEAR = 100  # characters either side of a quote that may hold the answer (a list item, a table cell)


class _Visible(HTMLParser):
    """Visible text. ``inline_sep`` is what an inline tag boundary becomes: "" (as a browser renders
    ``<code>x</code>,``) or " " (a cruder extractor); quotes should survive both."""

    def __init__(self, inline_sep: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.inline_sep = inline_sep

    def _boundary(self, tag: str) -> None:
        self.parts.append("\n" if tag in BLOCK else self.inline_sep)

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
        else:
            self._boundary(tag)

    def handle_startendtag(self, tag, attrs):
        self._boundary(tag)

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        else:
            self._boundary(tag)

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def pdf_text(path: Path) -> str:
    """The text the product indexes for a PDF (pages joined by a blank line), via ``rag.formats``."""
    root = str(HERE.parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import pypdf  # noqa: F401  (rag.formats imports it lazily)
        from rag.formats import parse_pdf
    except ImportError as exc:
        raise SystemExit(f"{path.name}: reading PDFs needs the project's environment ({exc}); "
                         "run .venv/bin/python evals/dev/check_questions.py") from None
    return parse_pdf(path.name, path.read_bytes()).document.text


def visible_text(path: Path, inline_sep: str = "") -> str:
    if path.suffix.lower() == ".pdf":
        return pdf_text(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm"):
        p = _Visible(inline_sep)
        p.feed(raw)
        p.close()
        raw = "".join(p.parts)
    return raw


def norm_ws(s: str) -> str:
    return WS.sub(" ", s).strip()


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                         "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
                         "\u2212": "-"})  # fmt: skip
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def norm_answer(s: str) -> str:
    """The evaluation's answer normalization (SQuAD-style): NFKC, curly quotes and dashes unified,
    lowercase, hyphen = space, other ASCII punctuation dropped, articles removed."""
    s = unicodedata.normalize("NFKC", s).translate(_QUOTES).lower().replace("-", " ")
    s = _ARTICLES.sub(" ", _PUNCT.sub("", s))
    return " ".join(s.split())


def contains_answer(text: str, gold: str) -> bool:
    """Whole-word containment of a normalized gold answer, as the evaluation matches answers; also
    with punctuation read as a space, since document text glues words to markup ("[RFC8878](http...")."""
    for norm in (norm_answer, _loose_answer):
        ref = norm(gold)
        if ref and f" {ref} " in f" {norm(text)} ":
            return True
    return False


def _loose_answer(s: str) -> str:
    return norm_answer(_PUNCT.sub(" ", unicodedata.normalize("NFKC", s)))


def load_corpus(name: str, inline_sep: str = "") -> dict[str, str]:
    d = HERE / "corpora" / name
    return {p.name: norm_ws(visible_text(p, inline_sep)) for p in sorted(d.iterdir()) if p.is_file()}


def check_row(row: dict, docs: dict[str, str], where: str, errors: list[str], warnings: list[str],
              spaced: dict[str, str] | None = None) -> None:
    def err(msg: str) -> None:
        errors.append(f"{where}: {msg}")

    for key in ("id", "question", "answerable", "type"):
        if key not in row:
            err(f"missing key {key!r}")
            return
    extra = set(row) - {"id", "question", "answerable", "type", "answers", "evidence", "history"}
    if extra:
        err(f"unknown keys {sorted(extra)}")
    if not isinstance(row["question"], str) or not row["question"].strip():
        err("empty question")
    typ = row["type"]
    if typ not in TYPES:
        err(f"bad type {typ!r}")
        return
    if not isinstance(row["answerable"], bool):
        err("answerable must be a boolean")
    if row["answerable"] == (typ in UNANSWERABLE):
        err(f"type {typ} with answerable={row['answerable']}")
    answers, evidence = row.get("answers", []), row.get("evidence", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        err("answers must be a list of non-empty strings")
        return
    if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
        err("evidence must be a list of non-empty strings")
        return
    if typ in UNANSWERABLE:
        if answers or evidence:
            err("unanswerable row with answers/evidence")
    else:
        if not 1 <= len(answers) <= 4:
            err(f"{len(answers)} answers (want 1-4)")
        if not 1 <= len(evidence) <= 3:
            err(f"{len(evidence)} evidence quotes (want 1-3)")
        if typ == "yesno" and answers not in (["Yes"], ["No"]):
            err('yesno answers must be ["Yes"] or ["No"]')
        for a in answers:
            if len(a.split()) > 6:
                warnings.append(f"{where}: long answer {a!r}")
    if typ == "followup":
        hist = row.get("history")
        if (not isinstance(hist, list) or len(hist) < 2
                or not all(isinstance(h, dict) and set(h) == {"role", "content"} for h in hist)
                or [h["role"] for h in hist[:2]] != ["user", "assistant"]):
            err("followup needs history [{role:user,...},{role:assistant,...}]")
    elif "history" in row:
        err("history on a non-followup row")
    for q in evidence:
        nq = norm_ws(q)
        n_words = len(nq.split())
        if not 5 <= n_words <= 25:
            err(f"evidence of {n_words} words (want 5-25): {q!r}")
        hits = [name for name, text in docs.items() if nq in text]
        if not hits:
            err(f"evidence not found in corpus: {q!r}")
        elif spaced is not None and not any(nq in spaced[h] for h in hits):
            warnings.append(f"{where}: evidence runs into an inline tag without whitespace: {q!r}")
    if typ not in UNANSWERABLE | {"yesno", "summary"} and answers:
        # Some answer variant should lie in the evidence or next to it (a list item or table cell
        # beside the quoted sentence); otherwise the gold answer and the gold evidence disagree.
        near = []
        for q in evidence:
            nq = norm_ws(q)
            for text in docs.values():
                pos = text.find(nq)
                while pos != -1:
                    near.append(text[max(0, pos - NEAR) : pos + len(nq) + NEAR])
                    pos = text.find(nq, pos + 1)
        near_text = " ".join(near)
        if not any(contains_answer(near_text, a) for a in answers):
            alltext = " ".join(docs.values())
            where_ = "corpus" if any(contains_answer(alltext, a) for a in answers) else "NOWHERE"
            warnings.append(f"{where}: no answer variant in or near the evidence (found in {where_}): {answers}")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--text":
        print(norm_ws(visible_text(Path(argv[1]))) if argv[1].endswith("html") else visible_text(Path(argv[1])))
        return 0
    errors: list[str] = []
    warnings: list[str] = []
    ids: set[str] = set()
    total: Counter = Counter()
    files = sorted(HERE.glob("*.jsonl"))
    if not files:
        print("no evals/dev/*.jsonl files", file=sys.stderr)
        return 1
    print(f"{'corpus':<12} {'docs':>4} {'rows':>4}  " + " ".join(f"{t[:7]:>7}" for t in TYPES))
    for f in files:
        name = f.stem
        if not (HERE / "corpora" / name).is_dir():
            errors.append(f"{f.name}: no corpus folder corpora/{name}/")
            continue
        docs = load_corpus(name)
        spaced = load_corpus(name, " ")
        counts: Counter = Counter()
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{f.name}:{n}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: bad JSON ({e})")
                continue
            if not isinstance(row, dict):
                errors.append(f"{where}: not an object")
                continue
            rid = row.get("id")
            if rid in ids:
                errors.append(f"{where}: duplicate id {rid!r}")
            ids.add(rid)
            where = f"{f.name}:{n} ({rid})"
            check_row(row, docs, where, errors, warnings, spaced)
            counts[row.get("type")] += 1
        total.update(counts)
        print(f"{name:<12} {len(docs):>4} {sum(counts.values()):>4}  "
              + " ".join(f"{counts[t]:>7}" for t in TYPES))
    print(f"{'total':<12} {'':>4} {sum(total.values()):>4}  " + " ".join(f"{total[t]:>7}" for t in TYPES))
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
