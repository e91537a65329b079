"""HTML and table rendering for the Gradio UI: pure functions, no Gradio import (easy to test)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..models import Answer, Citation, Document, TaskRecord
from ..text.normalize import collapse_ws, fold

CONTEXT_CHARS = 200
TASK_HEADERS = ["Nhiệm vụ", "Chủ trì", "Phối hợp", "Thời hạn", "Theo dõi", "Vị trí"]
KIND_LABELS = {"plan": "Kế hoạch", "legal": "Văn bản pháp luật"}
SOURCES_TITLE = '<h2 class="src-title">Nguồn trích dẫn</h2>'
EMPTY_SOURCES = SOURCES_TITLE + (
    '<div class="src-empty">Sau khi bạn hỏi, đoạn văn bản làm căn cứ cho câu trả lời sẽ hiện ở đây '
    "(phần được tô vàng là câu trích nguyên văn).</div>"
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_TOKEN = re.compile(r"[0-9a-z]+")
_PARA_START = re.compile(r"\n[ \t]*(?=[-+•] |[a-zđ]\) |\d+(?:\.\d+)*\. |[IVX]+\. )")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def chat_text(text: str) -> str:
    """Answer text for the Chatbot (Markdown): keep line breaks and numbered lists, neutralise markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _cut_left(text: str) -> str:
    """Drop the (probably partial) first word of a text that was cut on the left."""
    space = text.find(" ")
    return text[space + 1:] if 0 <= space < len(text) // 2 else text


def _cut_right(text: str) -> str:
    space = text.rfind(" ")
    return text[:space] if space > len(text) // 2 else text


def _flat(text: str) -> str:
    """Whitespace-collapsed, with table cells (tab-separated in the extracted text) shown as "│"."""
    return collapse_ws(text.replace("\t", " │ "))


def context_html(source: str, start: int, end: int, radius: int = CONTEXT_CHARS) -> str:
    """The cited span highlighted (<mark>) inside its paragraph (at most ~radius characters either side).

    A paragraph starts at a bullet or numbered line ("- ", "+ ", "a) ", "2. ", "II. "); blank lines are not
    boundaries (the extracted PDF text has one after every line). A table row (a line with tabs) is its own
    paragraph. Where the window cuts a paragraph, it is cut at a word and marked "…". HTML-escaped.
    """
    start, end = max(0, start), min(len(source), end)
    row_lo = source.rfind("\n", 0, start) + 1
    row_hi = source.find("\n", end) % (len(source) + 1)  # -1 → len(source)
    first, last = (row_lo, row_hi) if "\t" in source[row_lo:row_hi] else (0, len(source))
    lo, hi = max(first, start - radius), min(last, end + radius)
    before_raw, after_raw = source[lo:start], source[end:hi]
    cut_l, cut_r = lo > first, hi < last
    if first == 0:
        starts = list(_PARA_START.finditer(before_raw))
        if starts:
            before_raw, cut_l = before_raw[starts[-1].end():], False
        stop = _PARA_START.search(after_raw)
        if stop:
            after_raw, cut_r = after_raw[:stop.start()], False
    before, after = _flat(before_raw), _flat(after_raw)
    before = _cut_left(before) if cut_l else before
    after = _cut_right(after) if cut_r else after
    gap_l = " " if before and before_raw[-1:].isspace() else ""
    gap_r = " " if after and after_raw[:1].isspace() else ""
    return (("… " if cut_l else "") + _esc(before) + gap_l + f"<mark>{_esc(collapse_ws(source[start:end]))}</mark>"
            + gap_r + _esc(after) + (" …" if cut_r else ""))


def _citation_card(n: int, c: Citation, docs: dict[str, Document]) -> str:
    doc = docs.get(c.doc_id)
    body = context_html(doc.text, c.start, c.end) if doc else f"<mark>{_esc(c.quote)}</mark>"
    return (f'<div class="src-card"><div class="src-head"><span class="src-num">{n}</span> '
            f'<b>{_esc(c.title)}</b></div><div class="src-loc">Vị trí: {_esc(c.locator)}</div>'
            f'<p class="src-quote">{body}</p></div>')


def _conflict_box(conflicts: list[dict[str, Any]]) -> str:
    rows = []
    for conflict in conflicts:
        for v in conflict.get("values", []):
            rows.append(f"<li><b>{_esc(str(v.get('value', '')))}</b> — {_esc(str(v.get('locator', '')))}: "
                        f"«{_esc(str(v.get('quote', '')))}»</li>")
    return ('<div class="src-warn" role="alert"><b>⚠ Lưu ý: các phần của tài liệu nêu số liệu khác nhau.</b>'
            f"<ul>{''.join(rows)}</ul>Hãy đối chiếu với văn bản gốc trước khi sử dụng.</div>")


def sources_html(answer: Answer, docs: dict[str, Document], suggestions: Sequence[str] = ()) -> str:
    """The "Nguồn trích dẫn" panel for one answer."""
    if answer.abstained:
        tips = "".join(f"<li>{_esc(s)}</li>" for s in suggestions)
        return (SOURCES_TITLE + '<div class="src-none"><b>Không tìm thấy trong tài liệu</b>'
                "<p>Trợ lý chỉ trả lời khi tìm thấy căn cứ trong các kế hoạch đã nạp. "
                "Hãy thử hỏi cụ thể hơn (tên cơ quan, công việc, thời hạn), ví dụ:</p>"
                f"<ul>{tips}</ul></div>")
    parts = [_conflict_box(answer.conflicts)] if answer.conflicts else []
    if answer.total is not None and answer.total > len(answer.citations):
        parts.append(f'<div class="src-note">Hiển thị {len(answer.citations)}/{answer.total} nhiệm vụ; '
                     "xem đủ ở thẻ «Tài liệu».</div>")
    parts += [_citation_card(n, c, docs) for n, c in enumerate(answer.citations, 1)]
    if not answer.citations:
        parts.append('<div class="src-empty">Câu trả lời này không kèm đoạn trích.</div>')
    return SOURCES_TITLE + "".join(parts)


def error_html(message: str) -> str:
    return SOURCES_TITLE + f'<div class="src-warn" role="alert"><b>⚠ {_esc(message)}</b></div>'


# ------------------------------------------------------------------ documents tab
def docs_html(docs: Iterable[Document]) -> str:
    """The documents the assistant answers from, as cards (readable on a kiosk and on a phone)."""
    cards = []
    for d in docs:
        place = d.locality + (f", {d.province}" if d.province else "")
        meta = [("Cơ quan ban hành", d.issuer), ("Địa bàn", place), ("Giai đoạn", d.period),
                ("Loại", KIND_LABELS.get(d.kind, d.kind))]
        items = "".join(f"<li><span>{k}:</span> {_esc(v)}</li>" for k, v in meta if v)
        cards.append(f'<div class="doc-card"><b>{_esc(d.title)}</b><ul>{items}</ul></div>')
    return '<h2 class="src-title">Các tài liệu trợ lý đang dùng</h2><div class="doc-list">' + "".join(cards) + "</div>"


def cards_html(rows: list[list[str]], headers: Sequence[str]) -> str:
    """Table rows as cards (first cell as the title): the phone view of a table too wide for 390 px."""
    cards = []
    for row in rows:
        fields = "".join(f"<li><span>{h}:</span> {_esc(v)}</li>" for h, v in zip(headers[1:], row[1:], strict=True)
                         if v)
        cards.append(f'<div class="task-card"><b>{_esc(row[0])}</b><ul>{fields}</ul></div>')
    return "".join(cards)


def tasks_html(rows: list[list[str]]) -> str:
    return cards_html(rows, TASK_HEADERS)


def _matches(query: str, values: Iterable[str]) -> bool:
    """Accent- and case-insensitive: every word of the query is a word of one of the values."""
    words = _TOKEN.findall(fold(query))
    if not words:
        return True
    return any(set(words) <= set(_TOKEN.findall(fold(value))) for value in values)


def task_rows(tasks: Iterable[TaskRecord], doc_id: str | None, agency: str = "", deadline: str = "") -> list[list[str]]:
    rows = []
    for t in tasks:
        if doc_id and t.doc_id != doc_id:
            continue
        if not _matches(agency, (t.lead, t.partners, t.monitor)) or not _matches(deadline, (t.deadline,)):
            continue
        rows.append([t.task, t.lead, t.partners, t.deadline, t.monitor, t.locator])
    return rows


# ------------------------------------------------------------------ style and script (given to mount_gradio_app)
# Pin the light theme (the page otherwise follows the device's dark mode), declare the page Vietnamese and
# translate the chat's built-in English screen-reader labels.
JS = """() => {
  document.documentElement.lang = 'vi';
  const labels = [[/^chatbot conversation$/, 'Cuộc trò chuyện'], [/^user's message: /, 'Câu hỏi: '],
                  [/^bot's message: /, 'Trả lời: ']];
  const fix = () => {
    if (document.body.classList.contains('dark')) document.body.classList.remove('dark');
    document.querySelectorAll('#chat [aria-label]').forEach(e => {
      const v = e.getAttribute('aria-label');
      for (const [re, vi] of labels) if (re.test(v)) e.setAttribute('aria-label', v.replace(re, vi));
    });
  };
  // a new answer taller than the chat box: show its start (scrolling to the bottom would hide how it begins)
  let shown = '';
  const pin = () => {
    const wrap = document.querySelector('#chat .panel-wrap, #chat .bubble-wrap');
    const rows = wrap ? wrap.querySelectorAll('.message-row') : [];
    const last = rows[rows.length - 1];
    if (!last) { shown = ''; return; }
    const key = rows.length + ':' + last.textContent.length;
    if (key === shown) return;
    shown = key;
    const top = last.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
    wrap.scrollTop = last.offsetHeight > wrap.clientHeight ? wrap.scrollTop + top : wrap.scrollHeight;
  };
  fix();
  new MutationObserver(() => { fix(); pin(); }).observe(
    document.body, {attributes: true, attributeFilter: ['class', 'aria-label'], childList: true, subtree: true});
}"""

CSS = """
:root, body { color-scheme: light; }
.gradio-container { width: 100% !important; max-width: min(1840px, 100vw) !important; margin: 0 auto !important; padding-top: 4px !important; }
.app-head h1 { font-size: 30px; font-weight: 700; margin: 0 0 2px; color: #1e3a8a; }
.app-head p { font-size: 18px; margin: 0; color: #475569; }
.app-head { padding: 2px 0; }
button[role="tab"] { font-size: 20px !important; font-weight: 700 !important; }
#chat .message, #chat .message * { font-size: 20px; line-height: 1.5; }
#chat .message, #chat .message * { color: #111827; }
#chat .md { opacity: 1 !important; }
#chat button[aria-label="Clear"] { display: none !important; }
#question textarea { font-size: 20px !important; line-height: 1.4; }
#send { font-size: 20px; font-weight: 700; min-height: 52px; }
.ex-row { flex-wrap: wrap !important; gap: 8px !important; }
.example, #new-chat { font-size: 17px !important; flex: 0 1 auto !important; min-width: 0 !important;
  width: auto !important; white-space: normal !important; text-align: left !important; min-height: 46px; }
.example { background: #eff6ff !important; border: 1px solid #bfdbfe !important; color: #1e3a8a !important; }
#new-chat { align-self: flex-start; }
.ex-title, .src-title { font-size: 20px !important; font-weight: 700; margin: 0 0 6px !important; color: #1e3a8a; }
#sources { max-height: calc(100vh - 200px); overflow-y: auto !important; }
.src-card { border: 1px solid #cbd5e1; border-radius: 10px; padding: 10px 14px; margin-bottom: 10px; background: #fff; }
.src-head { font-size: 18px; }
.src-num { display: inline-block; min-width: 26px; text-align: center; border-radius: 13px; background: #1e40af;
  color: #fff; font-weight: 700; margin-right: 4px; }
.src-loc { font-size: 16px; color: #475569; margin: 2px 0 6px; }
.src-quote { font-size: 18px; line-height: 1.55; margin: 0; color: #1f2937; }
.src-quote mark { background: #fde68a; color: #111827; padding: 1px 2px; border-radius: 3px; }
.src-empty { font-size: 17px; color: #64748b; padding: 8px 2px; }
.src-note { font-size: 16px; color: #334155; margin-bottom: 8px; }
.src-none { border: 2px solid #94a3b8; background: #f1f5f9; border-radius: 10px; padding: 12px 16px; font-size: 18px; }
.src-none > b { font-size: 21px; color: #0f172a; }
.src-warn { border: 2px solid #d97706; background: #fffbeb; border-radius: 10px; padding: 12px 16px;
  font-size: 18px; margin-bottom: 10px; color: #78350f; }
#task-table { font-size: 17px; }
#task-table * { font-family: var(--font) !important; }
.doc-list { display: flex; flex-wrap: wrap; gap: 10px; }
.doc-card, .task-card { border: 1px solid #cbd5e1; border-radius: 10px; padding: 10px 14px; background: #fff;
  font-size: 18px; flex: 1 1 420px; }
.doc-card ul, .task-card ul { list-style: none; padding: 0; margin: 4px 0 0; }
.doc-card li, .task-card li { margin: 2px 0; }
.doc-card li span, .task-card li span { color: #475569; }
.task-card { margin-bottom: 8px; }
#task-cards, #duty-cards { display: none; }
/* feedback under the answer; the thumbs are drawn by CSS (no emoji font on a bare kiosk: 👍 would be a box) */
#feedback { gap: 6px !important; border: 1px solid #cbd5e1; border-radius: 10px; padding: 8px 12px !important;
  background: #f8fafc; }
#fb-rate { flex-wrap: wrap !important; gap: 8px !important; align-items: center !important; }
#fb-q { flex: 0 1 auto !important; width: auto !important; margin-right: 6px; }
.fb-q { font-size: 18px; font-weight: 700; color: #1e3a8a; }
#fb-up, #fb-down, #fb-send { font-size: 18px !important; min-height: 46px; flex: 0 1 auto !important; }
#fb-up, #fb-down { background: #fff !important; border: 1px solid #94a3b8 !important; color: #0f172a !important; }
#feedback button:disabled { opacity: 0.45; }
#fb-up::before, #fb-down::before { content: ""; display: inline-block; width: 22px; height: 22px;
  margin-right: 8px; background: currentColor; -webkit-mask: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='black' stroke-width='2.2' stroke-linecap='round' stroke-linejoin='round'%3E%3Cpath d='M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3'/%3E%3C/svg%3E") center / contain no-repeat;
  mask: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='black' stroke-width='2.2' stroke-linecap='round' stroke-linejoin='round'%3E%3Cpath d='M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3'/%3E%3C/svg%3E") center / contain no-repeat; }
#fb-down::before { transform: rotate(180deg); }
#fb-comment textarea { font-size: 18px !important; }
#fb-status, #fb-status * { font-size: 18px; color: #166534; font-weight: 700; }
/* "Nhiệm vụ của đơn vị" */
.duty-intro { font-size: 18px; color: #475569; margin: 0 0 4px; }
#duty-controls, #duty-dates, #duty-files { flex-wrap: wrap !important; gap: 10px !important; }
#duty-note, #duty-note * { font-size: 18px; }
#duty-csv, #duty-ics { font-size: 18px !important; min-height: 46px; flex: 0 1 auto !important; }
#duty-table { font-size: 17px; }
#duty-table * { font-family: var(--font) !important; }
/* flex items default to min-width:auto, so a wide table would widen the whole page on a phone */
.gradio-container { min-width: 0 !important; }
.gradio-container .main, .gradio-container main, .gradio-container .wrap, .gradio-container .tabs,
.gradio-container .tabitem, .gradio-container .column, #task-table, #task-table .table-wrap, #duty-table,
#duty-table .table-wrap {
  min-width: 0 !important; max-width: 100%; }
#examples { gap: 6px !important; }
@media (max-width: 720px) {
  .gradio-container { padding: 4px 8px !important; }
  .app-head h1 { font-size: 21px; }
  .app-head p { display: none; }
  button[role="tab"] { font-size: 17px !important; padding-left: 8px !important; padding-right: 8px !important; }
  /* phone: chat, question box, then the sources, then the examples */
  #qa-row { flex-direction: column !important; flex-wrap: nowrap !important; }
  #chat-col { display: contents !important; }
  #chat { order: 1; height: 250px !important; max-height: 250px !important; }
  #feedback { order: 2; }
  #ask-row { order: 3; }
  #src-col { order: 4; }
  #examples { order: 5; }
  #chat .message, #chat .message * { font-size: 18px; }
  #sources { max-height: none; }
  .example, #new-chat { font-size: 16px !important; }
  #task-table { display: none !important; }
  #task-cards, #duty-cards { display: block; }
  #feedback { padding: 6px 10px !important; }
  .fb-q { font-size: 17px; }
  #fb-send { min-width: 92px !important; flex: 0 0 auto !important; }
  #duty-table { display: none !important; }
  #duty-controls, #duty-dates { flex-direction: column !important; }
  .doc-card, .task-card { font-size: 17px; }
}
"""
