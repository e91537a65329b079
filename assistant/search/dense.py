"""Dense vectors in FAISS: exact inner product for small corpora, HNSW past ``HNSW_FROM`` vectors.

An HNSW graph takes minutes to build at a million vectors, so a rebuild that changed a few documents reuses the
previous build's graph (:func:`Dense.extend`): their new vectors are added to it and the rows they replace stay
in the graph unused, until they make up ``COMPACT_ABOVE`` of it (then the graph is built afresh). Unit positions
map to FAISS rows through ``slots`` (none: the same); every method here takes and returns unit positions.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_FROM = 200_000
COMPACT_ABOVE = 0.2  # share of unused rows in a reused graph above which it is built afresh

faiss.omp_set_num_threads(1)  # single small queries are ~20x faster on one thread than with OpenMP


class Dense:
    def __init__(self, index: faiss.Index, slots: np.ndarray | None = None) -> None:
        self._index = index
        self._slots = None if slots is None or _identity(slots, index.ntotal) else np.asarray(slots, np.int64)
        self._units: np.ndarray | None = None  # FAISS row → unit position (-1: unused), with slots only
        if self._slots is not None:
            self._units = np.full(index.ntotal, -1, dtype=np.int64)
            self._units[self._slots] = np.arange(len(self._slots))

    @classmethod
    def build(cls, vectors: np.ndarray | list[np.ndarray]) -> Dense:
        """From one (n, d) array, or several added in turn (one per document: no corpus-wide copy)."""
        parts = [p for p in (vectors if isinstance(vectors, list) else [vectors]) if len(p)]
        if not parts:
            raise ValueError("no vectors to index")
        dim, total = parts[0].shape[1], sum(len(p) for p in parts)
        if total >= HNSW_FROM:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatIP(dim)
        for p in parts:
            index.add(np.ascontiguousarray(p, dtype=np.float32))
        return cls(index)

    @classmethod
    def extend(cls, previous: Dense, reuse: list[np.ndarray | None], parts: list[np.ndarray]) -> Dense:
        """The units of ``parts`` in order, part i either the previous index's units at positions ``reuse[i]``
        (same vectors: their rows are kept) or, where ``reuse[i]`` is None, ``parts[i]``'s vectors (added).
        ``previous`` is consumed. A flat index, a result below ``HNSW_FROM`` units or one whose unused rows
        would pass ``COMPACT_ABOVE`` is built afresh instead."""
        total = sum(len(p) for p in parts)
        added = sum(len(p) for p, r in zip(parts, reuse, strict=True) if r is None)
        rows = previous._index.ntotal + added
        if not previous.is_graph or total < HNSW_FROM or rows - total > COMPACT_ABOVE * rows:
            return cls.build(parts)
        slots, fresh, next_row = [], [], previous._index.ntotal
        for part, positions in zip(parts, reuse, strict=True):
            if positions is None:
                slots.append(np.arange(next_row, next_row + len(part), dtype=np.int64))
                fresh.append(part)
                next_row += len(part)
            else:
                slots.append(previous._rows(np.asarray(positions, dtype=np.int64)))
        for part in fresh:
            if len(part):
                previous._index.add(np.ascontiguousarray(part, dtype=np.float32))
        return cls(previous._index, np.concatenate(slots) if slots else np.zeros(0, np.int64))

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        return positions if self._slots is None else self._slots[positions]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit positions, cosines) of the k nearest units."""
        k = min(k, self.size)
        ntotal = self._index.ntotal
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        want = k if self._units is None else min(ntotal, k + min(ntotal - self.size, max(k, 32)))
        while True:
            scores, ids = self._index.search(q, want)
            keep = ids[0] >= 0
            ids, scores = ids[0][keep], scores[0][keep]
            if self._units is None:
                return ids, scores
            units = self._units[ids]
            live = units >= 0
            if live.sum() >= k or want >= ntotal:  # rows no unit uses are passed over
                return units[live][:k], scores[live][:k]
            want = min(ntotal, want * 4)

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine to every unit (exact)."""
        scores = self._matrix() @ np.asarray(query, dtype=np.float32).reshape(-1)
        return scores if self._slots is None else scores[self._slots]

    def scores_at(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact cosines of the units at ``positions`` (a filter that allows few units: no graph search)."""
        return self._matrix()[self._rows(np.asarray(positions))] @ np.asarray(query, dtype=np.float32).reshape(-1)

    def _matrix(self) -> np.ndarray:
        """The stored rows as an (rows, d) view, without a copy (flat storage, alone or under HNSW)."""
        flat = self._index if isinstance(self._index, faiss.IndexFlat) else faiss.downcast_index(self._index.storage)
        return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)

    def vectors(self) -> np.ndarray:
        """Every unit's vector, in unit order (a copy)."""
        if self._index.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._matrix()[self._slots] if self._slots is not None else self._matrix().copy()

    def rows(self, positions: list[int]) -> np.ndarray:
        """The stored vectors of the units at ``positions``."""
        if not positions:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._matrix()[self._rows(np.asarray(positions, dtype=np.int64))].copy()

    @property
    def is_graph(self) -> bool:
        return not isinstance(self._index, faiss.IndexFlat)

    @property
    def unused_rows(self) -> int:
        return int(self._index.ntotal) - self.size

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def size(self) -> int:
        return int(self._index.ntotal) if self._slots is None else len(self._slots)

    def save(self, path: Path) -> None:
        """``path`` (the FAISS index) and, when units map to rows, ``<path>.slots.npy`` beside it."""
        faiss.write_index(self._index, str(path))
        if self._slots is not None:
            np.save(_slots_path(path), self._slots)

    @classmethod
    def load(cls, path: Path) -> Dense:
        slots = _slots_path(path)
        return cls(faiss.read_index(str(path)), np.load(slots) if slots.is_file() else None)


def _slots_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".slots.npy")


def _identity(slots: np.ndarray, rows: int) -> bool:
    return len(slots) == rows and bool((np.asarray(slots) == np.arange(rows)).all())
