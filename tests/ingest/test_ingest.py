"""The parser on the real plans: records picked by hand from the text, exact spans, independent counts."""

import re

import pytest

from assistant.text.normalize import collapse_ws, match_key
from assistant.text.spans import quote

NL = "nghia-lo-cchc-2025"
NGN = "nam-gia-nghia-cchc-2026-2030"


def _task(parsed, doc_id, locator):
    return next(t for t in parsed[doc_id].tasks if t.locator == locator)


def test_every_body_task_of_2025_plan_is_a_record(parsed):
    body = [t for t in parsed[NL].tasks if t.source == "body"]
    # items a) … per section, counted by hand: 4 + 4 + 15 + 3 + 3 + 4 + 3
    assert len(body) == 36
    assert all(t.task and t.deadline and t.product for t in body)


def test_every_appendix_row_is_a_record(parsed, corpus_docs):
    rows = [t for t in parsed[NGN].tasks if t.source == "appendix"]
    text = corpus_docs[NGN].text
    numbered = re.findall(r"^\d{1,2}\t", text[text.index("PHỤ LỤC"):], re.MULTILINE)
    # every numbered row + one sub-row (VII.2 has a second line with its own product and deadline)
    assert len(rows) == len(numbered) + 1 == 49
    groups = {t.locator.split(" › ")[1] for t in rows}
    assert groups == {"I", "II", "III", "IV", "V", "VI", "VII"}


@pytest.mark.parametrize(
    ("doc_id", "locator", "lead", "partners", "deadline"),
    [
        (NL, "Mục II › 1 › a", "Phòng Văn hoá - Xã hội phường", "Các cơ quan, đơn vị thuộc phường",
         "Trong tháng 8 năm 2025 ban hành các Kế hoạch; định kỳ báo cáo kết quả thực hiện"),
        (NL, "Mục II › 1 › d", "Phòng Văn hoá - Xã hội phường", "Các cơ quan, đơn vị thuộc phường", "Trước 31/12/2025"),
        (NL, "Mục II › 3 › b", "Các cơ quan trực tiếp giải quyết TTHC có kiến nghị cụ thể",
         "Trung tâm Phục vụ hành chính công phường (tổng hợp thẩm định đề xuất UBND phường báo cáo)",
         "Quý III/2025 ban hành kế hoạch; Định kỳ báo cáo kết quả thực hiện theo quy định"),
        (NL, "Mục II › 3 › o", "Trung tâm Phục vụ hành chính công phường", "Các cơ quan, đơn vị có liên quan",
         "Thường xuyên trong năm"),
        (NL, "Mục II › 4 › a",
         "Các cơ quan chuyên môn, tổ chức hành chính, đơn vị sự nghiệp thuộc UBND phường",
         "Phòng Văn hoá - Xã hội phường và Văn phòng HĐND và UBND phường thực hiện thẩm định",
         "ban hành quy định chức năng nhiệm vụ hoàn thành trong tháng 7/2025; tiếp tục rà soát sửa đổi bổ sung nếu có sự thay đổi"),
        (NL, "Mục II › 6 › b", "Phòng Kinh tế, Hạ tầng và Đô thị phường", "Các cơ quan, đơn vị thuộc phường",
         "Quý III năm 2025"),
        (NL, "Mục II › 7 › b", "Phòng Văn hoá - Xã hội phường", "Các cơ quan, đơn vị thuộc phường",
         "Quý IV năm 2025 ban hành Kế hoạch; định kỳ báo cáo kết quả thực hiện"),
        (NGN, "Phụ lục › I › STT 2", "Văn phòng HĐND và UBND phường", "Các cơ quan có liên quan",
         "Trước ngày 31/01 năm liền kề"),
        (NGN, "Phụ lục › I › STT 4", "Văn phòng HĐND và UBND phường", "Phòng Văn hóa – Xã hội, các đơn vị liên quan",
         "Năm 2026"),
        (NGN, "Phụ lục › II › STT 4",
         "Theo phân công tại Quyết định số 1441/QĐ-UBND ngày 25/9/2025 của Chủ tịch UBND tỉnh", "",
         "Theo các mốc thời gian tại Quyết định số 1441/QĐ-UBND ngày 25/9/2025 của Chủ tịch UBND tỉnh"),
        (NGN, "Phụ lục › II › STT 7", "Văn phòng HĐND và UBND, Trung tâm phục vụ hành chính công",
         "Cơ quan có liên quan", "Hằng năm"),
        (NGN, "Phụ lục › VI › STT 11", "Công an phường", "Phòng Văn hóa – Xã hội", "Năm 2026"),
        (NGN, "Phụ lục › VII › STT 1", "Phòng Văn hóa – Xã hội", "Các đơn vị có liên quan góp ý",
         "Ban hành kế hoạch chậm nhất là ngày 15/4/2026 và tổ chức thực hiện"),
    ],
)
def test_hand_checked_records(parsed, doc_id, locator, lead, partners, deadline):
    t = _task(parsed, doc_id, locator)
    assert t.lead == lead
    assert t.partners == partners
    assert collapse_ws(t.deadline).rstrip(".") == deadline


def test_page_broken_row_II_4_is_merged(parsed, corpus_docs):
    t = _task(parsed, NGN, "Phụ lục › II › STT 4")
    assert t.task.startswith("Tiếp tục triển khai thực hiện Quyết định số 1441/QĐ-UBND ngày 25/9/2025")
    assert "đặc khu trên địa bàn tỉnh" in t.task
    assert t.monitor == "Trung tâm Thực vụ hành chính công"  # the source's own (garbled) words, not repaired
    task_field = t.field("task")
    assert len(task_field.spans) == 2  # the cell's two parts, either side of the repeated header
    assert "<p>" not in t.task and "STT" not in t.task


def test_every_quote_is_an_exact_span(parsed, corpus_docs):
    for doc_id, p in parsed.items():
        text = corpus_docs[doc_id].text
        for t in p.tasks:
            for f in t.fields:
                assert " ".join(quote(text, s) for s in f.spans) == f.value
                for s, e in f.spans:
                    assert text[s:e].strip() == text[s:e] and "<p>" not in text[s:e]
        for c in p.chunks:
            if c.kind != "appendix_row":
                assert quote(text, c.span) == c.text


def test_legal_reference_count_matches_an_independent_count(parsed, corpus_docs):
    for doc_id, p in parsed.items():
        squeezed = re.sub(r"\s+", "", corpus_docs[doc_id].text)
        independent = len(re.findall(r"\d+(?:/\d{4})?/(?:NĐ|QĐ|NQ|TT|KH|CT)-[A-ZĐ]", squeezed))
        independent += len(re.findall(r"\d+-NQ/TU", squeezed))
        assert len(p.legal_refs) == independent, doc_id
    canon = {r.canonical for r in parsed[NL].legal_refs}
    assert {"118/2025/NĐ-CP", "131/NQ-CP", "04-NQ/TU", "01/2023/TT-VPCP", "34/2022/QĐ-UBND"} <= canon


def test_task_legal_ids(parsed):
    t = _task(parsed, NL, "Mục II › 3 › l")
    assert set(t.legal_ids) == {"45/2020/NĐ-CP", "118/2025/NĐ-CP", "01/2023/TT-VPCP"}


def test_signature_and_title_chunks(parsed):
    sig = [c for c in parsed[NGN].chunks if c.kind == "signature"]
    assert [c.text for c in sig] == ["CHỦ TỊCH Phan Văn Quốc"]
    sig = [c for c in parsed[NL].chunks if c.kind == "signature"]
    assert [c.text for c in sig] == ["CHỦ TỊCH Trần Đình Trường"]


def test_signature_and_title_are_indexed_with_their_label(parsed):
    from assistant.search.index import unit_text

    sig = next(c for c in parsed[NL].chunks if c.kind == "signature")
    title = next(c for c in parsed[NGN].chunks if c.kind == "title")
    assert sig.heading_path == ("Chữ ký",) and title.heading_path == ("Tiêu đề",)
    assert unit_text(sig) == "Chữ ký. CHỦ TỊCH Trần Đình Trường"  # "ai ký …?" has a word to find


def test_chunk_ids_are_stable(corpus_docs):
    from assistant.ingest import ingest

    a = [c.chunk_id for c in ingest(corpus_docs[NL]).chunks]
    b = [c.chunk_id for c in ingest(corpus_docs[NL]).chunks]
    assert a == b and len(set(a)) == len(a)


def test_agency_keys_merge_variants():
    from assistant.answer.duties import agency_key

    assert agency_key("Phòng Văn hoá - Xã hội phường phường") == agency_key("Phòng Văn hóa – Xã hội")
    assert agency_key("VP HĐND và UBND") == agency_key("Văn phòng HĐND và UBND phường")
    assert agency_key("TT PVHCC") == agency_key("Trung tâm Phục vụ hành chính công")
    assert match_key("Phòng VH-XH") != agency_key("Phòng Kinh tế, Hạ tầng và Đô thị")
