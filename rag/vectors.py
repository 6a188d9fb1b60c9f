"""Chunk vectors behind one small interface: a FAISS index (the default) or a Milvus collection.

Milvus keeps one collection per index generation, named after it, so a rebuild fills a new
collection and the atomic swap of ``CURRENT`` moves readers to it together with the files.
``store.uri`` names a Milvus server; left empty, a Milvus Lite file in the index folder is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from .errors import ConfigError, IndexError_

log = logging.getLogger(__name__)

BACKENDS = ("faiss", "milvus")
LITE_FILE = "milvus.db"  # Milvus Lite wants a path ending in .db
# Milvus caps a search's topk and a query's offset + limit at 16384.
MILVUS_MAX_ROWS = 16_384
# Exact search below this many vectors, as FAISS does (store.HNSW_MIN_VECTORS); above it the server picks a graph.
MILVUS_FLAT_MAX = 50_000
# 1000 rows x 4096 dims x 4 bytes = 16 MB per insert, well under gRPC's 64 MB message cap.
INSERT_BATCH = 1000
CONNECT_TIMEOUT_S = 10.0
# What faiss reports for a missing hit under inner product: id -1, score -FLT_MAX.
NO_ID, NO_SCORE = -1, float(np.finfo(np.float32).min)

T = TypeVar("T")


class VectorStore(Protocol):
    """What retrieval and incremental updates use of a vector index; a ``faiss.Index`` has all of it."""

    ntotal: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each ``(len(queries), k)``, best first; -1 ids pad missing hits."""
        ...

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        """The stored vectors of rows ``start .. start + n - 1``."""
        ...


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"store.backend = {backend!r} is unknown. Use one of: {', '.join(BACKENDS)}.")
    return backend


def milvus_uri(uri: str, index_dir: str | Path) -> str:
    """``store.uri``, or the Milvus Lite file in the index folder when it is empty."""
    return uri or str(Path(index_dir).expanduser() / LITE_FILE)


def collection_name(generation: str) -> str:
    """Milvus names take letters, digits and underscores: ``g-2025…-ab12cd`` -> ``rag_g_2025…_ab12cd``."""
    return "rag_" + generation.replace("-", "_")


def _client(uri: str) -> Any:
    try:
        from pymilvus import MilvusClient, MilvusException
    except ImportError as exc:
        raise ConfigError(
            "store.backend = \"milvus\" needs pymilvus: pip install 'grounded-rag[milvus]' "
            "(or set store.backend = \"faiss\")."
        ) from exc
    try:
        return MilvusClient(uri, timeout=CONNECT_TIMEOUT_S)  # a local .db path starts Milvus Lite
    except MilvusException as exc:
        raise IndexError_(
            f"Cannot reach Milvus at {uri} ({exc.message}). Start the server or fix store.uri "
            "(empty: a Milvus Lite file in the index folder, which needs `pip install milvus-lite`)."
        ) from exc


class MilvusVectors:
    """A Milvus collection of unit vectors, id = chunk row, searched by inner product like FAISS's ``IndexFlatIP``."""

    def __init__(self, client: Any, uri: str, collection: str, ntotal: int, index_type: str) -> None:
        self.client, self.uri, self.collection = client, uri, collection
        self.ntotal, self.index_type = ntotal, index_type

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from pymilvus import MilvusException

        try:
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise IndexError_(
                f"Milvus at {self.uri} failed to {what} collection {self.collection} ({exc.message}). "
                "Check that the server is up; if the collection is gone (a newer `rag index` replaced it), "
                "restart to load the current index, or run `rag index`."
            ) from exc

    @classmethod
    def create(cls, uri: str, collection: str, vectors: np.ndarray) -> MilvusVectors:
        """Write ``vectors`` (row i = chunk i) into a new collection, replacing any of that name."""
        from pymilvus import DataType, MilvusClient

        client = _client(uri)
        n, dim = vectors.shape
        store = cls(client, uri, collection, n, "FLAT" if n < MILVUS_FLAT_MAX else "AUTOINDEX")
        if store._call("check for", client.has_collection, collection):
            store._call("drop", client.drop_collection, collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(dim))
        params = client.prepare_index_params()
        params.add_index("vector", index_type=store.index_type, metric_type="IP")  # unit vectors: IP = cosine
        store._call("create", client.create_collection, collection, schema=schema)
        # sync=False: the index of an empty collection is ready at once, and waiting polls in 0.5 s steps
        # through a timestamp call that Milvus Lite does not implement (it logs a traceback).
        store._call("index", client.create_index, collection, params, sync=False)
        store._call("load", client.load_collection, collection)
        try:
            for lo in range(0, n, INSERT_BATCH):
                rows = vectors[lo : lo + INSERT_BATCH].astype(np.float32).tolist()
                batch = [{"id": lo + i, "vector": v} for i, v in enumerate(rows)]
                store._call("insert into", client.insert, collection, batch)
            store._call("flush", client.flush, collection)
        except IndexError_:
            store.drop_collections([collection])  # never leave a half-filled collection behind
            raise
        return store

    @classmethod
    def open(cls, uri: str, collection: str) -> MilvusVectors:
        """Connect to a saved generation's collection and load it for search."""
        client = _client(uri)
        store = cls(client, uri, collection, 0, "")
        if not store._call("look up", client.has_collection, collection):
            raise IndexError_(
                f"Milvus at {uri} has no collection {collection} (dropped, or store.uri points to another server). "
                "Run `rag index` to rebuild it."
            )
        store._call("load", client.load_collection, collection)
        store.ntotal = int(store._call("count", client.get_collection_stats, collection)["row_count"])
        index = store._call("describe", client.describe_index, collection, "vector")
        store.index_type = str(index.get("index_type", ""))
        return store

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), k), NO_SCORE, np.float32)
        ids = np.full((len(queries), k), NO_ID, np.int64)
        limit = min(k, self.ntotal, MILVUS_MAX_ROWS)
        if limit <= 0 or not len(queries):
            return scores, ids
        hits = self._call(
            "search", self.client.search, self.collection, data=np.asarray(queries, np.float32).tolist(),
            limit=limit, search_params={"metric_type": "IP"}, output_fields=["id"],
        )
        for row, found in enumerate(hits):
            for col, hit in enumerate(found):
                scores[row, col], ids[row, col] = hit["distance"], hit["id"]
        return scores, ids

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        found: dict[int, list[float]] = {}
        for lo in range(start, start + n, MILVUS_MAX_ROWS):
            hi = min(lo + MILVUS_MAX_ROWS, start + n)
            rows = self._call(
                "read", self.client.query, self.collection,
                filter=f"id >= {lo} and id < {hi}", output_fields=["vector"], limit=hi - lo,
            )
            found.update((int(r["id"]), r["vector"]) for r in rows)
        if len(found) != n:
            raise IndexError_(f"Milvus collection {self.collection} at {self.uri} is missing rows. Run `rag index`.")
        return np.asarray([found[i] for i in range(start, start + n)], np.float32).reshape(n, -1)

    def drop_collections(self, names: Iterable[str]) -> None:
        """Drop the named collections where they exist (older generations); failures only log."""
        from pymilvus import MilvusException

        for name in names:
            try:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            except MilvusException as exc:
                log.warning("Could not drop Milvus collection %s at %s (%s).", name, self.uri, exc.message)
