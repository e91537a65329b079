"""Second retrieval stage (search.rescore) on the real index: what hybrid search puts first, and what it costs."""

from __future__ import annotations

import pytest

from assistant.search.rescore import DEPTH, Rescorer
from assistant.search.store import Filters


def top(assistant, question: str, k: int = 1, **kw) -> list[tuple[str, str]]:
    return [(h.doc_id, h.locator) for h in assistant.retriever.search(question, k, **kw)]


@pytest.mark.parametrize("variant", ["Ai chủ trì số hóa hồ sơ?", "ai chu tri so hoa ho so", "AI  CHU TRI SO HOA HO SO",
                                     "ai chủ trì số hoá hồ sơ"])
def test_unaccented_and_cased_questions_rank_the_same_task_first(assistant, variant):
    assert top(assistant, variant) == [("nghia-lo-cchc-2025", "Mục II › 3 › l")]


@pytest.mark.parametrize("question", ["NĐ 118/2025 được viện dẫn ở đâu?",
                                      "Nghị định số 118/2025/NĐ-CP được viện dẫn ở đâu?",
                                      "nghi dinh 118/2025/nd-cp duoc vien dan o dau"])
def test_legal_id_variants_find_the_same_units(assistant, question):
    assert top(assistant, question, 2) == [("nghia-lo-cchc-2025", "Mục II › 3 › l"),
                                           ("nam-gia-nghia-cchc-2026-2030", "Mục II › 2 › a › đoạn 4")]


def test_signer_question_brings_the_signature_block(assistant):
    hits = assistant.retriever.search("Ai ký kế hoạch của phường Nghĩa Lộ?", 2)
    assert hits[0].kind == "signature" and hits[0].doc_id == "nghia-lo-cchc-2025"
    assert any(h.kind == "signature" for h in assistant.retriever.search("ai ky ke hoach cua phuong nghia lo", 2))


def test_hits_carry_rescore_signals_and_descend(assistant):
    hits = assistant.retriever.search("Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu?", 10)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all({"fused", "coverage", "document"} <= set(h.signals) for h in hits)


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_list_questions_come_in_reading_order_with_non_increasing_scores(assistant, mode):
    question = "Nghị định 63/2010/NĐ-CP về kiểm soát TTHC được kế hoạch Nghĩa Lộ dẫn ở nhiệm vụ nào?"
    hits = assistant.retriever.search(question, 10, mode=mode)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    lifted = [i for i, h in enumerate(hits) if "own_score" in h.signals]
    assert lifted, "this list question reorders its best units into reading order"
    head = hits[: max(lifted) + 1]
    starts = [h.span[0] for h in head if h.doc_id == head[0].doc_id]
    assert starts == sorted(starts)


def test_rescore_keeps_every_fused_candidate_and_respects_kinds(assistant):
    r = assistant.retriever
    question = "Phụ lục: ai chủ trì rà soát văn bản quy phạm pháp luật?"
    fused = r.fused(question, DEPTH)
    positions = [r.pos[f.id] for f in fused]
    out = Rescorer(assistant.index).rescore(question, [(p, f.score) for p, f in zip(positions, fused, strict=True)])
    assert set(positions) <= {x.pos for x in out}
    only_rows = r.search(question, 20, filters=Filters(kinds=("appendix_row",)))
    assert only_rows and all(h.kind == "appendix_row" for h in only_rows)


def test_lexical_mode_never_embeds_and_hybrid_does(assistant, monkeypatch):
    r = assistant.retriever
    calls: list[str] = []
    real = r._query_vector
    monkeypatch.setattr(r, "_query_vector", lambda text: calls.append(text) or real(text))
    lexical = r.search("ai chu tri so hoa ho so", 5, mode="lexical")
    assert lexical and calls == []
    r.search("ai chu tri so hoa ho so", 5, mode="hybrid")
    assert calls == ["ai chủ trì số hóa hồ sơ"]  # the encoder sees the question with its diacritics restored


def test_bm25_and_dense_modes_are_single_legs(assistant):
    for mode in ("bm25", "dense"):
        hits = assistant.retriever.search("số hóa hồ sơ", 5, mode=mode)
        assert hits and all(set(h.ranks) == {mode} for h in hits)


@pytest.mark.parametrize("mode", ["bm25", "lexical", "dense"])
def test_one_leg_fusion_shortcut_equals_fuse(assistant, mode):
    """One leg needs no fusion: the shortcut returns exactly what ``fuse`` does (ids, scores, ranks)."""
    from assistant.search.fusion import RRF_K, fuse

    r = assistant.retriever
    for question in ["ai chu tri so hoa ho so", "Trung tâm Phục vụ hành chính công làm những việc gì?"]:
        legs = r.legs(question, r.depth, None, mode)
        leg = {n: [i for i in ids if i in r.pos] for n, ids in legs.items()}
        assert r.fused(question, 50, None, mode) == fuse(leg, dict.fromkeys(leg, 1.0), 50, RRF_K,
                                                         tiebreak=r.pos.__getitem__)
