"""Agency registry, structured task queries, duty sheets and their HTTP / CSV / iCalendar / CLI forms.

The expected task lists were read by hand from corpus/000_… (Nghĩa Lộ 2025, body "Mục II") and corpus/002_…
(Nam Gia Nghĩa 2026-2030, appendix "Phụ lục").
"""

import csv
import io
from datetime import date

import pytest
from fastapi.testclient import TestClient

from assistant.answer.duties import agency_key, query_tasks, registry_for
from assistant.errors import UnknownAgency
from assistant.text.normalize import collapse_ws

NL, NGN = "nghia-lo-cchc-2025", "nam-gia-nghia-cchc-2026-2030"


def body(*locs):
    return {(NL, "Mục II › " + loc) for loc in locs}


def appx(*locs):
    return {(NGN, "Phụ lục › " + loc) for loc in locs}


# hand-checked against the documents
LEADS = {
    "Công an phường": appx("VI › STT 11"),
    "Phòng Kinh tế, Hạ tầng và Đô thị": body("6 › a", "6 › b", "6 › c", "6 › d")
    | appx(*(f"V › STT {n}" for n in range(1, 7))),
    # "Cơ quan chủ trì thực hiện" in II.3 a c e g i k n o p q, "Cơ quan thực hiện" in II.3 l m; appendix incl. joint leads
    "Trung tâm Phục vụ hành chính công": body(*(f"3 › {x}" for x in "acegiklmnopq"))
    | appx("II › STT 1", "II › STT 2", "II › STT 3", "II › STT 7", "II › STT 11", "VI › STT 10", "VII › STT 5"),
    "Văn phòng HĐND và UBND phường": body("2 › a", "2 › b", "2 › c", "2 › d")
    | appx("I › STT 1", "I › STT 2", "I › STT 3", "I › STT 4", "II › STT 7", "II › STT 10", "VI › STT 6", "VI › STT 9"),
    "Phòng Văn hóa – Xã hội": body("1 › a", "1 › b", "1 › c", "1 › d", "5 › a", "5 › b", "7 › a", "7 › b", "7 › c")
    | appx("II › STT 8", "II › STT 9", "III › STT 2", "III › STT 4", "IV › STT 1", "IV › STT 2", "IV › STT 3",
           "IV › STT 4", "VI › STT 1", "VI › STT 2", "VI › STT 3", "VI › STT 4", "VI › STT 5", "VI › STT 7",
           "VI › STT 10", "VII › STT 1", "VII › STT 2", "VII › STT 2 › dòng 2", "VII › STT 3", "VII › STT 6",
           "VII › STT 7", "VII › STT 8"),
}


def locs(tasks):
    return {(t.doc_id, t.locator) for t in tasks}


@pytest.fixture(scope="module")
def registry(assistant):
    return registry_for(assistant.index)


@pytest.fixture(scope="module")
def client(assistant):
    return TestClient(create_app_for(assistant))


def create_app_for(assistant):
    from assistant.serve.api import create_app

    return create_app(assistant, with_ui=False)


# ------------------------------------------------------------------ registry
def test_spelling_variants_merge_and_distinct_agencies_stay_apart(registry):
    vh = registry.resolve("Phòng Văn hoá - Xã hội phường phường")
    assert vh is registry.resolve("Phòng Văn hóa – Xã hội") is registry.resolve("phong van hoa xa hoi")
    assert {"Phòng Văn hoá - Xã hội phường phường", "Phòng Văn hóa – Xã hội", "Phòng Văn hóa - Xã hội"} <= vh.aliases
    kt = registry.resolve("Phòng Kinh tế, Hạ tầng và Đô thị phường")
    assert kt.key != vh.key and kt.key == agency_key("Phòng Kinh tế, Hạ tầng và Đô thị")
    tt = registry.resolve("Trung tâm Phục vụ hành chính phường")  # "công" missing in the 2025 plan
    assert tt is registry.resolve("Trung tâm Thực vụ hành chính công")  # typo in the 2026-2030 appendix
    specific = [a for a in registry.agencies.values() if not a.generic]
    assert sorted(a.key for a in specific) == sorted(
        ["cong an", "phong kinh te ha tang va do thi", "phong van hoa xa hoi", "trung tam phuc vu hanh chinh cong",
         "van phong hoi dong nhan dan va uy ban nhan dan"])


def test_generic_assignees_are_their_own_kind(registry):
    for name in ("Các cơ quan, đơn vị thuộc phường", "Các phòng, ban, đơn vị", "Các cơ quan có liên quan",
                 "Cơ quan quản lý cấp trên của đơn vị sự nghiệp công lập, đơn vị sự nghiệp công lập trực thuộc UBND "
                 "phường", "Theo phân công tại Quyết định số 1441/QĐ-UBND ngày 25/9/2025 của Chủ tịch UBND tỉnh"):
        assert registry.resolve(name).kind == "generic", name
    assert registry.resolve("Công an phường").kind == "agency"
    assert all("Các" not in s for s in registry.suggestions("cac co quan"))


def test_joint_leads_are_split(assistant):
    vp = locs(query_tasks(assistant.index, agency="Văn phòng HĐND và UBND"))
    tt = locs(query_tasks(assistant.index, agency="Trung tâm Phục vụ hành chính công"))
    vh = locs(query_tasks(assistant.index, agency="Phòng Văn hóa – Xã hội"))
    generic = locs(query_tasks(assistant.index, agency="các cơ quan, đơn vị"))
    assert body("2 › a") <= vp & generic  # "Văn phòng HĐND và UBND phường và các cơ quan, đơn vị"
    assert appx("II › STT 7") <= vp & tt  # "Văn phòng HĐND và UBND, Trung tâm phục vụ hành chính công"
    assert appx("VI › STT 10") <= tt & vh  # "Trung tâm Phục vụ hành chính công; Phòng Văn hóa – Xã hội"


# ------------------------------------------------------------------ queries
@pytest.mark.parametrize("agency", list(LEADS))
def test_lead_lists_checked_by_hand(assistant, agency):
    assert locs(query_tasks(assistant.index, agency=agency, role="lead")) == LEADS[agency]


def test_other_roles_checked_by_hand(assistant):
    q = lambda a, r: locs(query_tasks(assistant.index, agency=a, role=r))  # noqa: E731
    assert q("Công an phường", "lead") == q("Công an phường", "monitor") == appx("VI › STT 11")
    assert q("Công an phường", "partner") == set()
    assert q("Văn phòng HĐND và UBND", "partner") == body("4 › a")
    assert q("Văn phòng HĐND và UBND", "monitor") == appx("I › STT 1", "I › STT 2", "I › STT 3", "I › STT 4",
                                                           "VI › STT 6", "VI › STT 8", "VI › STT 9")
    assert q("Trung tâm Phục vụ hành chính công", "partner") == body("3 › b", "3 › d", "3 › đ") | appx("II › STT 11")
    assert q("Trung tâm Phục vụ hành chính công", "monitor") == appx(
        *(f"II › STT {n}" for n in (1, 2, 3, 4, 5, 6, 7, 10, 11)), "VI › STT 10", "VII › STT 5")
    assert q("Phòng Kinh tế, Hạ tầng và Đô thị", "any") == LEADS["Phòng Kinh tế, Hạ tầng và Đô thị"]


def test_quarter_three_2025_window(assistant):
    got = locs(query_tasks(assistant.index, start=date(2025, 7, 1), end=date(2025, 9, 30)))
    # Quý III (II.3.b, II.3.q, II.6.b), tháng 7/8 2025 (II.1.a, II.2.c, II.2.d, II.3.a, II.4.a, II.5.b, II.7.a) and
    # the monthly II.3.đ ("Định kỳ hàng tháng trong năm"); none of the 2026-2030 plan
    assert got == body("1 › a", "2 › c", "2 › d", "3 › a", "3 › b", "3 › đ", "3 › q", "4 › a", "5 › b", "6 › b",
                       "7 › a")
    kt = query_tasks(assistant.index, agency="Phòng Kinh tế, Hạ tầng và Đô thị", start=date(2025, 7, 1),
                     end=date(2025, 9, 30))
    assert locs(kt) == body("6 › b")
    with_undated = locs(query_tasks(assistant.index, agency="Phòng Kinh tế, Hạ tầng và Đô thị",
                                    start=date(2025, 7, 1), end=date(2025, 9, 30), include_undated=True))
    assert with_undated == body("6 › a", "6 › b", "6 › c", "6 › d")  # ongoing 2025 + "sau khi có hướng dẫn"


def test_recurring_tasks_fall_in_every_year_of_the_plan(assistant):
    for year in (2026, 2028, 2030):
        got = locs(query_tasks(assistant.index, agency="Phòng Kinh tế, Hạ tầng và Đô thị", start=date(year, 1, 1),
                               end=date(year, 12, 31)))
        assert got == appx(*(f"V › STT {n}" for n in range(1, 7)))
    assert not query_tasks(assistant.index, agency="Phòng Kinh tế, Hạ tầng và Đô thị", start=date(2031, 1, 1))
    q1 = locs(query_tasks(assistant.index, start=date(2027, 1, 1), end=date(2027, 3, 31)))
    assert q1 == appx("I › STT 2", "II › STT 10", "VI › STT 1", "VII › STT 2", "VII › STT 2 › dòng 2", "VII › STT 3")


def test_document_and_legal_filters(assistant):
    assert len(query_tasks(assistant.index, agency="Công an phường", doc_id=NL)) == 0
    assert locs(query_tasks(assistant.index, legal="Nghị định 118/2025/NĐ-CP")) == body("3 › l")
    assert locs(query_tasks(assistant.index, legal="QĐ 1441")) == appx("II › STT 4")
    with pytest.raises(ValueError):
        query_tasks(assistant.index, role="boss")
    with pytest.raises(ValueError):
        query_tasks(assistant.index, start=date(2026, 2, 1), end=date(2026, 1, 1))


# ------------------------------------------------------------------ duty sheet
def test_duty_sheet(assistant, registry):
    sheet = registry.duty_sheet("cong an phuong")
    assert sheet["agency"] == "Công an phường" and sheet["role"] == "lead" and sheet["total"] == 1
    (row,) = sheet["tasks"]
    assert row["locator"] == "Phụ lục › VI › STT 11" and row["deadline"] == "Năm 2026"
    assert row["milestones"][0]["kind"] == "year" and row["milestones"][0]["end"] == "2026-12-31"
    assert row["roles"] == ["lead", "monitor"] and row["partners"] == "Phòng Văn hóa – Xã hội"
    assert row["quote"] == collapse_ws(assistant.index.docs[NGN].text[row["start"] : row["end"]])
    # tasks given to all units in the same plan: II.5, II.6 ("Các phòng, ban, đơn vị"), III.1, III.3, VII.4
    assert sheet["generic_count"] == 5
    vh = registry.duty_sheet("Phòng Văn hóa – Xã hội")
    assert vh["total"] == 30 and len(vh["tasks"]) == 31  # VII.2 has two rows (two products, two deadlines)
    tt = {r["locator"]: r for r in registry.duty_sheet("Trung tâm Phục vụ hành chính công")["tasks"]}
    assert any(f.startswith("cơ quan thực hiện; chủ trì: Các cơ quan giải quyết TTHC") for f in tt["Mục II › 3 › l"]["flags"])
    assert "vừa chủ trì vừa phối hợp" in tt["Phụ lục › II › STT 11"]["flags"]


def test_unknown_agency(registry):
    with pytest.raises(UnknownAgency) as err:
        registry.duty_sheet("Sở Tài chính")
    assert err.value.suggestions and "Sở Tài chính" in str(err.value)


# ------------------------------------------------------------------ HTTP
def test_api_json(client):
    r = client.get("/api/duties", params={"agency": "Công an phường"})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1
    r = client.get("/api/duties", params={"agency": "Phòng Kinh tế, Hạ tầng và Đô thị", "from": "2025-07-01",
                                          "to": "2025-09-30"})
    assert [t["locator"] for t in r.json()["tasks"]] == ["Mục II › 6 › b"]


def test_api_csv_round_trip(client, registry):
    r = client.get("/api/duties", params={"agency": "Trung tâm Phục vụ hành chính công", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment; filename=") and ".csv" in \
        r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Nhiệm vụ", "Chủ trì", "Phối hợp", "Theo dõi", "Thời hạn", "Tài liệu", "Vị trí", "Trích dẫn"]
    sheet = registry.duty_sheet("Trung tâm Phục vụ hành chính công")
    assert len(rows) == 1 + len(sheet["tasks"]) == 20
    assert [r[0] for r in rows[1:]] == [t["task"] for t in sheet["tasks"]]
    assert rows[1][4] == "Trong tháng 8/2025 ban hành các Kế hoạch; định kỳ báo cáo kết quả thực hiện"


def test_api_ics(client):
    from icalendar import Calendar

    r = client.get("/api/duties", params={"agency": "Phòng Kinh tế, Hạ tầng và Đô thị", "format": "ics"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert ".ics" in r.headers["content-disposition"]
    cal = Calendar.from_ical(r.content)
    events = list(cal.walk("VEVENT"))
    # II.6.b "Quý III năm 2025" + V.1-6 "Hàng năm"; II.6.a/d (ongoing) and II.6.c (conditional) have no date
    assert len(events) == 7
    q3 = [e for e in events if "RRULE" not in e]
    assert len(q3) == 1 and q3[0].decoded("DTSTART") == date(2025, 9, 30)
    for e in events:
        if "RRULE" in e:
            assert e.decoded("DTSTART") == date(2026, 12, 31)
            assert e["RRULE"]["FREQ"] == ["YEARLY"] and e["RRULE"]["UNTIL"][0] == date(2030, 12, 31)
        assert "Nguồn: Kế hoạch cải cách hành chính" in str(e["DESCRIPTION"]) and str(e["SUMMARY"])
    again = Calendar.from_ical(client.get("/api/duties", params={"agency": "Phòng Kinh tế, Hạ tầng và Đô thị",
                                                                  "format": "ics"}).content)
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == sorted(str(e["UID"]) for e in events)
    assert len({str(e["UID"]) for e in events}) == 7


def test_api_ics_recurring_months(client):
    from icalendar import Calendar

    r = client.get("/api/duties", params={"agency": "Phòng Văn hóa – Xã hội", "from": "2026-01-01",
                                          "to": "2026-03-31", "format": "ics"})
    events = list(Calendar.from_ical(r.content).walk("VEVENT"))
    # VI.1, VII.2, VII.3 (January) and VII.2 row 2 (January, June, August)
    assert len(events) == 6
    assert sorted(e.decoded("DTSTART") for e in events) == [date(2026, 1, 31)] * 4 + [date(2026, 6, 30),
                                                                                      date(2026, 8, 31)]


def test_api_errors(client):
    r = client.get("/api/duties", params={"agency": "Sở Tài chính"})
    assert r.status_code == 404 and r.json()["suggestions"] and "Sở Tài chính" in r.json()["error"]
    for params in ({"agency": "Công an phường", "from": "2026-02-30"}, {"agency": "Công an phường", "to": "31/12/2026"},
                   {"agency": "Công an phường", "from": "2026-12-01", "to": "2026-01-01"},
                   {"agency": "Công an phường", "role": "boss"}, {"agency": "Công an phường", "format": "pdf"},
                   {"agency": ""}):
        r = client.get("/api/duties", params=params)
        assert r.status_code == 422 and r.json()["error"], params


def test_cli(assistant, monkeypatch, capsys, tmp_path):
    import assistant.search.index as index_module
    from assistant.cli import main

    monkeypatch.setattr(index_module, "load_index", lambda settings: assistant.index)
    assert main(["duties", "Công an phường"]) == 0
    assert "Phối hợp triển khai ứng dụng AI" in capsys.readouterr().out
    assert main(["duties", "Sở", "Tài", "chính"]) == 2
    assert "Gợi ý" in capsys.readouterr().err
    ics, out = tmp_path / "a.ics", tmp_path / "a.csv"
    assert main(["duties", "Phòng Kinh tế, Hạ tầng và Đô thị", "--from", "2025-07-01", "--to", "2025-09-30",
                 "--ics", str(ics), "--csv", str(out)]) == 0
    assert ics.read_bytes().count(b"BEGIN:VEVENT") == 1
    assert len(list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))) == 2


def test_a_task_cell_wrapped_over_table_lines_is_quoted_whole_in_a_duty_sheet(assistant, registry):
    """Appendix VI.10's task cell wraps onto a second table line: the row quotes both lines (each an exact span),
    the CSV's quote column reads them as one text; "quote"/"start"/"end" stay the first line."""
    from assistant.serve.duties import sheet_csv

    sheet = registry.duty_sheet("Trung tâm Phục vụ hành chính công")
    row = next(r for r in sheet["tasks"] if r["locator"] == "Phụ lục › VI › STT 10")
    text = assistant.index.docs[NGN].text
    assert len(row["quotes"]) == 2 and row["quotes"][0]["quote"] == row["quote"]
    assert all(q["quote"] == collapse_ws(text[q["start"] : q["end"]]) for q in row["quotes"])
    joined = " ".join(q["quote"] for q in row["quotes"])
    assert collapse_ws(joined) == collapse_ws(row["task"]) or row["task"].startswith(row["quotes"][0]["quote"])
    assert joined in sheet_csv(sheet) and len(joined) > len(row["quote"])


def test_a_locality_keeps_one_wards_tasks(assistant, registry):
    """With many wards in one index, "Công an phường" or "Phòng Văn hóa – Xã hội" of one ward is not another's."""
    everywhere = registry.duty_sheet("Trung tâm Phục vụ hành chính công", "any")
    by_place = {place: registry.duty_sheet("Trung tâm Phục vụ hành chính công", "any", locality=place)
                for place in ("phường Nghĩa Lộ", "nam gia nghia")}
    assert {p: s["locality"] for p, s in by_place.items()} == {"phường Nghĩa Lộ": "Nghĩa Lộ",
                                                                "nam gia nghia": "Nam Gia Nghĩa"}
    assert {t["doc_id"] for t in by_place["phường Nghĩa Lộ"]["tasks"]} == {"nghia-lo-cchc-2025"}
    assert {t["doc_id"] for t in by_place["nam gia nghia"]["tasks"]} == {NGN}
    assert sorted(t["task_id"] for s in by_place.values() for t in s["tasks"]) == \
        sorted(t["task_id"] for t in everywhere["tasks"])
    with pytest.raises(ValueError, match="Không có tài liệu nào của «Hòa Bình».*Nam Gia Nghĩa"):
        registry.duty_sheet("Công an phường", locality="Hòa Bình")


def test_api_duties_default_to_the_home_ward(assistant, monkeypatch):
    client = TestClient(create_app_for(assistant))
    monkeypatch.setattr(assistant.settings, "home_locality", "Nghĩa Lộ")
    agency = {"agency": "Trung tâm Phục vụ hành chính công", "role": "any"}
    home = client.get("/api/duties", params=agency).json()
    assert home["locality"] == "Nghĩa Lộ" and {t["doc_id"] for t in home["tasks"]} == {"nghia-lo-cchc-2025"}
    every = client.get("/api/duties", params={**agency, "locality": "*"}).json()
    assert every["locality"] is None and {t["doc_id"] for t in every["tasks"]} == {"nghia-lo-cchc-2025", NGN}
    plan = client.get("/api/duties", params={**agency, "doc_id": NGN}).json()  # a chosen plan wins
    assert {t["doc_id"] for t in plan["tasks"]} == {NGN}
    bad = client.get("/api/duties", params={**agency, "locality": "Hòa Bình"})
    assert bad.status_code == 422 and "Hòa Bình" in bad.json()["error"]
