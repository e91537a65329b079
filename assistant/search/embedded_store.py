"""The default store: bm25s over folded tokens + FAISS (exact inner product below ``HNSW_FROM`` vectors, HNSW
above), in-process. Filters become an allowed-unit mask (integer codes per column, so a filter costs one
vectorised comparison) and its positions; a filter that allows few units (one plan, one ward) is searched over
those units only — BM25 entries sought per unit, exact dense scores — so its cost follows the units allowed, not
the corpus. Each leg is ranked with a partial sort of the candidates.

Writes rebuild both indexes from the kept units (bm25s cannot update in place), so batch your adds: a
rebuild takes ~0.6 s per 10k units for BM25, and an HNSW build (≥ 200k units) minutes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..text.normalize import fold
from .columns import Codes
from .dense import HNSW_FROM, Dense
from .lexical import Lexical
from .store import Filters, LegResults, StoredUnit, StoreError

if TYPE_CHECKING:
    from .index import Index

FORMAT = 1
EXACT_BELOW = 50_000  # a filter allowing at most this many units: exact dense scores over them, not a graph search
COLUMNS = ("ids", "doc_ids", "kinds", "localities", "year_from", "year_to", "texts")


def dense_vectors(dense: Dense) -> np.ndarray:
    """All vectors of a Dense index (flat or HNSW-with-flat-storage), as float32 rows in unit order."""
    return dense.vectors()


class EmbeddedStore:
    def __init__(self, path: Path | None = None, dim: int | None = None) -> None:
        """An empty store, or the one saved in ``path`` (then saved back there on ``close()`` after writes)."""
        self.path, self.dim = (Path(path) if path else None), dim
        self._cols: dict[str, list] = {c: [] for c in COLUMNS}
        self._tokens: list[list[str]] | None = []
        self._lazy_tokens: Callable[[], list[list[str]]] | None = None
        self._lexical: Lexical | None = None
        self._dense: Dense | None = None
        self._dirty = False
        if self.path and (self.path / "store.json").is_file():
            self._load(self.path)
        self._columns()

    @classmethod
    def from_index(cls, index: Index) -> EmbeddedStore:
        """Wrap a built index's bm25s and FAISS as they are (same on-disk format; nothing is copied)."""
        from ..text.segment import tokens
        from .index import unit_text

        store = cls(dim=index.dense.dim)
        docs = index.docs
        units = index.units
        store._cols = {
            "ids": [u.chunk_id for u in units], "doc_ids": [u.doc_id for u in units],
            "kinds": [u.kind for u in units], "localities": [docs[u.doc_id].locality for u in units],
            "year_from": [docs[u.doc_id].year_from for u in units],
            "year_to": [docs[u.doc_id].year_to for u in units], "texts": [u.text for u in units],
        }
        store._lexical, store._dense = index.lexical, index.dense
        store._tokens = None  # recomputed (as build_index does) only if the store is written to
        store._lazy_tokens = lambda: [tokens(unit_text(u)) for u in units]
        store._columns()
        return store

    # ---- reads -------------------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self._cols["ids"])

    def search(self, tokens: list[str] | None, vector: np.ndarray | None, k: int,
               filters: Filters | None = None) -> LegResults:
        legs: LegResults = {}
        allowed, mask = self._allowed(filters)
        if tokens is not None:
            legs["bm25"] = [] if self._lexical is None else self._bm25(tokens, k, allowed)
        if vector is not None:
            legs["dense"] = [] if self._dense is None else self._nearest(vector, k, mask, allowed)
        return legs

    def _bm25(self, tokens: list[str], k: int, allowed: np.ndarray | None) -> list[str]:
        pos, scores = self._lexical.candidates(tokens, k, allowed)  # units with no matching token: none
        return self._ranked(pos, scores, k)

    def _nearest(self, vector: np.ndarray, k: int, mask: np.ndarray | None, allowed: np.ndarray | None) -> list[str]:
        dense = self._dense
        vector = np.asarray(vector, dtype=np.float32)
        if allowed is not None and (dense.size < HNSW_FROM or len(allowed) <= EXACT_BELOW):
            return self._ranked(allowed, dense.scores_at(vector, allowed), k)  # exact over the allowed units
        if dense.size < HNSW_FROM:  # exact: one matrix-vector product, then the top k
            scores = dense.all_scores(vector)
            return self._ranked(np.arange(len(scores)), scores, k)
        want = k if mask is None else min(dense.size, 4 * k)
        while True:  # HNSW: widen the search until k allowed units are found (many are: see EXACT_BELOW)
            ids, _ = dense.search(vector, want)
            if mask is not None:
                ids = ids[mask[ids]]
            if len(ids) >= k or want >= dense.size:
                return [self._cols["ids"][i] for i in ids[:k]]
            want = min(dense.size, want * 4)

    def _ranked(self, idx: np.ndarray, s: np.ndarray, k: int) -> list[str]:
        """Ids of the k best of positions ``idx`` (ascending) by scores ``s``, best first, equal scores by
        position (as a stable sort)."""
        if k <= 0 or len(idx) == 0:
            return []
        if len(idx) > k:
            thr = s[np.argpartition(-s, k - 1)[k - 1]]
            keep = s >= thr
            idx, s = idx[keep], s[keep]
        order = idx[np.lexsort((idx, -s))][:k]
        ids = self._cols["ids"]
        return [ids[i] for i in order]

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or not (filters.doc_id or filters.kinds or filters.year or filters.locality):
            return None
        mask = np.ones(self.count(), dtype=bool)
        if filters.doc_id:
            mask &= self._doc.equal(filters.doc_id)
        if filters.kinds:
            mask &= self._kind.among(tuple(filters.kinds))
        if filters.year:
            mask &= (self._year_from <= filters.year) & (filters.year <= self._year_to)
        if filters.locality:
            mask &= self._loc.equal(fold(filters.locality))
        return mask

    def _allowed(self, filters: Filters | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The allowed positions (ascending) and mask; (None, None) without a filter. Filters that allow few
        units (one plan, one ward) are remembered by their positions alone (only a graph search over many
        allowed units needs the mask, and those are not remembered)."""
        got = self._allowed_cache.get(filters) if filters is not None else None
        if got is not None:
            return got, None
        mask = self._mask(filters)
        if mask is None:
            return None, None
        got = np.flatnonzero(mask)
        if len(got) <= EXACT_BELOW and len(self._allowed_cache) < 4096:
            self._allowed_cache[filters] = got
        return got, mask

    def _columns(self) -> None:
        self._allowed_cache: dict[Filters, np.ndarray] = {}
        c = self._cols
        self._doc, self._kind = Codes(c["doc_ids"]), Codes(c["kinds"])
        self._loc = Codes([fold(x) for x in c["localities"]])
        self._year_from = np.array(c["year_from"], dtype=np.int64)
        self._year_to = np.array(c["year_to"], dtype=np.int64)

    # ---- writes ------------------------------------------------------------------------------------------
    def add(self, units: list[StoredUnit]) -> None:
        if not units:
            return
        dim = {np.asarray(u.vector).reshape(-1).shape[0] for u in units}
        if len(dim) > 1 or (self.dim is not None and dim != {self.dim}):
            raise StoreError(f"vectors of dimension {sorted(dim)} do not fit a store of dimension {self.dim}")
        self.dim = dim.pop()
        new = {u.id for u in units}
        keep = [i for i, uid in enumerate(self._cols["ids"]) if uid not in new]
        rows = {c: [v[i] for i in keep] for c, v in self._cols.items()}
        for u in units:
            for c, v in zip(COLUMNS, (u.id, u.doc_id, u.kind, u.locality, int(u.year_from), int(u.year_to),
                                      u.text), strict=True):
                rows[c].append(v)
        old_tokens = self._all_tokens()
        toks = [old_tokens[i] for i in keep] + [list(u.tokens) for u in units]
        vecs = np.concatenate([self._vectors()[keep],
                               np.stack([np.asarray(u.vector, np.float32).reshape(-1) for u in units])])
        self._rebuild(rows, toks, vecs)

    def delete_document(self, doc_id: str) -> int:
        keep = [i for i, d in enumerate(self._cols["doc_ids"]) if d != doc_id]
        removed = self.count() - len(keep)
        if removed:
            old_tokens = self._all_tokens()
            rows = {c: [v[i] for i in keep] for c, v in self._cols.items()}
            self._rebuild(rows, [old_tokens[i] for i in keep], self._vectors()[keep])
        return removed

    def _all_tokens(self) -> list[list[str]]:
        if self._tokens is None:
            self._tokens = self._lazy_tokens() if self._lazy_tokens else []
        return self._tokens

    def _vectors(self) -> np.ndarray:
        if self._dense is None:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return dense_vectors(self._dense)

    def _rebuild(self, rows: dict[str, list], toks: list[list[str]], vecs: np.ndarray) -> None:
        self._cols, self._tokens, self._lazy_tokens = rows, toks, None
        self._lexical = Lexical.build(toks) if toks else None
        self._dense = Dense.build(vecs) if len(vecs) else None
        self._columns()
        self._dirty = True

    # ---- persistence -------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the store to ``path`` (replaced as a whole: built aside, then swapped in)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "tokens.json").write_text(json.dumps(self._all_tokens(), ensure_ascii=False), encoding="utf-8")
        (tmp / "units.json").write_text(json.dumps(self._cols, ensure_ascii=False), encoding="utf-8")
        if self._lexical is not None:
            self._lexical.save(tmp / "bm25")
        if self._dense is not None:
            self._dense.save(tmp / "dense.faiss")
        (tmp / "store.json").write_text(json.dumps({"format": FORMAT, "dim": self.dim, "count": self.count()}))
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)

    def _load(self, path: Path) -> None:
        meta = json.loads((path / "store.json").read_text())
        if meta.get("format") != FORMAT:
            raise StoreError(f"{path} holds store format {meta.get('format')}, this code reads {FORMAT}")
        self.dim = self.dim or meta.get("dim")
        self._cols = json.loads((path / "units.json").read_text(encoding="utf-8"))
        self._tokens = json.loads((path / "tokens.json").read_text(encoding="utf-8"))
        self._lexical = Lexical.load(path / "bm25") if (path / "bm25").exists() else None
        self._dense = Dense.load(path / "dense.faiss") if (path / "dense.faiss").exists() else None

    def close(self) -> None:
        if self.path is not None and self._dirty:
            self.save(self.path)
            self._dirty = False

