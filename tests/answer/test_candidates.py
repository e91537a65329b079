"""How the answer stage gathers candidates: BM25, then the re-scored lexical leg, and the encoder only when it
could change the answer (the coverage bound is exact, so skipping it changes nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answer.analyze import analyze
from assistant.answer.evidence import coverage

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [json.loads(x)["question"] for x in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines() if x]


def question(answerer, text: str):
    q = analyze(text)
    q.topic = answerer.catalog.topic_without_names(q)
    return q


@pytest.mark.parametrize("text", QUESTIONS[::9])
def test_coverage_bound_is_the_best_unit_coverage(assistant, text):
    ans = assistant.answerer
    q = question(ans, text)
    acts = [f"§{k}" for k in q.legal_keys[:1]]
    best = max(coverage(q.topic + acts, ans.unit_terms[p] | ({f"§{k}" for k in ans.unit_legal.get(p, set())} if acts else set()),
                        ans.idf) for p in range(len(assistant.index.units)))
    assert ans._coverage_bound(q) == pytest.approx(best, abs=1e-12)


@pytest.fixture
def embeds(assistant, monkeypatch):
    r = assistant.retriever
    calls: list[str] = []
    real = r._query_vector
    monkeypatch.setattr(r, "_query_vector", lambda text: calls.append(text) or real(text))
    return calls


def test_a_question_the_lexical_evidence_answers_does_not_embed(assistant, embeds):
    answer = assistant.ask("ai chu tri so hoa ho so o phuong Nghia Lo")
    assert not answer.abstained and "Các cơ quan giải quyết TTHC" in answer.answer
    assert embeds == []


def test_a_question_no_unit_can_cover_abstains_without_embedding(assistant, embeds):
    answer = assistant.ask("Lệ phí cấp căn cước công dân là bao nhiêu?")
    assert answer.abstained and answer.citations == []
    assert embeds == []


def test_the_encoder_is_consulted_when_coverage_is_weak_but_possible(assistant, embeds):
    text = "Trong kế hoạch CCHC 2025 của Nghĩa Lộ, ai chủ trì kết nối IOC phường với IOC tỉnh?"
    q = question(assistant.answerer, text)
    assert assistant.answerer._coverage_bound(q) >= assistant.settings.abstain_threshold
    assistant.answerer._candidates(q, assistant.answerer.catalog.doc_hint(q))
    assert len(embeds) == 1


def test_a_subject_only_another_plan_covers_is_pointed_there(assistant):
    answer = assistant.ask("Nam Gia Nghĩa: kiểm tra công tác cải cách hành chính năm 2025 tại một số cơ quan do ai "
                           "chủ trì?")
    assert answer.abstained
    assert "nội dung gần nhất nằm trong Kế hoạch cải cách hành chính năm 2025 của UBND phường Nghĩa Lộ" in answer.answer


def test_the_corpus_wide_search_runs_only_when_another_plan_could_cover_better(assistant, monkeypatch):
    """A question naming a plan is searched corpus-wide too (``_elsewhere``) only when the coverage bound leaves
    room for another plan to cover it ELSEWHERE_MARGIN better: at a million units that search is the cost."""
    from assistant.answer import compose

    ans = assistant.answerer
    calls: list[str | None] = []
    real = compose.Answerer._candidates
    monkeypatch.setattr(compose.Answerer, "_candidates",
                        lambda self, q, doc_id, k=12: calls.append(doc_id) or real(self, q, doc_id, k))
    answer = ans.ask("Nam Gia Nghĩa đặt mục tiêu mức độ hài lòng của người dân đến năm 2030 là bao nhiêu?")
    assert not answer.abstained and None not in calls and calls
    calls.clear()
    ans.ask("Nam Gia Nghĩa: kiểm tra công tác cải cách hành chính năm 2025 tại một số cơ quan do ai chủ trì?")
    assert None in calls
