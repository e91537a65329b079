"""Milvus as the scale-out store (a province or the country), behind the same interface as EmbeddedStore.

One collection: ``id`` (VARCHAR primary key), ``doc_id``, ``kind``, ``locality`` (folded; the partition key on a server),
``year_from``/``year_to`` (INT64), ``text`` (the original), ``tokens`` (our folded tokens made analyzer-safe,
``standard`` analyzer, ``enable_match``) feeding a BM25 Function → ``sparse``, and ``vector`` (HNSW, IP).
Searches and counts run at Strong consistency, so a write is visible to the next read.

Works with a Milvus server (``http://host:19530``) and with milvus-lite (a local path ending in ``.db``; one
process per directory). Lite counts VARCHAR lengths in characters, a cluster in UTF-8 bytes: we check bytes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..text.normalize import fold
from .store import Filters, LegResults, StoredUnit, StoreError

if TYPE_CHECKING:
    from .index import Index

MAX_BYTES = {"id": 512, "doc_id": 512, "kind": 64, "locality": 512, "text": 65_535, "tokens": 65_535}
SEARCH_LIMIT = 16_384  # Milvus's largest topk
EF_SEARCH = 256  # HNSW search breadth floor (recall over speed: dense ranks must match FAISS's exact search)
BM25_K1, BM25_B = 1.2, 0.75  # the parameters of lexical.Lexical (bm25s)
BATCH = 500
_UNSAFE = re.compile(r"[^a-z0-9_]")


def safe_token(token: str) -> str:
    """Our folded token in a form the ``standard`` analyzer keeps whole (letters, digits and "_" only):
    "§nd-118-2025" → "lx_nd_118_2025", "w:ho_so" → "wx_ho_so", "100%" → "100q25", "1.5" → "1q2e5"."""
    if token.startswith("§"):
        token = "lx_" + token[1:].replace("-", "_")
    elif token.startswith("w:"):
        token = "wx_" + token[2:]
    return _UNSAFE.sub(lambda m: f"q{ord(m.group()):x}", token.lower())


def quote(value: str) -> str:
    """A Milvus expression string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def filter_expr(filters: Filters | None) -> str:
    if filters is None:
        return ""
    parts = []
    if filters.doc_id:
        parts.append(f"doc_id == {quote(filters.doc_id)}")
    if filters.kinds:
        parts.append(f"kind in [{', '.join(quote(k) for k in filters.kinds)}]")
    if filters.year:
        parts.append(f"year_from <= {int(filters.year)} and year_to >= {int(filters.year)}")
    if filters.locality:
        parts.append(f"locality == {quote(fold(filters.locality))}")
    return " and ".join(parts)


class MilvusStore:
    def __init__(self, uri: str, collection: str = "assistant_units", dim: int = 384, connect_timeout: float = 5.0,
                 timeout: float = 120.0, hnsw_m: int = 32, ef_construction: int = 200,
                 partition_key: bool | None = None) -> None:
        """Open (creating if needed) ``collection`` at ``uri``. Raises StoreError naming the URI if Milvus
        cannot be reached within ``connect_timeout`` seconds; ``timeout`` bounds every later call.

        ``partition_key`` (locality as the partition key, for a new collection) defaults to on for a server
        and off for milvus-lite: lite keeps BM25 statistics per segment and a partition key gives each
        locality its own segments, so IDF would become per-locality (top-5 agreement with bm25s on the seed
        corpus fell from 78 to 22 of 106 questions)."""
        self.lite = not re.match(r"^[a-z][a-z0-9+.-]*://", uri)
        self.partition_key = (not self.lite) if partition_key is None else partition_key
        try:
            from pymilvus import MilvusClient, MilvusException
        except ImportError as exc:
            raise StoreError("ASSISTANT_STORE=milvus needs pymilvus: pip install 'assistant[milvus]'") from exc
        self.uri, self.collection, self.dim, self.timeout = uri, collection, dim, timeout
        try:
            self._client = MilvusClient(uri=uri, timeout=connect_timeout)
        except Exception as exc:  # MilvusException, or lite's own errors (lock held by another process…)
            raise StoreError(f"Cannot open Milvus at {uri} ({_message(exc)}). Check ASSISTANT_MILVUS_URI and that "
                             "the server is running (a milvus-lite .db directory serves one process only).") from exc
        try:
            if self._client.has_collection(collection, timeout=timeout):
                self._check_dim()
                self._client.load_collection(collection, timeout=timeout)
            else:
                self._create(hnsw_m, ef_construction)
        except StoreError:
            self._client.close()
            raise
        except MilvusException as exc:
            self._client.close()
            raise StoreError(f"Milvus at {uri}: cannot open collection {collection!r} ({_message(exc)})") from exc

    def _create(self, hnsw_m: int, ef_construction: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self._client
        schema = c.create_schema(auto_id=False, description="assistant retrieval units")
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_BYTES["id"])
        schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_BYTES["doc_id"])
        schema.add_field("kind", DataType.VARCHAR, max_length=MAX_BYTES["kind"])
        schema.add_field("locality", DataType.VARCHAR, max_length=MAX_BYTES["locality"], is_partition_key=self.partition_key)
        schema.add_field("year_from", DataType.INT64)
        schema.add_field("year_to", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_BYTES["text"])
        schema.add_field("tokens", DataType.VARCHAR, max_length=MAX_BYTES["tokens"], enable_analyzer=True,
                         enable_match=True, analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_function(Function(name="tokens_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        index = c.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})  # as bm25s (lite defaults k1 to 1.5)
        index.add_index("vector", index_type="HNSW", metric_type="IP",
                        params={"M": hnsw_m, "efConstruction": ef_construction})
        for scalar in ("doc_id", "kind"):
            index.add_index(scalar, index_type="INVERTED")
        c.create_collection(self.collection, schema=schema, index_params=index, consistency_level="Strong",
                            timeout=self.timeout)

    def _check_dim(self) -> None:
        fields = self._client.describe_collection(self.collection, timeout=self.timeout)["fields"]
        dim = next((int(f["params"]["dim"]) for f in fields if f["name"] == "vector"), None)
        if dim != self.dim:
            raise StoreError(f"Milvus at {self.uri}: collection {self.collection!r} holds vectors of dimension "
                             f"{dim}, not {self.dim} (another embedding model? use another collection)")

    # ---- writes ------------------------------------------------------------------------------------------
    def add(self, units: list[StoredUnit], flush: bool = True) -> None:
        """Upsert units, then flush (seal) them: milvus-lite otherwise rebuilds the BM25 index of unsealed rows
        on every search (~2 s instead of ~0.3 s per query at 10k units). Pass ``flush=False`` for many small
        adds in a row (a cluster rate-limits flushes) and flush once at the end."""
        rows = [self._row(u) for u in units]
        for i in range(0, len(rows), BATCH):
            self._client.upsert(self.collection, rows[i : i + BATCH], timeout=self.timeout)
        if rows and flush:
            self.flush()

    def flush(self) -> None:
        self._client.flush(self.collection, timeout=self.timeout)

    def _row(self, u: StoredUnit) -> dict[str, Any]:
        vector = np.asarray(u.vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise StoreError(f"unit {u.id}: vector of dimension {vector.shape[0]}, the collection holds {self.dim}")
        row = {"id": u.id, "doc_id": u.doc_id, "kind": u.kind, "locality": fold(u.locality),
               "year_from": int(u.year_from), "year_to": int(u.year_to), "text": u.text,
               "tokens": " ".join(safe_token(t) for t in u.tokens), "vector": vector.tolist()}
        for name, limit in MAX_BYTES.items():
            size = len(row[name].encode("utf-8"))
            if size > limit:
                raise StoreError(f"unit {u.id}: field {name!r} is {size} bytes in UTF-8, Milvus allows {limit} "
                                 "(a Vietnamese character can take 3 bytes): split the unit")
        return row

    def delete_document(self, doc_id: str) -> int:
        res = self._client.delete(self.collection, filter=f"doc_id == {quote(doc_id)}", timeout=self.timeout)
        return len(res) if isinstance(res, list) else int(res.get("delete_count", 0))

    def sync(self, index: Index) -> None:
        """Make the collection hold exactly the index's units (by id; ids are content hashes)."""
        from .store import unit_batches

        wanted = {u.chunk_id for u in index.units}
        present = self.ids()
        gone = sorted(present - wanted)
        for i in range(0, len(gone), BATCH):
            self._client.delete(self.collection, ids=gone[i : i + BATCH], timeout=self.timeout)
        missing = wanted - present
        for batch in unit_batches(index, only=missing, size=BATCH * 4) if missing else ():
            self.add(batch, flush=False)  # one batch in memory at a time
        if missing:
            self.flush()

    # ---- reads -------------------------------------------------------------------------------------------
    def ids(self) -> set[str]:
        it = self._client.query_iterator(self.collection, batch_size=1000, output_fields=["id"],
                                         timeout=self.timeout, consistency_level="Strong")
        out: set[str] = set()
        while batch := it.next():
            out.update(r["id"] for r in batch)
        it.close()
        return out

    def count(self) -> int:
        res = self._client.query(self.collection, filter="", output_fields=["count(*)"], timeout=self.timeout,
                                 consistency_level="Strong")
        return int(res[0]["count(*)"])

    def search(self, tokens: list[str] | None, vector: np.ndarray | None, k: int,
               filters: Filters | None = None) -> LegResults:
        legs: LegResults = {}
        expr, limit = filter_expr(filters), min(k, SEARCH_LIMIT)
        if tokens is not None:
            text = " ".join(safe_token(t) for t in tokens)
            legs["bm25"] = self._ids(self._search([text], "sparse", {"metric_type": "BM25"}, limit, expr)) \
                if text and limit > 0 else []
        if vector is not None:
            legs["dense"] = self._ids(self._search([self._vector(vector)], "vector", self._dense_params(limit),
                                                   limit, expr)) if limit > 0 else []
        return legs

    def hybrid(self, tokens: list[str] | None, vector: np.ndarray | None, k: int, filters: Filters | None = None,
               rrf_k: int = 60, depth: int = 100) -> list[str]:
        """The engine's own fusion: ``hybrid_search`` over both legs (each ``depth`` deep) with RRFRanker(rrf_k).
        Unweighted; use ``search`` + ``fusion.fuse`` for the Retriever's weighted RRF."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expr, limit = filter_expr(filters) or None, min(max(k, depth), SEARCH_LIMIT)
        reqs = []
        text = " ".join(safe_token(t) for t in tokens or [])
        if text:
            reqs.append(AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, limit, expr=expr))
        if vector is not None:
            reqs.append(AnnSearchRequest([self._vector(vector)], "vector", self._dense_params(limit), limit, expr=expr))
        if not reqs or k <= 0:
            return []
        res = self._client.hybrid_search(self.collection, reqs, RRFRanker(rrf_k), limit=min(k, SEARCH_LIMIT),
                                         output_fields=["id"], timeout=self.timeout, consistency_level="Strong")
        return self._ids(res)

    def _search(self, data: list, field: str, params: dict, limit: int, expr: str) -> Any:
        return self._client.search(self.collection, data=data, anns_field=field, limit=limit, filter=expr,
                                   output_fields=["id"], search_params=params, timeout=self.timeout,
                                   consistency_level="Strong")

    def _vector(self, vector: np.ndarray) -> list[float]:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise StoreError(f"query vector of dimension {v.shape[0]}, the collection holds {self.dim}")
        return v.tolist()

    @staticmethod
    def _dense_params(limit: int) -> dict[str, Any]:
        # ef 64 missed the true top-2 of a seed-corpus question in milvus-lite's HNSW (198 vectors); 128 did not
        return {"metric_type": "IP", "params": {"ef": max(EF_SEARCH, limit)}}

    @staticmethod
    def _ids(res: Any) -> list[str]:
        return [h["id"] for h in res[0]] if res else []

    def close(self) -> None:
        self._client.close()


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
