"""Hybrid retrieval: BM25 and dense legs, each ranked over the allowed units, fused by weighted RRF."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models import Hit
from ..text.normalize import clean
from ..text.segment import query_tokens
from .embedder import Embedder
from .index import Index

RRF_K = 60
MODES = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class Filters:
    doc_id: str | None = None
    kinds: tuple[str, ...] | None = None  # passage | task | appendix_row | title | signature
    year: int | None = None  # documents whose period covers this year
    locality: str | None = None


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, w_bm25: float = 1.0, w_dense: float = 0.6) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = {"bm25": w_bm25, "dense": w_dense}
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

    def leg_scores(self, question: str, mode: str = "hybrid") -> dict[str, np.ndarray]:
        legs: dict[str, np.ndarray] = {}
        if mode in ("hybrid", "bm25"):
            legs["bm25"] = self.index.lexical.scores(query_tokens(question))
        if mode in ("hybrid", "dense"):
            legs["dense"] = self.index.dense.all_scores(self.embedder.embed_query(clean(question)))
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
            fused[order] += self.weights.get(name, 1.0) / (RRF_K + np.arange(1, len(order) + 1))
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

