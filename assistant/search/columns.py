"""Columns of an index as arrays: compiled loops over postings (a term's units, ascending, with a value per entry
or per term), and string columns as integer codes.

Sums over many long columns are the cost of a corpus-wide question at scale (~10M entries per question at a
million units): here they run compiled (numba), with numpy fallbacks that give identical results (the same
float additions in the same order) when numba is missing.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps a broken install answering
    njit = None

from collections.abc import Iterable

SEEK_FACTOR = 16  # per column: binary-search the wanted units when they are this many times fewer than its entries


def add_columns(indices: np.ndarray, data: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """float32 sums over units 0..n-1 of the entries ``indices/data[starts[c]:ends[c]]``, column by column."""
    out = np.zeros(n, dtype=np.float32)
    for c in range(len(starts)):
        for j in range(starts[c], ends[c]):
            out[indices[j]] += data[j]
    return out


def add_columns_at(indices: np.ndarray, data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                   wanted: np.ndarray) -> np.ndarray:
    """The same sums for the units ``wanted`` only (distinct, ascending), aligned with it: each is found by binary
    search in a long column, or by walking a short column beside them."""
    out = np.zeros(len(wanted), dtype=np.float32)
    m = len(wanted)
    for c in range(len(starts)):
        s, e = starts[c], ends[c]
        if m * SEEK_FACTOR < e - s:
            for a in range(m):
                lo, hi, want = s, e, wanted[a]
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if indices[mid] < want:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < e and indices[lo] == want:
                    out[a] += data[lo]
        else:
            a, j = 0, s
            while a < m and j < e:
                if indices[j] < wanted[a]:
                    j += 1
                elif indices[j] > wanted[a]:
                    a += 1
                else:
                    out[a] += data[j]
                    a += 1
                    j += 1
    return out


def add_weights(indices: np.ndarray, starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """float64 sums over units 0..n-1 of ``weights[c]`` for every column c that holds the unit."""
    out = np.zeros(n, dtype=np.float64)
    for c in range(len(starts)):
        w = weights[c]
        for j in range(starts[c], ends[c]):
            out[indices[j]] += w
    return out


def csc_fill(cols: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The stable order that groups entries by column (counting sort; ``indptr`` from the column counts)."""
    heads = indptr[:-1].copy()
    order = np.empty(len(cols), dtype=np.int64)
    for i in range(len(cols)):
        c = cols[i]
        order[heads[c]] = i
        heads[c] += 1
    return order


def csc_order(cols: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, indptr): entries taken in ``order`` are grouped by column, keeping their order within a column;
    column c's entries are ``order[indptr[c]:indptr[c + 1]]``."""
    indptr = np.zeros(n_cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n_cols), out=indptr[1:])
    return csc_fill(np.asarray(cols), indptr), indptr


def csc_fill_numpy(cols, indptr):  # noqa: ANN001, ANN201 — fallback of csc_fill
    return np.argsort(cols, kind="stable")


def add_columns_numpy(indices, data, starts, ends, n):  # noqa: ANN001, ANN201 — fallback of add_columns
    out = np.zeros(n, dtype=np.float32)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        out[indices[s:e]] += data[s:e]  # a unit is once in a column: a plain indexed add is exact
    return out


def add_columns_at_numpy(indices, data, starts, ends, wanted):  # noqa: ANN001, ANN201
    out = np.zeros(len(wanted), dtype=np.float32)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        col = indices[s:e]
        at = np.searchsorted(col, wanted)
        found = at < len(col)
        found[found] = col[at[found]] == wanted[found]
        out[found] += data[s:e][at[found]]
    return out


def add_weights_numpy(indices, starts, ends, weights, n):  # noqa: ANN001, ANN201
    out = np.zeros(n, dtype=np.float64)
    for s, e, w in zip(starts.tolist(), ends.tolist(), weights.tolist(), strict=True):
        out[indices[s:e]] += w
    return out


if njit is not None:
    add_columns = njit(cache=True, nogil=True)(add_columns)
    add_columns_at = njit(cache=True, nogil=True)(add_columns_at)
    add_weights = njit(cache=True, nogil=True)(add_weights)
    csc_fill = njit(cache=True, nogil=True)(csc_fill)
else:  # pragma: no cover
    add_columns, add_columns_at, add_weights = add_columns_numpy, add_columns_at_numpy, add_weights_numpy
    csc_fill = csc_fill_numpy


class Codes:
    """A string column as integer codes (``codes[i]``; ``values[code]``), for vectorised equality and counts."""

    def __init__(self, values: Iterable[str]) -> None:
        self.index: dict[str, int] = {}
        self.codes = np.array([self.index.setdefault(v, len(self.index)) for v in values], dtype=np.int32)
        self.values = list(self.index)

    def equal(self, value: str) -> np.ndarray:
        code = self.index.get(value)
        return np.zeros(len(self.codes), dtype=bool) if code is None else self.codes == code

    def among(self, values: tuple[str, ...]) -> np.ndarray:
        wanted = [self.index[v] for v in values if v in self.index]
        return np.isin(self.codes, wanted)
