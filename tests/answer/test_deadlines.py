"""Deadlines as data: every deadline of both plans, hand-checked parses, window rules, source spans."""

from datetime import date

import pytest

from assistant.answer.deadlines import DATED, KINDS, in_window, occurrences, parse, task_milestones
from assistant.text.normalize import collapse_ws

Y2025, Y2630 = (2025, 2025), (2026, 2030)


def one(text, period=Y2025):
    ms = parse(text, period)
    assert len(ms) == 1, ms
    return ms[0]


def test_every_deadline_of_both_plans_parses(assistant):
    tasks = [t for t in assistant.index.tasks if t.deadline]
    assert len(tasks) == len(assistant.index.tasks) >= 80
    for t in tasks:
        doc = assistant.index.docs[t.doc_id]
        ms = task_milestones(t, doc)
        assert ms, t.deadline
        for m in ms:
            assert m.kind in KINDS
            assert m.text and collapse_ws(m.text) in t.deadline
            if m.kind in DATED:  # a dated milestone has a due day inside (or at the edge of) the plan's period
                assert m.end is not None and doc.year_from <= m.end.year <= doc.year_to, (t.deadline, m)
            else:
                assert m.rrule is None
                # never a date for a condition: bounds only when a year is written in the clause itself
                assert m.start is None or str(m.start.year) in m.text or "trong năm" in m.text.lower(), m
            # spans point at the words (a cell split over a page break keeps the part before the break)
            quoted = collapse_ws(doc.text[m.span[0] : m.span[1]])
            assert quoted and collapse_ws(m.text).startswith(quoted), (quoted, m.text)


def test_both_plans_have_every_kind(assistant):
    kinds = {m.kind for t in assistant.index.tasks for m in task_milestones(t, assistant.index.docs[t.doc_id])}
    assert kinds == set(KINDS) - {"date"}  # no bare exact day in these plans: days come with "trước"/"chậm nhất"


@pytest.mark.parametrize(
    ("text", "period", "kind", "start", "end", "action"),
    [
        ("Quý IV năm 2025 ban hành Kế hoạch và triển khai thực hiện theo kế hoạch", Y2025, "quarter",
         date(2025, 10, 1), date(2025, 12, 31), "ban hành Kế hoạch"),
        ("Trước 31/12/2025", Y2025, "before", None, date(2025, 12, 31), ""),
        ("Tháng 11 năm 2025", Y2025, "month", date(2025, 11, 1), date(2025, 11, 30), ""),
        ("Năm 2026", Y2630, "year", date(2026, 1, 1), date(2026, 12, 31), ""),
        ("Trong năm 2026", Y2630, "year", date(2026, 1, 1), date(2026, 12, 31), ""),
        ("Ban hành kế hoạch chậm nhất là ngày 15/4/2026 và tổ chức thực hiện", Y2630, "before", None,
         date(2026, 4, 15), "Ban hành kế hoạch"),
        ("Sau khi UBND tỉnh triển khai", Y2025, "conditional", None, None, ""),
        ("Sau khi có hướng dẫn của cấp thẩm quyền", Y2025, "conditional", None, None, ""),
        ("Thực hiện theo Kế hoạch số 81/KH-UBND ngày 14/4/2025 của UBND tỉnh", Y2025, "conditional", None, None, ""),
        ("Theo Điều 17 Nghị định số 52/2015/NĐ-CP ngày 28/5/2015 của Chính phủ", Y2630, "conditional", None, None, ""),
        ("Theo các mốc thời gian tại Quyết định số 1441/QĐ-UBND ngày 25/9/2025 của Chủ tịch UBND tỉnh", Y2630,
         "conditional", None, None, ""),
        ("Trong năm 2025 khi có văn bản triển khai của tỉnh", Y2025, "conditional", date(2025, 1, 1),
         date(2025, 12, 31), ""),
        ("Thường xuyên trong năm", Y2025, "ongoing", date(2025, 1, 1), date(2025, 12, 31), ""),
        ("Thường xuyên trong năm 2025", Y2025, "ongoing", date(2025, 1, 1), date(2025, 12, 31), ""),
        ("quy iv nam 2025", Y2025, "quarter", date(2025, 10, 1), date(2025, 12, 31), ""),  # typed without accents
    ],
)
def test_hand_checked_parses(text, period, kind, start, end, action):
    m = one(text, period)
    assert (m.kind, m.start, m.end, m.action) == (kind, start, end, action)
    if kind not in DATED:
        assert m.rrule is None and not occurrences(m)


@pytest.mark.parametrize(
    ("text", "rrule", "n", "first"),
    [
        ("Trước ngày 31/01 năm liền kề", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=31", 5, (date(2026, 1, 31),) * 2),
        ("Hằng năm", "FREQ=YEARLY", 5, (date(2026, 1, 1), date(2026, 12, 31))),
        ("Hàng năm", "FREQ=YEARLY", 5, (date(2026, 1, 1), date(2026, 12, 31))),
        ("Ban hành kế hoạch trong tháng 01 hằng năm và tổ chức thực hiện", "FREQ=YEARLY;BYMONTH=1", 5,
         (date(2026, 1, 1), date(2026, 1, 31))),
        ("Định kỳ hằng tháng", "FREQ=MONTHLY;BYMONTHDAY=-1", 60, (date(2026, 1, 1), date(2026, 1, 31))),
    ],
)
def test_recurring_ones_occur_in_every_year_of_the_plan(text, rrule, n, first):
    m = one(text, Y2630)
    assert m.kind == "recurring" and m.rrule == rrule
    occ = occurrences(m)
    assert len(occ) == n and occ[0] == first and occ[-1][1].year == 2030


def test_monthly_in_a_one_year_plan():
    m = one("Định kỳ hàng tháng trong năm", Y2025)  # "trong năm" bounds the rule, it is not a second milestone
    assert m.kind == "recurring" and m.rrule.startswith("FREQ=MONTHLY") and len(occurrences(m)) == 12


def test_several_milestones_with_their_actions():
    ms = parse("Ban hành kế hoạch trong tháng 01 hằng năm; tổ chức kiểm tra chậm nhất trong tháng 6 hằng năm và "
               "báo cáo kết quả khắc phục các tồn tại, hạn chế phát hiện qua kiểm tra chậm nhất trong tháng 8 hằng năm",
               Y2630)
    assert [(m.rrule, m.action) for m in ms] == [
        ("FREQ=YEARLY;BYMONTH=1", "Ban hành kế hoạch"),
        ("FREQ=YEARLY;BYMONTH=6", "tổ chức kiểm tra"),
        ("FREQ=YEARLY;BYMONTH=8", "báo cáo kết quả khắc phục các tồn tại"),
    ]
    ms = parse("Quý III/2025 ban hành kế hoạch; Định kỳ báo cáo kết quả thực hiện theo quy định", Y2025)
    assert [(m.kind, m.action) for m in ms] == [("quarter", "ban hành kế hoạch"),
                                               ("ongoing", "báo cáo kết quả thực hiện")]
    assert ms[0].start == date(2025, 7, 1) and ms[0].end == date(2025, 9, 30)
    ms = parse("ban hành quy định chức năng nhiệm vụ hoàn thành trong tháng 7/2025; tiếp tục rà soát sửa đổi bổ sung "
               "nếu có sự thay đổi", Y2025)
    assert [(m.kind, m.action) for m in ms] == [("month", "ban hành quy định chức năng nhiệm vụ"),
                                               ("conditional", "tiếp tục rà soát sửa đổi bổ sung")]
    ms = parse("Trong tháng 8 năm 2025 ban hành các Kế hoạch; định kỳ báo cáo kết quả thực hiện", Y2025)
    assert [(m.kind, m.start, m.action) for m in ms] == [("month", date(2025, 8, 1), "ban hành các Kế hoạch"),
                                                        ("ongoing", None, "báo cáo kết quả thực hiện")]


def test_window_rule():
    q4 = one("Quý IV năm 2025", Y2025)
    assert in_window(q4, date(2025, 10, 1), date(2025, 12, 31)) and in_window(q4, date(2025, 1, 1), None)
    assert not in_window(q4, date(2025, 7, 1), date(2025, 9, 30))
    assert not in_window(q4, date(2025, 11, 1), date(2025, 12, 31))  # the whole quarter must be in the window
    before = one("Trước 31/12/2025", Y2025)
    assert in_window(before, date(2025, 12, 1), date(2025, 12, 31)) and not in_window(before, None, date(2025, 12, 30))
    jan = one("Ban hành kế hoạch trong tháng 01 hằng năm", Y2630)
    assert in_window(jan, date(2028, 1, 1), date(2028, 3, 31)) and not in_window(jan, date(2028, 2, 1), date(2028, 12, 31))
    assert not in_window(jan, date(2031, 1, 1), date(2031, 12, 31))  # after the plan's period
    yearly = one("Hằng năm", Y2630)
    assert in_window(yearly, date(2027, 1, 1), date(2027, 12, 31)) and not in_window(yearly, date(2027, 1, 1),
                                                                                    date(2027, 3, 31))
    for text in ("Sau khi UBND tỉnh triển khai", "Thường xuyên trong năm 2025"):
        assert not in_window(one(text, Y2025), None, None)


def test_milestone_dict_round_trip():
    from assistant.answer.deadlines import Milestone

    for m in parse("Trước ngày 31/01 năm liền kề; Quý IV năm 2025; Sau khi UBND tỉnh triển khai", Y2630):
        assert Milestone.from_dict(m.to_dict()) == m


def test_a_field_value_ending_with_a_full_stop_gets_no_second_one(assistant):
    answer = assistant.ask("Kế hoạch tuyên truyền CCHC của Nam Gia Nghĩa phải ban hành trong tháng mấy?")
    assert "tháng 01 hằng năm" in answer.answer and ".." not in answer.answer
