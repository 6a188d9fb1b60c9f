"""Place names from the packaged gazetteer, and what the reader makes of them."""

from __future__ import annotations

import pytest

from rag.places import places_in, stands_for


def test_a_capital_and_its_country_stand_for_each_other():
    assert ("france",) in stands_for("Paris") and ("french",) in stands_for("paris")
    assert ("united", "states") in stands_for("Washington")  # ("Washington D.C.")
    assert stands_for("France") == frozenset({("paris",)})
    assert stands_for("Frobnitz") == frozenset() and stands_for("London") != frozenset()


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("how many troops are in south korea", ["south korea"]),  # the longest name, not "korea" inside it
        ("what is the population of hokkaido", ["hokkaido"]),  # a province
        ("how do i store it in the central cache", []),  # districts called "Store" and "Central" are everyday words
        ("does the frob widget run on linux", []),
    ],
)
def test_places_in_a_question(text, places):
    assert places_in(text) == places


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """The real reader over a two-paragraph text about France (fake vectors: only the names matter here)."""
    from rag.answer import Pipeline
    from rag.config import load_config
    from rag.embed import FakeEmbedder

    root = tmp_path_factory.mktemp("places")
    (root / "docs").mkdir()
    (root / "docs" / "brief.txt").write_text(
        "France will double its spending on rail by 2030. The French cabinet approved the plan in May.\n\n"
        "Critics say the plan ignores rural lines.\n", encoding="utf-8")
    cfg = load_config(None, [("paths.corpus_dir", str(root / "docs")), ("paths.index_dir", str(root / "index")),
                             ("generate.backend", "none")])
    return Pipeline.load(cfg, embedder=FakeEmbedder(), progress=False).reader


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("What will Paris spend on rail?", []),  # the capital for its country: named
        ("What will Berlin spend on rail?", ["berlin"]),  # another country's capital: not named
        ("how much will lyon spend on rail", []),  # typed in lower case, but no province or capital of the list
        ("how much does alsace spend on rail", ["alsace"]),  # a province typed in lower case: a missing name
        ("how much does france spend on rail", []),
    ],
)
def test_the_reader_knows_places_by_their_other_names(reader, question, missing):
    from rag.extract import analyze

    info = analyze(question)
    names = [t for t in info.names if not reader.names_it(t, info.name_words.get(t, t))]
    assert names + reader.missing_identifiers(question) == missing
