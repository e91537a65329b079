"""The "Nhiệm vụ của đơn vị" tab: one agency's duty sheet (``Registry.duty_sheet``) as a table, plus CSV / iCalendar
files to download. The sheet and its files come from the library and :mod:`assistant.serve.duties`; this module only
builds the controls and turns a sheet into table rows.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..answer.duties import Registry, registry_for
from ..errors import UnknownAgency
from ..text.normalize import fold
from .duties import filename, ics_events, parse_day, sheet_csv, sheet_ics
from .ui_render import cards_html

if TYPE_CHECKING:
    from .. import Assistant

ROLE_CHOICES = [("Chủ trì", "lead"), ("Phối hợp", "partner"), ("Theo dõi, đôn đốc", "monitor")]
ROLE_WORDS = {"lead": "chủ trì", "partner": "phối hợp", "monitor": "theo dõi, đôn đốc"}
DUTY_HEADERS = ["Nhiệm vụ", "Thời hạn", "Tài liệu", "Vị trí"]
PICK_HINT = "Chọn một cơ quan, đơn vị để xem các nhiệm vụ được giao."
FILE_TTL_SECONDS = 3600
_DMY = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*")


def read_day(value: str | None, name: str) -> date | None:
    """YYYY-MM-DD (as the API) or the Vietnamese DD/MM/YYYY; a readable message for anything else."""
    m = _DMY.fullmatch(value or "")
    if m:
        try:
            return date(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:
            pass  # parse_day raises the message, quoting what was typed
    return parse_day(value, name)


def agency_names(registry: Registry) -> list[str]:
    """Canonical names of the specific (non-generic) agencies, in Vietnamese alphabetical order (accents folded)."""
    return sorted({a.name for a in registry.agencies.values() if not a.generic}, key=lambda n: (fold(n), n))


@dataclass
class DutyView:
    rows: list[list[str]] = field(default_factory=list)
    note: str = PICK_HINT
    csv: str | None = None  # file paths for the download buttons
    ics: str | None = None


def _clean_old(out_dir: Path) -> None:
    """Files of earlier requests: Gradio serves its own copy, so ours can go after an hour."""
    cutoff = time.time() - FILE_TTL_SECONDS
    for sub in out_dir.glob("*"):
        try:
            if sub.is_dir() and sub.stat().st_mtime < cutoff:
                shutil.rmtree(sub, ignore_errors=True)
        except OSError:
            pass


def duty_view(registry: Registry, agency: str | None, role: str, date_from: str | None, date_to: str | None,
              doc_id: str | None, out_dir: Path, locality: str = "") -> DutyView:
    """Table rows, a summary line and the CSV / ICS files of one agency's sheet; a readable message on bad input."""
    if not (agency or "").strip():
        return DutyView()
    try:
        start, end = read_day(date_from, "Từ ngày"), read_day(date_to, "Đến ngày")
        sheet = registry.duty_sheet(agency, role, start, end, doc_id or None, include_undated=True,
                                    locality=None if doc_id else locality)  # a kiosk's own ward
    except (UnknownAgency, ValueError) as exc:
        return DutyView(note=f"⚠ {exc}")
    rows = [[t["task"], t["deadline"] or "—", t["doc_title"], t["locator"]] for t in sheet["tasks"]]
    window = ""
    if start or end:
        window = f" ({'từ ' + start.strftime('%d/%m/%Y') if start else ''}" \
                 f"{' ' if start and end else ''}{'đến ' + end.strftime('%d/%m/%Y') if end else ''})"
    lines = [f"**{sheet['agency']}** — {ROLE_WORDS.get(role, role)}: **{sheet['total']}** nhiệm vụ{window}."
             if rows else f"**{sheet['agency']}** không có nhiệm vụ {ROLE_WORDS.get(role, role)} nào{window}."]
    if sheet["generic_count"]:
        lines.append(f"Ngoài ra {sheet['generic_count']} nhiệm vụ giao chung cho các cơ quan, đơn vị "
                     "trong cùng kế hoạch.")
    view = DutyView(rows, "  \n".join(lines))
    if rows:
        _clean_old(out_dir)
        folder = out_dir / uuid.uuid4().hex  # one folder per request: concurrent visitors never share a file
        folder.mkdir(parents=True)
        csv_path = folder / filename(sheet, "csv")
        csv_path.write_bytes(sheet_csv(sheet).encode("utf-8"))
        view.csv = str(csv_path)
        if ics_events(sheet):
            ics_path = folder / filename(sheet, "ics")
            ics_path.write_bytes(sheet_ics(sheet))
            view.ics = str(ics_path)
        else:
            view.note += "  \nCác nhiệm vụ này không có mốc ngày cụ thể nên không tạo được tệp lịch."
    return view


def build_duties_tab(assistant: Assistant, last_activity: gr.State) -> list[tuple[gr.components.Component, Any]]:
    """The tab (call inside ``gr.Tabs``); returns its inputs with their start values, for the kiosk reset."""
    out_dir = Path(tempfile.mkdtemp(prefix="tro-ly-nhiem-vu-"))
    atexit.register(shutil.rmtree, out_dir, ignore_errors=True)
    docs = assistant.index.docs
    names = agency_names(registry_for(assistant.index))
    with gr.Tab("Nhiệm vụ của đơn vị", id="duties"):
        gr.HTML('<h2 class="src-title">Nhiệm vụ của cơ quan, đơn vị</h2><p class="duty-intro">Danh sách nhiệm vụ '
                "được giao trong các kế hoạch, kèm thời hạn và vị trí trong văn bản; tải về dạng bảng tính (CSV) "
                "hoặc lịch (ICS).</p>")
        with gr.Row(elem_id="duty-controls", equal_height=False):
            agency = gr.Dropdown(names, value=None, label="Cơ quan, đơn vị", elem_id="duty-agency",
                                 info="Chọn trong danh sách hoặc gõ vài chữ để tìm.", min_width=280, scale=3)
            role = gr.Radio(ROLE_CHOICES, value="lead", label="Vai trò", elem_id="duty-role", min_width=280, scale=3)
        with gr.Row(elem_id="duty-dates", equal_height=False):
            date_from = gr.Textbox(label="Từ ngày (không bắt buộc)", placeholder="ví dụ 2025-07-01 hoặc 01/07/2025",
                                   elem_id="duty-from", min_width=220, max_lines=1)
            date_to = gr.Textbox(label="Đến ngày (không bắt buộc)", placeholder="ví dụ 2025-12-31 hoặc 31/12/2025",
                                 elem_id="duty-to", min_width=220, max_lines=1)
        doc = gr.Radio([("Tất cả", "")] + [(d.title, d.doc_id) for d in docs.values()], value="",
                       label="Tài liệu", elem_id="duty-doc")
        note = gr.Markdown(PICK_HINT, elem_id="duty-note")
        with gr.Row(elem_id="duty-files"):
            csv_btn = gr.DownloadButton("Tải bảng tính (CSV)", interactive=False, elem_id="duty-csv", size="md",
                                        scale=0, min_width=200)
            ics_btn = gr.DownloadButton("Tải lịch (ICS)", interactive=False, elem_id="duty-ics", size="md", scale=0,
                                        min_width=200)
        table = gr.Dataframe(value=[[""] * len(DUTY_HEADERS)], headers=DUTY_HEADERS, interactive=False, wrap=True,
                             show_label=False, buttons=[], elem_id="duty-table", max_height=640,
                             column_widths=["52%", "18%", "18%", "12%"])
        cards = gr.HTML("", elem_id="duty-cards")

    def show(agency_name: str | None, role_key: str, start: str, end: str, doc_id: str) -> tuple[Any, ...]:
        view = duty_view(registry_for(assistant.index), agency_name, role_key, start, end, doc_id, out_dir,
                         assistant.settings.home_locality)
        data = {"data": view.rows or [[""] * len(DUTY_HEADERS)], "headers": DUTY_HEADERS}
        return (data, cards_html(view.rows, DUTY_HEADERS), view.note,
                gr.DownloadButton(value=view.csv, interactive=bool(view.csv)),
                gr.DownloadButton(value=view.ics, interactive=bool(view.ics)), time.monotonic())

    inputs = [agency, role, date_from, date_to, doc]
    outputs = [table, cards, note, csv_btn, ics_btn, last_activity]
    for event in (agency.change, role.change, doc.change, date_from.submit, date_from.blur, date_to.submit,
                  date_to.blur):
        event(show, inputs, outputs, show_progress="hidden")
    return list(zip(inputs, [None, "lead", "", "", ""], strict=True))
