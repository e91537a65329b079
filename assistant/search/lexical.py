"""BM25 over our own tokens (see ``text.segment``), via bm25s.

bm25s stores every (term, unit) score at index time, as a sparse matrix by term (CSC: a term's units ascending).
A question's scores are sums over its terms' columns — and questions have many terms (words, compounds and their
pairs: 20–60), several held by most units, so at a million units one question reads ~10M entries. Scoring reads
the columns directly, in compiled loops (``columns``: 10 ms for those 10M entries; bm25s itself without numba
uses ``np.add.at``, ~40 ms):

* over the whole corpus, every column is added into one score array;
* when a filter allows few units (one plan, one ward), only those units' entries are read — each found by binary
  search in a long column, or by walking a short one beside them — so the cost follows the units allowed.

Both add a unit's term scores in query order in float32, as bm25s does, so a unit scores the same either way.

The matrix is built here too, from per-document term counts (:class:`TermCounts`, which a build caches with each
document): the same scores as ``bm25s.BM25.index`` (Lucene variant, float64 arithmetic stored as float32,
checked in tests), computed in array operations over the counts — a rebuild does not tokenise or count the
unchanged documents again, and the corpus's token lists are never held in memory at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from .columns import add_columns, add_columns_at, csc_order
from .termcounts import TermCounts

K1, B = 1.2, 0.75


class Lexical:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._bm25 = retriever
        s = retriever.scores
        self._data, self._indices, self._indptr = s["data"], s["indices"], s["indptr"]
        self.scores([]), self.scores_at([], np.zeros(0, dtype=self._indices.dtype))  # compiled now, not mid-question

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> Lexical:
        return cls.from_counts([TermCounts.of(corpus_tokens)])

    @classmethod
    def from_counts(cls, parts: Iterable[TermCounts]) -> Lexical:
        """The index of the units of ``parts``, in order (what bm25s builds from their token lists)."""
        vocab: dict[str, int] = {}
        rows, cols, tfs, lengths, offset = [], [], [], [], 0
        for part in parts:
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in part.vocab], dtype=np.int32)
            rows.append(part.unit.astype(np.int32) + offset)
            cols.append(remap[part.term] if len(part.term) else part.term.astype(np.int32))
            tfs.append(part.tf)
            lengths.append(part.lengths)
            offset += part.units
        vocab.setdefault("", len(vocab))  # bm25s adds the empty token to a vocabulary built from strings
        row = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        col = np.concatenate(cols) if cols else np.zeros(0, np.int32)
        tf = np.concatenate(tfs).astype(np.float64) if tfs else np.zeros(0)
        dl = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
        del rows, cols, tfs
        n = len(dl)
        df = np.bincount(col, minlength=len(vocab))
        # bm25s: idf by math.log per term, kept as float32; the term-frequency part in float64; stored float32
        idf = np.array([math.log(1 + (n - f + 0.5) / (f + 0.5)) for f in df.tolist()], dtype=np.float32)
        avgdl = dl.mean() if n else np.float64(0)
        norm = K1 * ((1 - B) + B * dl.astype(np.float64) / avgdl) if n else np.zeros(0)
        scores = (idf[col].astype(np.float64) * (tf / (norm[row] + tf))).astype(np.float32)
        del tf
        order, indptr = csc_order(col, len(vocab))
        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.scores = {"data": scores[order], "indices": row[order], "indptr": indptr, "num_docs": n}
        retriever.vocab_dict = vocab
        retriever.unique_token_ids_set = set(vocab.values())
        retriever.nonoccurrence_array = None  # Lucene BM25 has none (bm25s.save writes it if set)
        return cls(retriever)

    def _columns(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of each known query token's column, in query order (a repeated token counts again)."""
        vocab = self._bm25.vocab_dict
        ids = np.array([vocab[t] for t in query_tokens if t in vocab], dtype=np.int64)
        return self._indptr[ids].astype(np.int64), self._indptr[ids + 1].astype(np.int64)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every unit (0 where no token matches)."""
        starts, ends = self._columns(query_tokens)
        return add_columns(self._indices, self._data, starts, ends, self.size)

    def scores_at(self, query_tokens: list[str], allowed: np.ndarray) -> np.ndarray:
        """BM25 scores of the units at ``allowed`` (distinct positions, ascending), aligned with it."""
        starts, ends = self._columns(query_tokens)
        return add_columns_at(self._indices, self._data, starts, ends, np.asarray(allowed, dtype=self._indices.dtype))

    def candidates(self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions ascending, scores) of units that include the k best-scoring ones among ``allowed`` (all units
        when None), each with its score (> 0): what ranking the top k needs. Over the whole corpus, only the units
        at or above a threshold sampled from the scores (checked to keep at least k) — not every unit that shares
        a common word with the question."""
        if allowed is not None:
            scores = self.scores_at(query_tokens, allowed)
            found = scores > 0
            return allowed[found], scores[found]
        scores = self.scores(query_tokens)
        pos = np.flatnonzero(scores >= _threshold(scores, k))
        return pos, scores[pos]

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def save(self, path: Path) -> None:
        self._bm25.save(str(path))

    @classmethod
    def load(cls, path: Path) -> Lexical:
        return cls(bm25s.BM25.load(str(path)))


def _threshold(scores: np.ndarray, k: int) -> float:
    """A score (> 0) that at least ``k`` units reach (when as many score at all), estimated on a sample of the
    scores so that ranking the top k does not sort every matching unit."""
    tiny = float(np.finfo(np.float32).tiny)
    if k <= 0 or len(scores) < 64 * k:
        return tiny
    sample = scores[::32]
    want = min(len(sample), 2 * (k // 32 + 1))
    t = float(np.partition(sample, len(sample) - want)[len(sample) - want])
    return t if t > 0 and np.count_nonzero(scores >= t) >= k else tiny
