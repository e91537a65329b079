"""Facts about a plan itself rather than one of its tasks: the province it belongs to, the date it was issued.

Both come from the text (the header's date line, the first "tỉnh …" the plan names), so they are cited like
everything else; a blank date in the source ("ngày   tháng 7 năm 2025") is quoted as it stands.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..models import Answer
from .evidence import cite

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer

_ASKS_PROVINCE = re.compile(r"\b(thuoc|o|cua|nam o) tinh nao\b|\btinh nao\b")
_ASKS_ISSUED = re.compile(r"ban hanh (vao )?(ngay|thang|nam|thang, nam|luc) nao|ban hanh (khi nao|nam may|bao gio)"
                          r"|(ngay|thoi diem) ban hanh|ky (vao )?(ngay|luc|khi) nao|ky ngay")
# words that name a plan and the question about it, not a task: "kế hoạch CCHC này ban hành năm nào"
_PLAN_WORDS = frozenset("phuong ke hoach ban hanh nam thang ngay thuoc tinh ubnd uy nhan dan cchc cai cach chinh nha nuoc "
                        "kh nay vao ky giai doan".split())
_PROVINCE = re.compile(r"\btỉnh\s+((?:[A-ZĐ][^\s,;.()]*)(?:\s+[A-ZĐ][^\s,;.()]*)*)")
_DATE_LINE = re.compile(r"[^\n]*\bngày\b[^\n]*\bnăm\s+\d{4}")


def answer_doc_fact(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    if q.legal_keys or "nhiem vu" in q.folded or len(set(q.topic) - _PLAN_WORDS) > 1:
        return None  # about a task or an act, not about the plan itself
    docs = [answerer.index.docs[doc_id]] if doc_id else list(answerer.index.docs.values())
    lines, citations = [], []
    if _ASKS_PROVINCE.search(q.folded):
        for doc in docs:
            m = _PROVINCE.search(doc.text)
            if m:
                c = cite(doc, "Phần mở đầu", m.span())
                lines.append(f"Phường {doc.locality} thuộc {c.quote} (theo {doc.title}).")
                citations.append(c)
    elif _ASKS_ISSUED.search(q.folded):
        for doc in docs:
            m = _DATE_LINE.search(doc.text[:3000])
            if m:
                start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
                c = cite(doc, "Phần mở đầu", (start, m.end()))
                lines.append(f"{doc.title} ghi: «{c.quote}».")
                citations.append(c)
    if not lines:
        return None
    return Answer(answer=" ".join(lines), abstained=False, citations=citations, kind=q.kind)
