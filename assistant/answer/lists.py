"""List and count questions answered from the task records: every matching task, no more, no fewer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..models import Answer
from ..text.legal_ids import legal_keys
from .duties import matches_time, time_keys
from .evidence import cite

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer

ROLE_WORDS = {"partner": r"phoi hop", "monitor": r"theo doi|don doc"}
ROLE_TEXT = {"lead": "chủ trì", "partner": "phối hợp", "monitor": "theo dõi, đôn đốc"}


def answer_list(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    index, registry = answerer.index, answerer.registry
    agency = registry.find(q.text)
    role = next((r for r, pat in ROLE_WORDS.items() if re.search(pat, q.folded)), "lead")
    window = time_keys(q.text)
    positions = list(range(len(index.tasks)))
    filters = []
    if agency:
        positions = registry.tasks_of(agency.key, role)
        filters.append(f"{agency.name} {ROLE_TEXT[role]}")
    if window:
        positions = [i for i in positions if matches_time(index.tasks[i], window)]
        filters.append("thời hạn " + ", ".join(sorted(k for k in window if "-" in k) or sorted(window)))
    if q.legal_keys:
        wanted = set(q.legal_keys)
        positions = [i for i in positions if any(set(_keys(c)) & wanted for c in index.tasks[i].legal_ids)]
        filters.append("căn cứ " + q.text)
    if not filters:
        return None
    if doc_id:
        positions = [i for i in positions if index.tasks[i].doc_id == doc_id]
    tasks = [index.tasks[i] for i in positions]
    what = "; ".join(filters)
    if not tasks:
        return answerer.abstain(q, f"không có nhiệm vụ nào khớp: {what}")
    limit = answerer.settings.list_limit
    lines, citations, items = [], [], []
    for n, t in enumerate(tasks, 1):
        doc = index.docs[t.doc_id]
        task_cite = cite(doc, t.locator, t.field("task").spans[0], max_chars=220)
        items.append({"task": t.task, "deadline": t.deadline, "doc_id": t.doc_id, "locator": t.locator,
                      "quote": task_cite.quote, "start": task_cite.start, "end": task_cite.end})
        if n <= limit:
            deadline = f" — thời hạn: {t.deadline}" if t.deadline else ""
            lines.append(f"{n}. {task_cite.quote.rstrip('.')}{deadline} [{doc.title}, {t.locator}]")
            citations.append(task_cite)
    head = f"Có {len(tasks)} nhiệm vụ ({what})"
    more = f"\n… và {len(tasks) - limit} nhiệm vụ khác (xem bảng nhiệm vụ của đơn vị)." if len(tasks) > limit else ""
    return Answer(answer=head + ":\n" + "\n".join(lines) + more, abstained=False, citations=citations, kind=q.kind,
                  items=items, total=len(tasks))


def _keys(canonical: str) -> list[str]:
    m = re.match(r"(\d+)(?:/(\d{4}))?/([^-/]+)-", canonical) or re.match(r"(\d+)-([^/]+)/", canonical)
    if not m:
        return []
    if len(m.groups()) == 3:
        num, year, code = m.groups()
        return legal_keys(code, num, int(year) if year else None)
    num, code = m.groups()
    return legal_keys(code, num, None)
