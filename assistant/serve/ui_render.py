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
DOC_HEADERS = ["Tên tài liệu", "Cơ quan ban hành", "Địa bàn", "Giai đoạn", "Loại"]
KIND_LABELS = {"plan": "Kế hoạch", "legal": "Văn bản pháp luật"}
EMPTY_SOURCES = (
    '<div class="src-empty">Sau khi bạn hỏi, đoạn văn bản làm căn cứ cho câu trả lời sẽ hiện ở đây '
    "(phần được tô vàng là câu trích nguyên văn).</div>"
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_TOKEN = re.compile(r"[0-9a-z]+")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def chat_text(text: str) -> str:
    """Answer text for the Chatbot (Markdown): keep line breaks and numbered lists, neutralise markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _cut_left(text: str, limit: int) -> tuple[str, bool]:
    """The last ≤limit characters of text, starting at a word boundary."""
    if len(text) <= limit:
        return text, False
    part = text[-limit:]
    space = part.find(" ")
    return (part[space + 1:] if 0 <= space < limit // 2 else part), True


def _cut_right(text: str, limit: int) -> tuple[str, bool]:
    """The first ≤limit characters of text, ending at a word boundary."""
    if len(text) <= limit:
        return text, False
    part = text[:limit]
    space = part.rfind(" ")
    return (part[:space] if space > limit // 2 else part), True


def context_html(source: str, start: int, end: int, radius: int = CONTEXT_CHARS) -> str:
    """The cited span highlighted (<mark>) inside ~radius characters of its surroundings, HTML-escaped."""
    start, end = max(0, start), min(len(source), end)
    before_raw = source[max(0, start - radius - 40):start]
    after_raw = source[end:end + radius + 40]
    before, cut_l = _cut_left(collapse_ws(before_raw), radius)
    after, cut_r = _cut_right(collapse_ws(after_raw), radius)
    quote = collapse_ws(source[start:end])
    gap_l = " " if before and before_raw[-1:].isspace() else ""
    gap_r = " " if after and after_raw[:1].isspace() else ""
    return (("… " if cut_l else "") + _esc(before) + gap_l + f"<mark>{_esc(quote)}</mark>"
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
        return ('<div class="src-none"><b>Không tìm thấy trong tài liệu</b>'
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
    return "".join(parts)


def error_html(message: str) -> str:
    return f'<div class="src-warn" role="alert"><b>⚠ {_esc(message)}</b></div>'


# ------------------------------------------------------------------ documents tab
def doc_rows(docs: Iterable[Document]) -> list[list[str]]:
    return [[d.title, d.issuer, d.locality + (f", {d.province}" if d.province else ""), d.period,
             KIND_LABELS.get(d.kind, d.kind)] for d in docs]


def _matches(query: str, values: Iterable[str]) -> bool:
    """Accent-insensitive: the folded query is inside a value, or all its words are words of one value."""
    q = fold(query)
    if not q:
        return True
    words = set(_TOKEN.findall(q))
    for value in values:
        v = fold(value)
        if q in v or (words and words <= set(_TOKEN.findall(v))):
            return True
    return False


def task_rows(tasks: Iterable[TaskRecord], doc_id: str | None, agency: str = "", deadline: str = "") -> list[list[str]]:
    rows = []
    for t in tasks:
        if doc_id and t.doc_id != doc_id:
            continue
        if not _matches(agency, (t.lead, t.partners, t.monitor)) or not _matches(deadline, (t.deadline,)):
            continue
        rows.append([t.task, t.lead, t.partners, t.deadline, t.monitor, t.locator])
    return rows
