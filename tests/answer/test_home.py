"""A kiosk's home locality (ASSISTANT_HOME_LOCALITY): questions that name no place prefer that ward's plans and
the answer says which ward it comes from; a question naming a place, or a subject only another ward's plan
covers, is still answered from the right plan."""

from __future__ import annotations

import copy

import pytest

from assistant.answer.catalog import home_documents, ward_name
from assistant.answer.compose import Answerer
from assistant.errors import ConfigError

NGHIA_LO, NAM_GIA_NGHIA = "nghia-lo-cchc-2025", "nam-gia-nghia-cchc-2026-2030"


def answerer(assistant, home: str) -> Answerer:
    settings = assistant.settings.model_copy(update={"home_locality": home})
    return Answerer(assistant.index, assistant.retriever, settings)


def cited_docs(answer) -> set[str]:
    return {c.doc_id for c in answer.citations}


@pytest.mark.parametrize("home", ["Nghĩa Lộ", "phường Nghĩa Lộ", "NGHIA LO", "  nghia   lo ", "UBND phường Nghĩa Lộ"])
def test_home_locality_accepts_any_spelling_of_the_ward(assistant, home):
    assert home_documents(assistant.index, home) == [NGHIA_LO]


def test_no_home_locality_means_no_preference(assistant):
    assert home_documents(assistant.index, "") == [] and assistant.answerer.home_docs == []


def test_unknown_home_locality_is_a_clear_setup_error(assistant):
    with pytest.raises(ConfigError, match=r"ASSISTANT_HOME_LOCALITY='Hải Châu'.*Nam Gia Nghĩa, Nghĩa Lộ"):
        answerer(assistant, "Hải Châu")


def test_ward_name_comes_from_the_issuer(assistant):
    assert ward_name(assistant.index.docs[NGHIA_LO]) == "phường Nghĩa Lộ"
    assert ward_name(assistant.index.docs[NAM_GIA_NGHIA]) == "phường Nam Gia Nghĩa"


@pytest.mark.parametrize(("home", "doc_id", "ward"), [("Nghĩa Lộ", NGHIA_LO, "phường Nghĩa Lộ"),
                                                     ("Nam Gia Nghĩa", NAM_GIA_NGHIA, "phường Nam Gia Nghĩa")])
@pytest.mark.parametrize("question", ["ai ky ke hoach", "Trung tâm Phục vụ hành chính công phải làm những việc gì?"])
def test_a_question_naming_no_place_is_answered_from_the_home_ward(assistant, home, doc_id, ward, question):
    without = assistant.answerer.ask(question)
    assert cited_docs(without) == {NGHIA_LO, NAM_GIA_NGHIA}  # both plans answer it when there is no home
    answer = answerer(assistant, home).ask(question)
    assert not answer.abstained
    assert cited_docs(answer) == {doc_id} and answer.localities == [ward]
    assert not answer.answer.startswith("Tài liệu của")


def test_home_ward_is_preferred_for_a_task_both_plans_have(assistant):
    question = "Ai chủ trì số hóa hồ sơ thủ tục hành chính?"
    for home, doc_id in (("Nghĩa Lộ", NGHIA_LO), ("Nam Gia Nghĩa", NAM_GIA_NGHIA)):
        answer = answerer(assistant, home).ask(question)
        assert cited_docs(answer) == {doc_id}, home
        assert "Cơ quan chủ trì" in answer.answer


def test_subject_only_another_ward_covers_is_answered_from_it_and_says_so(assistant):
    question = "Kết nối IOC phường với trung tâm IOC tỉnh hoàn thành khi nào?"
    assert cited_docs(assistant.answerer.ask(question)) == {NAM_GIA_NGHIA}
    answer = answerer(assistant, "Nghĩa Lộ").ask(question)
    assert not answer.abstained and cited_docs(answer) == {NAM_GIA_NGHIA}
    assert answer.localities == ["phường Nam Gia Nghĩa"]
    assert answer.answer.startswith("Tài liệu của phường Nghĩa Lộ không nêu nội dung này")
    assert "Trong năm 2026" in answer.answer


def test_a_question_naming_another_ward_is_answered_from_that_ward(assistant):
    answer = answerer(assistant, "Nghĩa Lộ").ask("Ai chủ trì số hóa hồ sơ của phường Nam Gia Nghĩa?")
    assert cited_docs(answer) == {NAM_GIA_NGHIA} and not answer.answer.startswith("Tài liệu của")


def test_out_of_corpus_question_still_abstains_with_a_home(assistant):
    answer = answerer(assistant, "Nghĩa Lộ").ask("Lịch tiêm chủng cho trẻ em?")
    assert answer.abstained and answer.citations == [] and answer.localities == []


def test_home_from_the_environment_reaches_the_api_and_the_ui(assistant, monkeypatch):
    """ASSISTANT_HOME_LOCALITY → settings → the served answer's ``localities`` (an extra field) and the UI header."""
    from fastapi.testclient import TestClient

    from assistant.serve.api import create_app
    from assistant.serve.ui import _home_line
    from assistant.settings import Settings

    monkeypatch.setenv("ASSISTANT_HOME_LOCALITY", "nghia lo")
    kiosk = copy.copy(assistant)
    kiosk.settings = Settings(index_dir=assistant.settings.index_dir, cache_dir=assistant.settings.cache_dir,
                              corpus_dir=assistant.settings.corpus_dir)
    kiosk._wire(assistant.index)
    client = TestClient(create_app(kiosk, with_ui=False))
    body = client.post("/api/ask", json={"question": "ai ky ke hoach"}).json()
    assert body["localities"] == ["phường Nghĩa Lộ"] and {c["doc_id"] for c in body["citations"]} == {NGHIA_LO}
    assert "phường Nghĩa Lộ" in _home_line(kiosk) and _home_line(assistant) == ""


def kiosk_of(assistant, home: str):
    kiosk = copy.copy(assistant)
    kiosk.settings = assistant.settings.model_copy(update={"home_locality": home})
    kiosk._wire(assistant.index)
    return kiosk


@pytest.mark.parametrize(("home", "doc_id"), [("Nghĩa Lộ", NGHIA_LO), ("Nam Gia Nghĩa", NAM_GIA_NGHIA)])
def test_search_puts_the_home_wards_near_best_hits_first(assistant, home, doc_id):
    question = "Ai chủ trì số hóa hồ sơ thủ tục hành chính?"  # a task both plans have
    plain = assistant.search(question, top_k=10)
    kiosk = kiosk_of(assistant, home)
    hits = kiosk.search(question, top_k=10)
    assert hits[0].doc_id == doc_id and len(hits) == 10
    margin = 0.1 * max(h.score for h in plain)  # a home hit ranks as if it scored 10 % of the best higher
    keys = [h.score + (margin if h.doc_id == doc_id else 0.0) for h in hits]
    assert keys == sorted(keys, reverse=True)
    assert plain[0].doc_id != doc_id or hits[0] == plain[0]
    other = NAM_GIA_NGHIA if doc_id == NGHIA_LO else NGHIA_LO
    named = kiosk.search(f"Ai chủ trì số hóa hồ sơ ở phường {assistant.index.docs[other].locality}?", top_k=3)
    assert named[0].doc_id == other  # a question naming a place: no preference
    assert [h.unit_id for h in kiosk.search(question, top_k=5, doc_id=other)] == \
        [h.unit_id for h in assistant.search(question, top_k=5, doc_id=other)]
