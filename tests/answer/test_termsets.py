"""Compact term sets: rows read back as the sets that went in; document frequencies and the inverted view agree
with a direct count."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer.termsets import TermSets, Vocab, load_term_sets, save_term_sets

SETS = [{"a", "b"}, set(), {"b", "c", "a_b"}, {"c"}, {"a"}]


def test_rows_read_back_as_sets_and_share_one_vocabulary():
    vocab = Vocab()
    ts = TermSets.build(SETS, vocab)
    other = TermSets.build([{"c", "d"}], vocab)
    assert [set(ts[i]) for i in range(len(ts))] == SETS
    assert other[0] == {"c", "d"} and len(vocab) == 5


def test_doc_freq_and_inverted_match_a_direct_count():
    ts = TermSets.build(SETS)
    assert ts.doc_freq() == {"a": 2, "b": 2, "c": 2, "a_b": 1}
    starts, rows = ts.inverted()
    for term, i in ts.vocab.ids.items():
        got = rows[starts[i] : starts[i + 1]].tolist()
        assert got == [r for r, s in enumerate(SETS) if term in s]


def test_tile_repeats_the_rows():
    ts = TermSets.build(SETS).tile(3)
    assert len(ts) == 15
    assert [set(ts[i]) for i in range(15)] == SETS * 3
    starts, rows = ts.inverted()
    i = ts.vocab.ids["c"]
    assert np.array_equal(rows[starts[i] : starts[i + 1]], [2, 3, 7, 8, 12, 13])


def test_saved_term_sets_load_back_with_one_shared_vocabulary(tmp_path):
    vocab = Vocab()
    sets = {"units": TermSets.build(SETS, vocab), "tasks": TermSets.build([{"c", "đ"}, {"a"}], vocab)}
    save_term_sets(tmp_path / "terms.npz", sets)
    back = load_term_sets(tmp_path / "terms.npz")
    assert set(back) == {"units", "tasks"}
    assert [set(back["units"][i]) for i in range(5)] == SETS and back["tasks"][0] == {"c", "đ"}
    assert back["units"].vocab is back["tasks"].vocab and back["units"].vocab.words == vocab.words


def test_terms_that_would_not_read_back_are_refused(tmp_path):
    with pytest.raises(ValueError, match="line break"):
        save_term_sets(tmp_path / "t.npz", {"x": TermSets.build([{"a\nb"}])})
    with pytest.raises(ValueError, match="share"):
        save_term_sets(tmp_path / "t.npz", {"x": TermSets.build([{"a"}]), "y": TermSets.build([{"a"}])})


def test_carried_rows_are_copied_and_the_others_extracted():
    before = TermSets.build([{"a", "b"}, set(), {"c"}, {"b", "d", "a"}])
    wanted = {1: {"e", "a"}, 4: set(), 5: {"f"}}
    src = np.array([3, -1, 0, 2, -1, -1, 1, 3])
    asked: list[int] = []
    out = TermSets.carried(before, src, lambda p: asked.append(p) or wanted[p])
    assert sorted(asked) == [1, 4, 5] and out.vocab is before.vocab
    assert [out[p] for p in range(len(out))] == [before[int(s)] if s >= 0 else frozenset(wanted[p])
                                                  for p, s in enumerate(src)]
    assert all((np.diff(out.ids[out.offsets[p] : out.offsets[p + 1]]) > 0).all() for p in range(len(out)))
    assert len(TermSets.carried(before, np.zeros(0, np.int64), lambda p: set())) == 0


def test_compacted_drops_terms_no_row_uses():
    from assistant.answer.termsets import compacted

    vocab = Vocab()
    for w in ["old1", "old2", "old3", "old4"]:
        vocab.add(w)  # terms of rows a rebuild no longer has
    sets = {"a": TermSets.build([{"x", "y"}, {"z"}], vocab), "b": TermSets.build([{"y", "w"}], vocab)}
    sets["a"].keys = np.array([7, 8])
    out = compacted(sets)
    assert out["a"].vocab is out["b"].vocab and sorted(out["a"].vocab.words) == ["w", "x", "y", "z"]
    assert [out["a"][p] for p in range(2)] == [sets["a"][p] for p in range(2)] and out["b"][0] == sets["b"][0]
    assert np.array_equal(out["a"].keys, [7, 8])
    assert all((np.diff(o.ids[o.offsets[p] : o.offsets[p + 1]]) > 0).all() for o in out.values() for p in range(len(o)))
    assert compacted(out) is out  # nothing to drop: the same sets
