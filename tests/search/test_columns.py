"""The compiled column loops against their numpy fallbacks (identical results: same additions, same order) and
against a direct count, on random postings with empty, short and long columns."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.search import columns


def postings(seed: int, n: int = 5000, terms: int = 12):
    rng = np.random.default_rng(seed)
    cols = [np.sort(rng.choice(n, size=int(rng.choice([0, 3, 40, 900, 4000])), replace=False)) for _ in range(terms)]
    indices = np.concatenate(cols).astype(np.int32)
    data = rng.gamma(2.0, 1.0, len(indices)).astype(np.float32)
    ends = np.cumsum([len(c) for c in cols]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    pick = rng.choice(terms, size=8)  # a query: some columns twice, in any order
    return indices, data, starts[pick], ends[pick], n


@pytest.mark.parametrize("seed", range(5))
def test_add_columns(seed):
    indices, data, starts, ends, n = postings(seed)
    got = columns.add_columns(indices, data, starts, ends, n)
    assert np.array_equal(got, columns.add_columns_numpy(indices, data, starts, ends, n))
    direct = np.zeros(n, np.float64)
    for s, e in zip(starts, ends, strict=True):
        direct[indices[s:e]] += data[s:e]
    assert np.allclose(got, direct, rtol=1e-5)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("size", [1, 7, 300, 5000])
def test_add_columns_at_equals_the_full_sums(seed, size):
    indices, data, starts, ends, n = postings(seed)
    wanted = np.sort(np.random.default_rng(size).choice(n, size=size, replace=False)).astype(np.int32)
    full = columns.add_columns(indices, data, starts, ends, n)
    assert np.array_equal(columns.add_columns_at(indices, data, starts, ends, wanted), full[wanted])
    assert np.array_equal(columns.add_columns_at_numpy(indices, data, starts, ends, wanted), full[wanted])


@pytest.mark.parametrize("seed", range(3))
def test_add_weights(seed):
    indices, _, starts, ends, n = postings(seed)
    weights = np.linspace(0.5, 2.0, len(starts))
    got = columns.add_weights(indices, starts, ends, weights, n)
    assert np.array_equal(got, columns.add_weights_numpy(indices, starts, ends, weights, n))
    direct = np.zeros(n)
    for s, e, w in zip(starts, ends, weights, strict=True):
        direct[indices[s:e]] += w
    assert np.allclose(got, direct)


@pytest.mark.parametrize("seed", range(3))
def test_csc_order_groups_entries_by_column_keeping_their_order(seed):
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, 50, size=20_000).astype(np.int32)
    cols[cols == 7] = 8  # an empty column
    order, indptr = columns.csc_order(cols, 51)
    assert np.array_equal(order, columns.csc_fill_numpy(cols, indptr))
    assert np.array_equal(order, np.argsort(cols, kind="stable"))
    assert indptr[0] == 0 and indptr[-1] == len(cols) and indptr[8] == indptr[7]
    assert all((cols[order[indptr[c] : indptr[c + 1]]] == c).all() for c in range(51))
