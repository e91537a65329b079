"""Dense vectors in FAISS: exact inner product for small corpora, HNSW past ``HNSW_FROM`` vectors."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_FROM = 200_000

faiss.omp_set_num_threads(1)  # single small queries are ~20x faster on one thread than with OpenMP


class Dense:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index

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

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosines) of the k nearest units."""
        k = min(k, self._index.ntotal)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine to every unit (exact; used for filtered search on small indexes)."""
        if isinstance(self._index, faiss.IndexFlat):
            return self._matrix() @ query.astype(np.float32)
        ids, scores = self.search(query, self._index.ntotal)
        out = np.full(self._index.ntotal, -1.0, dtype=np.float32)
        out[ids] = scores
        return out

    def scores_at(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact cosines of the units at ``positions`` (a filter that allows few units: no graph search)."""
        return self._matrix()[positions] @ np.asarray(query, dtype=np.float32).reshape(-1)

    def _matrix(self) -> np.ndarray:
        """The stored vectors as an (n, d) view, without a copy (flat storage, alone or under HNSW)."""
        flat = self._index if isinstance(self._index, faiss.IndexFlat) else faiss.downcast_index(self._index.storage)
        return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)

    def rows(self, positions: list[int]) -> np.ndarray:
        """The stored vectors at ``positions`` (flat and HNSW-with-flat-storage indexes keep them exactly)."""
        if not positions:
            return np.zeros((0, self._index.d), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in positions])

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> Dense:
        return cls(faiss.read_index(str(path)))
