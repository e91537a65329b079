"""FAISS behind unit positions: an HNSW graph extended by a rebuild (unchanged documents keep their rows, rows
no unit uses any more are passed over) answers like a graph built afresh; too many unused rows rebuild it."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.search import dense as dense_mod
from assistant.search.dense import Dense


def unit_vectors(n: int, seed: int, dim: int = 32) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def small_graphs(monkeypatch):
    monkeypatch.setattr(dense_mod, "HNSW_FROM", 100)


def test_an_extended_graph_serves_unit_positions_only(small_graphs, tmp_path):
    a, b, c, d = unit_vectors(300, 1), unit_vectors(40, 2), unit_vectors(200, 3), unit_vectors(60, 4)
    before = Dense.build([a, b, c])
    assert before.is_graph and before.size == 540
    # b's document removed, d's added, c's kept (it moves up)
    after = Dense.extend(before, [np.arange(0, 300), np.arange(340, 540), None], [a, c, d])
    assert after.size == 560 and after.unused_rows == 40
    expected = np.concatenate([a, c, d])
    assert np.array_equal(after.vectors(), expected)
    assert np.array_equal(after.rows([0, 300, 559]), expected[[0, 300, 559]])
    q = unit_vectors(1, 9)[0]
    assert np.allclose(after.all_scores(q), expected @ q, atol=1e-6)
    assert np.allclose(after.scores_at(q, np.array([5, 310, 520])), expected[[5, 310, 520]] @ q, atol=1e-6)
    ids, _ = after.search(q, 560)
    assert sorted(ids.tolist()) == list(range(560))  # every unit once, no unused row
    for pos in (0, 299, 300, 499, 500, 559):
        ids, scores = after.search(expected[pos], 5)
        assert ids[0] == pos and scores[0] == pytest.approx(1.0, abs=1e-5)
    after.save(tmp_path / "dense.faiss")
    loaded = Dense.load(tmp_path / "dense.faiss")
    assert loaded.size == 560 and np.array_equal(loaded.vectors(), expected)
    assert loaded.search(expected[520], 1)[0][0] == 520


def test_too_many_unused_rows_build_the_graph_afresh(small_graphs):
    a, b, c = unit_vectors(300, 1), unit_vectors(200, 2), unit_vectors(200, 3)
    before = Dense.build([a, b])
    after = Dense.extend(before, [np.arange(0, 300), None], [a, c])  # 200 unused of 700 rows: > 20 %
    assert after.unused_rows == 0 and after.size == 500 and np.array_equal(after.vectors(), np.concatenate([a, c]))


def test_below_the_graph_size_a_flat_index_is_built(small_graphs):
    a, b = unit_vectors(150, 1), unit_vectors(20, 2)
    after = Dense.extend(Dense.build([a]), [None], [b])
    assert not after.is_graph and after.size == 20
