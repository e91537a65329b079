"""BM25 built from per-document term counts and read straight from the score matrix: the same matrix bm25s
builds, the same scores as bm25s computes, and a filtered search (few allowed units, entries sought per unit)
gives each unit exactly the score the full pass gives it."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.search.index import unit_text
from assistant.search.lexical import Lexical
from assistant.search.termcounts import TermCounts
from assistant.text.segment import query_tokens, tokens

QUESTIONS = ["Ai chủ trì số hóa hồ sơ thủ tục hành chính?", "ai chu tri so hoa ho so",
             "Nghị định 118/2025/NĐ-CP", "tỷ lệ hồ sơ trực tuyến toàn trình", "xyzzy không có từ nào"]


@pytest.fixture(scope="module")
def lexical(assistant):
    return assistant.index.lexical


def columns_by_term(retriever) -> dict[str, tuple[list[int], list[float]]]:
    s = retriever.scores
    return {t: (s["indices"][s["indptr"][i] : s["indptr"][i + 1]].tolist(), s["data"][s["indptr"][i] : s["indptr"][i + 1]].tolist())
            for t, i in retriever.vocab_dict.items() if t}  # bm25s gives "" no column


def test_matrix_from_term_counts_is_bm25s_s_bit_for_bit(assistant):
    import bm25s

    units = assistant.index.units
    toks = [tokens(unit_text(u)) for u in units]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(toks, show_progress=False)
    expected = columns_by_term(reference)
    assert columns_by_term(Lexical.build(toks)._bm25) == expected
    cuts = [0, 1, 1, 40, 150, len(toks)]  # in parts (one per document, some empty), as a build assembles it
    parts = [TermCounts.of(toks[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert columns_by_term(Lexical.from_counts(parts)._bm25) == expected


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_match_bm25s(lexical, question):
    toks = query_tokens(question)
    known = [t for t in toks if t in lexical._bm25.vocab_dict]
    expected = lexical._bm25.get_scores(known) if known else np.zeros(lexical.size)
    assert np.allclose(lexical.scores(toks), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("size", [1, 5, 40, 150])
def test_scores_of_allowed_units_equal_the_full_pass(lexical, question, size):
    rng = np.random.default_rng(size)
    allowed = np.sort(rng.choice(lexical.size, size=size, replace=False))
    toks = query_tokens(question)
    full = lexical.scores(toks)
    assert np.array_equal(lexical.scores_at(toks, allowed), full[allowed])  # bit for bit: same adding order
    pos, scores = lexical.candidates(toks, 10, allowed)
    assert np.array_equal(pos, allowed[full[allowed] > 0]) and np.array_equal(scores, full[pos])


def test_a_repeated_query_token_counts_again(assistant):
    lex = Lexical.build([tokens(unit_text(u)) for u in assistant.index.units[:50]])
    once, twice = lex.scores(["ho_so"]), lex.scores(["ho_so", "ho_so"])
    assert once.max() > 0 and np.allclose(twice, 2 * once)


def test_corpus_wide_candidates_hold_the_top_k_with_their_scores():
    from assistant.search.lexical import _threshold

    rng = np.random.default_rng(0)
    scores = np.where(rng.random(200_000) < 0.7, rng.gamma(2.0, 1.0, 200_000), 0).astype(np.float32)
    for k in (1, 100, 1000, 3000):
        t = _threshold(scores, k)
        kept = np.flatnonzero(scores >= t)
        assert t > 0 and len(kept) >= k and len(kept) < 10 * k + 200  # at least k, and not many more
        assert set(np.argsort(-scores, kind="stable")[:k].tolist()) <= set(kept.tolist())
    few = np.zeros(200_000, np.float32)
    few[:5] = 1.0
    assert np.count_nonzero(few >= _threshold(few, 1000)) == 5  # fewer than k match: all of them
