"""Shared fixtures: a fast pipeline over the seed article with fake models, and the real one (slow)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ARTICLE = (SEEDS / "us-japan-alliance.txt").read_text(encoding="utf-8")


def load_script(name: str) -> ModuleType:
    """An ``evals/<name>.py`` script, imported as module ``name`` (registered first: dataclasses look their module up
    while the class is created)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "evals" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def make_config(tmp_path):
    """A config whose index lives in a temp folder (never the project's own index/)."""
    from rag.config import Config

    def make(corpus_dir: Path | str = SEEDS, **overrides):
        # FakeGenerator never copies a short answer phrase, which the shipped reader reads as "not in the documents"
        # for a "how many" question (and, with a lukewarm judge, for any): those rules are tested on their own
        # (test_answer), with their thresholds set there.
        cfg = Config().replace(**{"paths.corpus_dir": str(corpus_dir), "paths.index_dir": str(tmp_path / "index"),
                                  "reader.judge_min_if_uncopied": 0.0, "reader.judge_min_if_made_up": 0.0})
        return cfg.replace(**overrides) if overrides else cfg

    return make


@pytest.fixture
def fake_pipeline(make_config):
    from rag.answer import Pipeline
    from rag.embed import FakeEmbedder
    from rag.generate import FakeGenerator

    # The bag-of-words fake's cosines run higher than MiniLM's: its "nothing close in meaning" bar is higher.
    # Its word-overlap "judge" is no LM: a lower bar.
    cfg = make_config(**{"reader.max_dense_for_missing": 0.65, "reader.min_dense": 0.1, "reader.judge_min": 0.2})
    return Pipeline.load(cfg, embedder=FakeEmbedder(), generator=FakeGenerator(), progress=False)


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory):
    """The real embedder, FAISS index and local LM over the seed article (loaded once per session)."""
    from rag.answer import Pipeline
    from rag.config import Config

    cfg = Config().replace(**{"paths.index_dir": str(tmp_path_factory.mktemp("real") / "index")})
    return Pipeline.load(cfg, progress=False)
