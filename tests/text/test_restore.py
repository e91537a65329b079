"""Diacritic restoration learnt from the real corpus (the plans' own words)."""

import pytest

from assistant.text.normalize import fold
from assistant.text.restore import Restorer


@pytest.fixture(scope="module")
def restorer(corpus_docs):
    return Restorer.build(d.text for d in corpus_docs.values())


def test_restores_corpus_phrases(restorer):
    assert restorer.restore("so hoa ho so thu tuc hanh chinh") == "số hóa hồ sơ thủ tục hành chính"
    assert restorer.restore("phong van hoa - xa hoi") == "phòng văn hóa - xã hội"  # the corpus writes "hoá"
    assert restorer.restore("dinh ky bao cao") == "định kỳ báo cáo"
    assert restorer.restore("ky luat ky cuong") == "kỷ luật kỷ cương"


def test_neighbours_choose_the_form(restorer):
    # "nam" alone is mostly "năm" in the plans; before "gia nghia" it is the ward's name
    assert restorer.restore("ke hoach cua phuong nam gia nghia nam 2026") == "kế hoạch của phường nam gia nghĩa năm 2026"


def test_interrogatives_are_known(restorer):
    assert restorer.restore("co bao nhieu nhiem vu") == "có bao nhiêu nhiệm vụ"  # not "cơ báo nhiều"
    assert restorer.restore("chu tich ubnd phuong nghia lo ten la gi") == "chủ tịch ubnd phường nghĩa lộ tên là gì"


def test_typed_marks_unknown_words_and_punctuation_are_kept(restorer):
    assert restorer.restore("Số hoá hồ sơ") == "số hóa hồ sơ"
    assert restorer.restore("xyzzy: NĐ 118/2025?") == "xyzzy: nđ 118/2025?"
    assert restorer.restore("") == ""


def test_restored_text_folds_back_to_the_question(restorer):
    q = "ai chu tri tu cham diem chi so cai cach hanh chinh phuong nghia lo nam 2025"
    assert restorer.restore(q) == "ai chủ trì tự chấm điểm chỉ số cải cách hành chính phường nghĩa lộ năm 2025"
    assert fold(restorer.restore(q)) == q


def test_past_the_text_budget_only_the_names_of_documents_are_counted():
    small = Restorer.build([("Kế hoạch của phường Nghĩa Lộ", "phường Nghĩa Lộ"),
                            ("Cải cách hành chính phường Nam Gia Nghĩa", "Nam Gia Nghĩa")], max_chars=30)
    assert "nghĩa lộ" in small.restore("nghia lo")
    assert "nam gia nghĩa" in small.restore("nam gia nghia")
    assert "cach" not in small.unigrams  # the second text itself was not counted, only its names
