"""Unit tests for evals.metrics: each would fail if the metric were computed the wrong way."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `pytest` without `python -m`

from evals.metrics import (  # noqa: E402
    abstention_pr,
    answer_correct,
    citation_supported,
    collapse,
    evidence_in,
    evidence_rank,
    item_matches,
    mrr,
    norm,
    percentile,
    quote_in_source,
    recall_at,
    set_pr,
    verbatim,
)

NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731


# --- norm -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Văn hoá – Xã hội", "van hoa - xa hoi"),  # en dash, old tone placement, accents
        ("Văn hóa — Xã hội", "VAN HOA-XA HOI"),  # em dash, new tone placement, case
        ("Quý IV/2025", "quý iv / 2025"),  # spaces around "/"
        ("Đảng ủy phường", "dang uy phuong"),  # đ → d, ủ → u
        ("Phòng Kinh tế,   Hạ tầng\nvà Đô thị.", "phong kinh te, ha tang va do thi"),  # whitespace, final "."
        ("Ủy ban nhân dân phường Nghĩa Lộ", NFD("Ủy ban nhân dân phường Nghĩa Lộ")),  # NFD input
        ("Trước 31/12/2025;", "truoc 31 / 12 / 2025"),
        ("Sở Nội vụ\u2212tỉnh", "so noi vu - tinh"),  # minus sign as a dash
        ("\u201cMột cửa\u201d", '"mot cua"'),  # curly quotes
    ],
)
def test_norm_equates_vietnamese_variants(a: str, b: str) -> None:
    assert norm(a) == norm(b)


def test_norm_exact_forms() -> None:
    assert norm("Phòng Văn hoá – Xã hội.") == "phong van hoa-xa hoi"
    assert norm(NFD("Nghĩa Lộ")) == "nghia lo"
    assert norm("ư ơ ă â ê ô") == "u o a a e o"
    assert norm("  a \u200b b  ") == "a b"
    assert norm(None) == "" and norm("") == "" and norm(" . ") == ""


def test_norm_keeps_meaningful_differences() -> None:
    assert norm("Quý IV/2025") != norm("Quý IV/2026")
    assert norm("Phòng Văn hóa - Xã hội") != norm("Phòng Kinh tế")
    assert norm("2025") != norm("20 25")  # inner spaces are not dropped (only around - and /)


# --- answer_correct / citation_supported ----------------------------------------------------------------

def test_answer_correct_substring_any_gold() -> None:
    answer = "Cơ quan chủ trì: Phòng Văn hoá – Xã hội phường; phối hợp: các cơ quan, đơn vị."
    assert answer_correct(answer, ["van hoa - xa hoi"])
    assert answer_correct(answer, ["Phòng Kinh tế", "Phòng Văn hóa-Xã hội."])  # any alternative
    assert answer_correct(NFD(answer), ["phòng văn hóa - xã hội"])
    assert not answer_correct(answer, ["Phòng Kinh tế"])
    assert not answer_correct(answer, [])  # no gold → never correct
    assert not answer_correct("", ["x"])
    assert not answer_correct(answer, [""])  # an empty gold must not match everything


def test_answer_correct_quarter() -> None:
    assert answer_correct("Thời hạn: Quý IV/2025.", ["quý iv / 2025"])
    assert not answer_correct("Thời hạn: Quý III/2025.", ["quý iv / 2025"])


def test_citation_supported() -> None:
    quotes = ["- Cơ quan chủ trì thực hiện: Phòng Văn hoá - Xã hội phường.", "- Sản phẩm: Báo cáo."]
    assert citation_supported(quotes, ["Văn hóa – Xã hội"])
    assert not citation_supported(quotes, ["Phòng Kinh tế"])
    assert not citation_supported([], ["Văn hóa – Xã hội"])
    # a value split over two quotes (page break) is supported when read together
    assert citation_supported(["Phòng Văn hoá -", "Xã hội phường"], ["Văn hóa - Xã hội"])


# --- evidence_rank ----------------------------------------------------------------------------------------

def test_evidence_rank_is_first_containing_hit() -> None:
    hits = ["Mục I. Mục đích", "Cơ quan chủ trì: Phòng Văn hoá - Xã hội", "Phòng Văn hoá – Xã hội phường"]
    assert evidence_rank(hits, "phong van hoa-xa hoi") == 2
    assert evidence_rank(hits, "Phòng Tư pháp") is None
    assert evidence_rank(hits, "") is None
    assert evidence_rank([], "x") is None
    assert evidence_rank(hits, ["Mục đích", "Phòng Tư pháp"]) == 1  # list evidence → first element


def test_evidence_rank_long_evidence_by_shingles() -> None:
    evidence = ("Tổ chức kiểm tra công tác cải cách hành chính năm 2025 tại một số cơ quan, đơn vị "
                "thuộc phường theo kế hoạch được phê duyệt")
    cut = evidence[:-12]  # the hit lost the excerpt's tail at a chunk boundary: ~90% of shingles remain
    assert evidence_in(cut, evidence)
    assert evidence_rank(["khác hẳn", cut], evidence) == 2
    half = evidence[: len(evidence) // 2]
    assert not evidence_in(half, evidence)
    # short evidence must be contained: no shingle leniency
    assert not evidence_in("Quý IV/202", "Quý IV/2025")


def test_recall_and_mrr() -> None:
    ranks = [1, 3, None, 10, 2]
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(4 / 5)
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 10 + 1 / 2) / 5)
    assert recall_at([], 5) == 0.0 and mrr([]) == 0.0
    assert mrr([None, None]) == 0.0


# --- verbatim ---------------------------------------------------------------------------------------------

SOURCE = "- Cơ quan chủ trì thực hiện: Phòng Văn hoá - Xã hội \n\n phường. \n - Sản phẩm: Kế hoạch"


def test_verbatim_accepts_exact_collapsed_span() -> None:
    start = SOURCE.index("Phòng")
    end = SOURCE.index("phường.") + len("phường.")
    assert verbatim("Phòng Văn hoá - Xã hội phường.", SOURCE, start, end)


def test_verbatim_rejects_any_difference() -> None:
    start = SOURCE.index("Phòng")
    end = SOURCE.index("phường.") + len("phường.")
    assert not verbatim("Phòng Văn hóa - Xã hội phường.", SOURCE, start, end)  # retoned
    assert not verbatim("Phòng Văn hoá – Xã hội phường.", SOURCE, start, end)  # dash changed
    assert not verbatim("phòng văn hoá - xã hội phường.", SOURCE, start, end)  # case changed
    assert not verbatim(NFD("Phòng Văn hoá - Xã hội phường."), SOURCE, start, end)  # NFD ≠ NFC source
    assert not verbatim("Phòng Văn hoá - Xã hội phường.", SOURCE, start + 1, end)  # offsets off by one
    assert not verbatim("Phòng Văn hoá - Xã hội phường.", SOURCE, start, len(SOURCE) + 5)
    assert not verbatim("", SOURCE, 3, 3)
    assert not verbatim("", "a \n\n b", 1, 4)  # a blank span is never a quote
    assert not verbatim("Phòng", SOURCE, None, None)  # type: ignore[arg-type]


def test_quote_in_source() -> None:
    assert quote_in_source("Xã hội phường. - Sản phẩm", SOURCE)
    assert not quote_in_source("Xã hội phường - Sản phẩm", SOURCE)
    assert not quote_in_source("", SOURCE)
    assert collapse(" a \n b\t") == "a b"


# --- abstention / sets / percentile -----------------------------------------------------------------------

def test_abstention_pr() -> None:
    pairs = [(True, True), (True, False), (False, True), (False, False), (False, False), (True, True)]
    precision, recall = abstention_pr(pairs)
    assert precision == pytest.approx(2 / 3)  # 2 right abstentions of 3 made
    assert recall == pytest.approx(2 / 3)  # 2 of 3 unanswerable caught
    assert abstention_pr([(False, False)]) == (1.0, 1.0)
    assert abstention_pr([(True, False)]) == (1.0, 0.0)
    assert abstention_pr([(False, True)]) == (0.0, 1.0)


def test_item_matches() -> None:
    assert item_matches("Tổ chức kiểm tra công tác cải cách hành chính năm 2025", "kiem tra cong tac cai cach")
    assert item_matches("rà soát", "Rà soát, đánh giá thủ tục hành chính")  # predicted contained in expected
    # fuzzy: a quote that lost the excerpt's tail, or has a page number inside, still matches
    assert item_matches("Tổ chức kiểm tra công tác cải cách hành chính năm 20",
                        "kiểm tra công tác cải cách hành chính năm 2025")
    assert item_matches("Rà soát, đánh giá thủ tục 12 hành chính nội bộ", "Rà soát, đánh giá thủ tục hành chính nội bộ")
    # …but sharing the domain phrase "cải cách hành chính" is not enough
    assert not item_matches("Tổ chức kiểm tra công tác cải cách hành chính", "Tuyên truyền cải cách hành chính")
    assert not item_matches("Số hóa hồ sơ", "Tuyên truyền cải cách hành chính")
    assert not item_matches("Quý III/2025 ban hành", "Quý IV/2025")  # short items must be contained
    assert not item_matches("", "x")


def test_set_pr_one_to_one() -> None:
    expected = ["Kế hoạch tuyên truyền cải cách hành chính", "kiểm tra công tác cải cách hành chính", "số hóa hồ sơ"]
    predicted = ["Xây dựng Kế hoạch tuyên truyền cải cách hành chính năm 2025",
                 "Tổ chức kiểm tra công tác cải cách hành chính năm 2025", "Đo lường sự hài lòng"]
    assert set_pr(predicted, expected) == pytest.approx((2 / 3, 2 / 3))
    # a duplicated prediction matches only once
    assert set_pr([predicted[0], predicted[0]], expected) == pytest.approx((1 / 2, 1 / 3))
    assert set_pr([], expected) == (0.0, 0.0)
    assert set_pr([], []) == (1.0, 1.0)
    assert set_pr(["a b c"], []) == (0.0, 1.0)


def test_set_pr_maximum_matching_not_greedy() -> None:
    # the first prediction matches both expected items; greedy would take "ab" and miss the second pairing
    expected = ["kế hoạch", "kế hoạch tuyên truyền"]
    predicted = ["xây dựng kế hoạch tuyên truyền", "kế hoạch kiểm tra"]
    assert set_pr(predicted, expected) == (1.0, 1.0)


def test_percentile() -> None:
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert percentile(values, 50) == pytest.approx(55.0)
    assert percentile(values, 95) == pytest.approx(95.5)
    assert percentile(values, 0) == 10 and percentile(values, 100) == 100
    assert percentile(reversed(values), 50) == pytest.approx(55.0)  # order does not matter
    assert percentile([7], 95) == 7
    assert percentile([], 50) == 0.0
    with pytest.raises(ValueError):
        percentile([1], 101)
