"""Agency duty sheets over HTTP (and their CSV / iCalendar exports, shared with the CLI).

``GET /api/duties?agency=…[&role=lead|partner|monitor|any][&from=YYYY-MM-DD&to=YYYY-MM-DD][&doc_id=…][&locality=…]
[&format=json|csv|ics][&include_undated=true]`` — the sheet comes from ``Registry.duty_sheet`` in the library;
this module only validates the query and formats the result.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ..answer.deadlines import Milestone, occurrences
from ..answer.duties import ROLES, registry_for
from ..errors import UnknownAgency
from ..models import content_id
from ..text.normalize import fold

if TYPE_CHECKING:
    import argparse

router = APIRouter()
CSV_COLUMNS = ("Nhiệm vụ", "Chủ trì", "Phối hợp", "Theo dõi", "Thời hạn", "Tài liệu", "Vị trí", "Trích dẫn")
FORMATS = ("json", "csv", "ics")


def parse_day(value: str | None, name: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"Ngày không hợp lệ «{value}» ({name}): dùng dạng YYYY-MM-DD, ví dụ 2026-01-31.") from None


def filename(sheet: dict[str, Any], ext: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(sheet["agency"])).strip("-") or "co-quan"
    window = "".join(f"_{sheet[k]}" for k in ("from", "to") if sheet.get(k))
    return f"nhiem-vu_{slug}_{sheet['role']}{window}.{ext}"


def sheet_csv(sheet: dict[str, Any]) -> str:
    """UTF-8 CSV text with a BOM (so spreadsheet programs read the Vietnamese correctly)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for t in sheet["tasks"]:
        w.writerow([t["task"], t["lead"], t["partners"], t["monitor"], t["deadline"], t["doc_title"], t["locator"],
                    " ".join(q["quote"] for q in t.get("quotes") or [{"quote": t["quote"]}])])
    return "\ufeff" + buf.getvalue()


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: text.rfind(" ", 0, n - 1) if " " in text[: n - 1] else n - 1] + "…"


def ics_events(sheet: dict[str, Any]) -> list[dict[str, Any]]:
    """One all-day event per dated milestone: due day, RRULE (with UNTIL) for recurring ones."""
    out = []
    for t in sheet["tasks"]:
        for n, d in enumerate(t["milestones"]):
            m = Milestone.from_dict(d)
            occ = occurrences(m)
            if not occ:
                continue
            rule = f"{m.rrule};UNTIL={occ[-1][1]:%Y%m%d}" if m.kind == "recurring" else None
            out.append({"uid": content_id("due", t["task_id"], n, m.kind, m.text) + "@tro-ly-cchc", "day": occ[0][1],
                        "rrule": rule, "task": t, "milestone": m})
    return out


def sheet_ics(sheet: dict[str, Any]) -> bytes:
    from icalendar import Calendar, Event, vRecur

    cal = Calendar()
    cal.add("prodid", "-//Tro ly CCHC//Nhiem vu//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Nhiệm vụ {sheet['agency']}")
    stamp = datetime.now(UTC).replace(microsecond=0)
    for e in ics_events(sheet):
        t, m = e["task"], e["milestone"]
        ev = Event()
        ev.add("uid", e["uid"])
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e["day"])
        ev.add("dtend", e["day"] + timedelta(days=1))
        ev.add("summary", f"{m.action}: {_short(t['task'], 70)}" if m.action else _short(t["task"]))
        ev.add("description", f"{t['task']}\nThời hạn: {t['deadline']}\nChủ trì: {t['lead']}"
                              f"\nNguồn: {t['doc_title']}, {t['locator']}")
        if e["rrule"]:
            ev.add("rrule", vRecur.from_ical(e["rrule"]))
        ev.add("categories", [m.kind])
        cal.add_component(ev)
    return cal.to_ical()


def _error(request: Request, status: int, message: str, **extra: Any) -> JSONResponse:
    rid = getattr(request.state, "request_id", None)
    return JSONResponse(status_code=status, content={"error": message, "detail": message, "request_id": rid, **extra})


@router.get("/api/duties")
def duties(request: Request, agency: str = "", role: str = "lead",
           date_from: str | None = Query(None, alias="from", description="YYYY-MM-DD"),
           date_to: str | None = Query(None, alias="to", description="YYYY-MM-DD"),
           doc_id: str | None = None, format: str = "json", include_undated: bool = False,
           locality: str | None = Query(None, description="a ward's tasks only; default ASSISTANT_HOME_LOCALITY, "
                                                          "'*' for every ward")) -> Response:
    """Duty sheet of one agency: tasks, milestones, exact quotes; JSON, CSV (UTF-8 BOM) or iCalendar."""
    if not agency.strip() or len(agency) > 200:
        return _error(request, 422, "Thiếu tên cơ quan: /api/duties?agency=Công an phường (tối đa 200 ký tự).")
    if role not in ROLES:
        return _error(request, 422, f"role phải là một trong: {', '.join(ROLES)}.")
    if format not in FORMATS:
        return _error(request, 422, f"format phải là một trong: {', '.join(FORMATS)}.")
    try:
        start, end = parse_day(date_from, "from"), parse_day(date_to, "to")
        assistant = request.app.state.assistant
        place = assistant.settings.home_locality if locality is None else locality.strip().strip("*")
        sheet = registry_for(assistant.index).duty_sheet(agency, role, start, end, doc_id or None, include_undated,
                                                         locality=None if doc_id else place)
    except UnknownAgency as exc:
        return _error(request, 404, str(exc), suggestions=exc.suggestions)
    except ValueError as exc:
        return _error(request, 422, str(exc))
    if format == "json":
        return JSONResponse(sheet)
    body, media = (sheet_csv(sheet).encode("utf-8"), "text/csv; charset=utf-8") if format == "csv" else \
        (sheet_ics(sheet), "text/calendar; charset=utf-8")
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename(sheet, format)}"'})


def print_table(sheet: dict[str, Any]) -> None:
    window = f", {sheet['from'] or '…'} → {sheet['to'] or '…'}" if sheet["from"] or sheet["to"] else ""
    print(f"{sheet['agency']} — vai trò {sheet['role']}{window}: {sheet['total']} nhiệm vụ")
    for n, t in enumerate(sheet["tasks"], 1):
        dues = "; ".join(f"{m['action'] + ': ' if m['action'] else ''}{m['kind']} "
                         f"{m['end'] or ''}{' ' + m['rrule'] if m['rrule'] else ''}".strip()
                         for m in t["milestones"])
        print(f"\n{n:>3}. {_short(t['task'], 100)}\n     Thời hạn: {t['deadline'] or '—'}  [{dues}]"
              f"\n     Chủ trì: {t['lead']} | Phối hợp: {t['partners'] or '—'}\n     Nguồn: {t['doc_title']}, {t['locator']}")
        for flag in t["flags"]:
            print(f"     ! {flag}")
    if sheet["generic_count"]:
        print(f"\nNgoài ra {sheet['generic_count']} nhiệm vụ giao chung cho các cơ quan, đơn vị trong cùng kế hoạch.")


def run_cli(args: argparse.Namespace) -> int:
    """``python -m assistant duties``: table by default, --json, --csv FILE, --ics FILE."""
    import json
    import sys

    from ..errors import IndexStateError
    from ..search.index import load_index
    from ..settings import get_settings

    try:
        index = load_index(get_settings())  # no model needed for a duty sheet
    except IndexStateError:
        from .. import load

        index = load().index
    try:
        place = get_settings().home_locality if args.locality is None else args.locality.strip("*")
        sheet = registry_for(index).duty_sheet(" ".join(args.agency), args.role, parse_day(args.date_from, "--from"),
                                               parse_day(args.date_to, "--to"), args.doc_id, args.include_undated,
                                               locality=None if args.doc_id else place)
    except UnknownAgency as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as fh:
            fh.write(sheet_csv(sheet))
        print(f"CSV → {args.csv}", file=sys.stderr)
    if args.ics:
        with open(args.ics, "wb") as fh:
            fh.write(sheet_ics(sheet))
        print(f"iCalendar ({len(ics_events(sheet))} sự kiện) → {args.ics}", file=sys.stderr)
    if args.json:
        print(json.dumps(sheet, ensure_ascii=False, indent=1))
    elif not (args.csv or args.ics):
        print_table(sheet)
    return 0
