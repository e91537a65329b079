"""Numeric targets and the conflicts between the 2026–2030 plan's objectives and its appendix."""

import pytest

from assistant.answer.figures import Figures, has_quantity, wanted_unit


def test_the_three_objective_vs_appendix_conflicts_are_found(assistant):
    pairs = Figures(assistant.index).all_conflicts()
    found = sorted((a.locator, a.value, b.locator, b.value) for a, b in pairs)
    assert found == [
        ("Mục II › 6 › a › đoạn 6", "95%", "Phụ lục › VI › STT 10", "90%"),
        ("Mục II › 6 › a › đoạn 6", "98%", "Phụ lục › VI › STT 10", "90%"),
        ("Mục II › 6 › a › đoạn 7", "95%", "Phụ lục › VI › STT 10", "90%"),
    ]


@pytest.mark.parametrize(
    ("question", "values"),
    [
        ("Tỷ lệ số hóa hồ sơ, kết quả giải quyết TTHC các cấp đạt tối thiểu bao nhiêu?", {"98%", "90%"}),
        ("ty le khai thac, su dung lai thong tin du lieu so hoa dat bao nhieu phan tram", {"95%", "90%"}),
        ("Tỷ lệ hồ sơ trực tuyến toàn trình phải đạt bao nhiêu %?", {"95%", "90%"}),
    ],
)
def test_answers_give_both_values_with_both_sources(assistant, question, values):
    ans = assistant.ask(question)
    assert not ans.abstained and ans.conflicts
    assert values <= {v["value"] for c in ans.conflicts for v in c["values"]}
    assert all(v in ans.answer for v in values) and "khác nhau" in ans.answer
    assert {c.locator for c in ans.citations} >= {"Phụ lục › VI › STT 10"}


def test_quantity_units():
    assert wanted_unit("ty le ho so dat bao nhieu") == "%"
    assert wanted_unit("bao nhieu tien") == "tien"
    assert has_quantity("đạt tối thiểu 97%", "%") and not has_quantity("năm 2025", "%")
    assert not has_quantity("Quyết định số 1441/QĐ-UBND ngày 25/9/2025", None)  # ids and dates are not amounts
