"""The term sets the answer stage needs are stored with each build and read back at load (not extracted again
at start-up); sets that no longer match the code that draws terms are recomputed."""

from __future__ import annotations

import numpy as np

from assistant.answer.compose import unit_term_sets
from assistant.answer.termsets import TermSets, load_term_sets, save_term_sets
from assistant.search.index import current_build, load_index
from assistant.search.rescore import rescore_term_sets

NAMES = {"answer.unit_terms", "answer.task_terms", "rescore.terms", "rescore.marked"}


def test_build_stores_every_term_set_and_load_uses_them(assistant, settings):
    stored = load_term_sets(current_build(settings.index_dir) / "terms.npz")
    assert set(stored) == NAMES
    index = load_index(settings)
    units, tasks = unit_term_sets(index)
    terms, marked = rescore_term_sets(index)
    assert units is index.__dict__["_stored_terms"]["answer.unit_terms"]  # read, not recomputed
    assert marked is index.__dict__["_stored_terms"]["rescore.marked"]
    served_units, _ = unit_term_sets(assistant.index)  # what the serving index (same build) holds
    assert all(units[p] == served_units[p] for p in range(len(index.units)))
    assert len(units) == len(index.units) and len(tasks) == len(index.tasks) and len(terms) == len(index.units)


def test_stale_stored_sets_are_recomputed(assistant, settings, tmp_path):
    build = current_build(settings.index_dir)
    stored = load_term_sets(build / "terms.npz")
    good = stored["answer.unit_terms"]
    # a build whose unit term sets were drawn differently: every row holds one made-up term
    vocab = good.vocab
    bogus = TermSets(vocab, np.arange(len(good) + 1, dtype=np.int64), np.full(len(good), vocab.add("zzz"), np.int32))
    save_term_sets(build / "terms.npz", {**stored, "answer.unit_terms": bogus})
    try:
        index = load_index(settings)
        units, _ = unit_term_sets(index)
        assert units is not index.__dict__["_stored_terms"]["answer.unit_terms"]
        assert all(units[p] == good[p] for p in range(len(good)))
    finally:
        save_term_sets(build / "terms.npz", stored)


def test_a_rebuild_carries_over_the_rows_whose_text_it_already_held(assistant, tmp_path, monkeypatch):
    """Rows are keyed by a hash of their text: rebuilding an unchanged corpus extracts no unit's terms again
    (beyond the sample that checks the carried rows), and the carried sets equal freshly extracted ones."""
    from assistant.answer import compose
    from assistant.search.index import build_index
    from assistant.settings import Settings

    settings = Settings(index_dir=tmp_path / "index", cache_dir=assistant.settings.cache_dir)
    build_index(settings, embedder=assistant.embedder)
    first = load_term_sets(current_build(settings.index_dir) / "terms.npz")
    calls = []
    real = compose.terms
    monkeypatch.setattr(compose, "terms", lambda text: calls.append(text) or real(text))
    build_index(settings, embedder=assistant.embedder)
    second = load_term_sets(current_build(settings.index_dir) / "terms.npz")
    n_units, n_tasks = len(first["answer.unit_terms"]), len(first["answer.task_terms"])
    assert 0 < len(calls) <= 2 * 33 < n_units + n_tasks  # the sample checks only
    for name in NAMES:
        assert np.array_equal(first[name].keys, second[name].keys)
        assert all(first[name][p] == second[name][p] for p in range(len(first[name])))
    units, _ = unit_term_sets(assistant.index)
    assert all(second["answer.unit_terms"][p] == units[p] for p in range(n_units))
