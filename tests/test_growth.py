"""The growth benchmark's corpus builder: which files it takes, in what order, within what budget (no models)."""

from __future__ import annotations

import gzip
import json

import pytest

from .conftest import load_script

WORDS = "The daemon reads its configuration file at start-up and logs every request it serves. "


@pytest.fixture(scope="module")
def growth():
    return load_script("growth")


def text(n_bytes: int, tag: str = "") -> bytes:
    body = (tag + " " + WORDS * (n_bytes // len(WORDS) + 1)).encode()
    return body[:n_bytes]


@pytest.fixture
def doc_tree(tmp_path):
    """A fake /usr/share/doc: two packages, every kind, plus junk the builder must leave out."""
    doc = tmp_path / "doc"
    files = {
        "alpha/README.md": text(3000, "alpha readme"),
        "alpha/guide.html": b"<html><body><p>" + text(4000, "alpha guide") + b"</p></body></html>",
        "alpha/notes.txt": text(2500, "alpha notes"),
        "alpha/changelog.Debian.gz": gzip.compress(text(2000, "alpha changelog")),
        "alpha/huge.md": text(400_000, "huge"),  # over the per-file cap
        "alpha/stub.txt": b"see beta\n",  # near-empty
        "alpha/blob.txt": b"\x00\x01" * 2000,  # binary
        "alpha/script.py": text(3000, "code"),  # not documentation
        "beta/README": text(3500, "beta readme"),
        "beta/intro.md": text(3000, "beta intro"),
        "beta/copy.md": text(3000, "alpha readme"),  # same bytes as alpha/README.md
        "beta/api.html": b"<html><body>" + text(5000, "beta api") + b"</body></html>",
    }
    for rel, data in files.items():
        path = doc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return doc


def test_parse_size(growth):
    assert growth.parse_size("seed") is None
    assert growth.parse_size("small") == 200_000
    assert growth.parse_size("1mb") == 1_000_000
    assert growth.parse_size("10MB") == 10_000_000
    assert growth.parse_size("250kb") == 250_000
    with pytest.raises(Exception, match="unknown size"):
        growth.parse_size("big")


def test_classify_and_flat_names(growth):
    assert growth.classify("pip/html/topics/caching.md.gz") == ("markdown", 0, ".md")
    assert growth.classify("git/RelNotes/1.5.txt") == ("text", 0, ".txt")
    assert growth.classify("apt/README.Debian") == ("text", 1, ".txt")
    assert growth.classify("apt/changelog.Debian.gz") == ("text", 3, ".txt")
    assert growth.classify("x/manual.html") == ("html", 0, ".html")
    assert growth.classify("x/setup.py") is None and growth.classify("x/copyright") is None
    assert growth.classify("x/notes.txt", kinds=("markdown",)) is None
    assert growth.flat_name("doc", "pip/html/caching.md.gz", ".md") == "doc__pip__html__caching.md"
    assert growth.flat_name("doc", "apt/README.Debian", ".txt") == "doc__apt__README.Debian.txt"
    long = growth.flat_name("doc", "a/" + "x" * 300 + ".md", ".md")
    assert len(long) < 200 and long.endswith(".md")


def test_selection_is_deterministic_varied_and_within_budget(growth, doc_tree):
    roots = [("doc", doc_tree, growth.KINDS)]

    def pick(budget):
        order = growth.selection_order(growth.find_candidates(roots))
        return growth.select_files(order, budget, misfits_to_stop=5)

    picked, skipped = pick(10_000)
    assert [c.name for c, _ in picked] == [c.name for c, _ in pick(10_000)[0]]
    assert sum(len(data) for _, data in picked) <= 10_000
    # Kinds in turn, packages in turn: the first picks are a Markdown, an HTML and a text file.
    assert [c.kind for c, _ in picked[:3]] == ["markdown", "html", "text"]

    everything, skipped = pick(10_000_000)
    names = [c.name for c, _ in everything]
    assert len(names) == len(set(names))
    assert not any("huge" in n or "stub" in n or "blob" in n or "script" in n for n in names)
    assert skipped["too large"] == 1 and skipped["too small"] == 1 and skipped["binary"] == 1
    assert skipped["duplicate"] == 1  # beta/copy.md repeats alpha/README.md
    by_name = {c.name: data for c, data in everything}
    assert by_name["doc__alpha__changelog.Debian.txt"].startswith(b"alpha changelog")  # decompressed
    # Real docs before READMEs before changelogs within the text kind.
    texts = [n for n in names if n.endswith(".txt")]
    assert texts == ["doc__alpha__notes.txt", "doc__beta__README.txt", "doc__alpha__changelog.Debian.txt"]


def test_build_corpus_records_sources_and_reuses(growth, doc_tree, tmp_path):
    messages = []
    root = tmp_path / "corpora"
    record = growth.build_corpus("12kb", root, roots=[("doc", doc_tree, growth.KINDS)], man_root=None,
                                 say=messages.append)
    written = sorted(p.name for p in (root / "12kb").iterdir())
    assert written == sorted(f["name"] for f in record["files"])
    assert record["bytes"] == sum(p.stat().st_size for p in (root / "12kb").iterdir()) <= 12_000
    assert json.loads((root / "12kb.sources.json").read_text())["kinds"] == record["kinds"]
    again = growth.build_corpus("12kb", root, roots=[("doc", doc_tree, growth.KINDS)], man_root=None,
                                say=messages.append)
    assert again["files"] == record["files"] and "reusing" in messages[-1]
