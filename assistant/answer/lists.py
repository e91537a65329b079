"""List and count questions answered from the task records: every matching task, no more, no fewer.

Filters compose: agency and role (chủ trì / phối hợp / theo dõi / cơ quan thực hiện), section (by name or Roman
numeral), deadline window (quarter, month, year), legal act, document.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..models import Answer, TaskRecord
from ..text.legal_ids import legal_keys
from ..text.normalize import fold
from .duties import matches_time, time_keys
from .evidence import cite

MAX_ITEMS = 200  # items an answer carries (``total`` still counts all): a province's plans can match thousands

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer

ROLE_WORDS = {"partner": r"phoi hop", "monitor": r"theo doi|don doc", "executor": r"co quan thuc hien"}
ROLE_TEXT = {"lead": "chủ trì", "partner": "phối hợp", "monitor": "theo dõi, đôn đốc", "executor": "thực hiện"}
_ALL = re.compile(r"tong cong|tat ca|toan bo|bao nhieu nhiem vu cu the|\bco bao nhieu nhiem vu\b|gom bao nhieu nhiem vu")
_ROMAN_GROUP = re.compile(r"\bmuc ([ivx]+)\b")
_DUE = re.compile(r"\bhan\b|hoan thanh|\bxong\b|thoi gian|den han")
_YEAR_IN = re.compile(r"(?:trong |vao )?nam (20\d\d)\b")
_ABOUT = re.compile(r"\b(?:lien quan(?: den| toi)?|ve viec)\s+([a-z0-9 ]+?)\s*(?:\?|$|,|\btrong\b|\bcua\b|\bo\b)")
_EMPTY = re.compile(r"\b(?:de trong|khong co|khong ghi|thieu|bo trong)\s+(?:cot\s+)?(phoi hop|chu tri|san pham|theo doi)")
_EMPTY_ROLE = {"phoi hop": "partners", "chu tri": "lead", "san pham": "product", "theo doi": "monitor"}
_GROUPS = re.compile(r"(nhung|cac) (linh vuc|nhom|muc|phan)\b.{0,30}\b(nao|gi)|chia .{0,30}thanh (nhung|cac)")


def base_locator(t: TaskRecord) -> str:
    return t.locator.split(" › dòng")[0]


def _group_filter(tasks: list[TaskRecord], q: Question) -> tuple[list[TaskRecord], str] | None:
    m = _ROMAN_GROUP.search(q.folded)
    if m and "phu luc" in q.folded:
        numeral = m.group(1).upper()
        chosen = [t for t in tasks if t.source == "appendix" and t.locator.split(" › ")[1] == numeral]
        if chosen:
            return chosen, f"mục {numeral} của Phụ lục"
    groups = {t.group for t in tasks if t.group}
    q_words = set(re.findall(r"[a-z]+", q.folded))
    best = None
    for g in groups:
        g_words = set(re.findall(r"[a-z]+", fold(g)))
        covered = len(g_words) >= 2 and len(g_words & q_words) / len(g_words) >= 0.8
        if covered and (best is None or len(g_words) > len(best[1])):
            best = (g, g_words)
    if best:
        return [t for t in tasks if t.group == best[0]], f"lĩnh vực «{best[0]}»"
    return None


def answer_groups(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    """"Which fields/sections is the plan divided into?": the section headings that group its tasks."""
    if not _GROUPS.search(q.folded):
        return None
    from ..text.spans import locate

    index = answerer.index
    tasks = [t for t in index.tasks if doc_id is None or t.doc_id == doc_id]
    if "phu luc" in q.folded:
        tasks = [t for t in tasks if t.source == "appendix"]
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for t in tasks:
        heading = t.heading_path[1] if len(t.heading_path) > 1 else ""
        if heading and (t.doc_id, heading) not in seen:
            seen[(t.doc_id, heading)] = (t.group, t.locator.rsplit(" › ", 1)[0])
    lines, citations, items = [], [], []
    for n, ((doc_id_, heading), (group, locator)) in enumerate(seen.items(), 1):
        doc = index.docs[doc_id_]
        span = locate(doc.text, (0, len(doc.text)), group) if group else None
        lines.append(f"{n}. {heading} [{doc.title}]")
        items.append({"task": heading, "quote": group, "doc_id": doc_id_, "locator": locator})
        if span:
            citations.append(cite(doc, locator, span))
    if not lines:
        return None
    return Answer(answer=f"Có {len(lines)} lĩnh vực:\n" + "\n".join(lines), abstained=False, citations=citations,
                  kind=q.kind, items=items, total=len(lines))


def answer_list(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    groups = answer_groups(answerer, q, doc_id)
    if groups is not None:
        return groups
    index, registry = answerer.index, answerer.registry
    positions = answerer.catalog.tasks_of.get(doc_id, []) if doc_id else range(len(index.tasks))
    tasks = [index.tasks[i] for i in positions]
    if "phu luc" in q.folded and any(t.source == "appendix" for t in tasks):
        tasks = [t for t in tasks if t.source == "appendix"]
    filters = []
    agency = registry.find(q.text)
    if agency:
        role = next((r for r, pat in ROLE_WORDS.items() if re.search(pat, q.folded)), "lead")
        mine = set(registry.tasks_of(agency.key, role)) if role != "executor" else \
            {i for i in registry.tasks_of(agency.key, "lead")} - set(registry.by_role.get((agency.key, "lead"), []))
        tasks = [t for t in tasks if answerer.catalog.task_pos[t.task_id] in mine]
        filters.append(f"{agency.name} {ROLE_TEXT[role]}")
    window = time_keys(q.text)
    if not window and _DUE.search(q.folded):
        window = {f"y{y}" for y in _YEAR_IN.findall(q.folded)}
    if window:
        tasks = [t for t in tasks if matches_time(t, window) or _due_in_year(t, window)]
        filters.append("thời hạn " + ", ".join(_window_text(k) for k in sorted(k for k in window if "-" in k) or sorted(window)))
    if q.legal_keys:
        wanted = set(q.legal_keys)
        tasks = [t for t in tasks if any(set(_keys(c)) & wanted for c in t.legal_ids)]
        filters.append("căn cứ " + ", ".join(sorted(wanted)))
    about = _ABOUT.search(q.folded)
    if about and len(set(about.group(1).split()) - {"viec", "gi", "nao", "nhung", "cac", "cai"}) >= 2:
        phrase = about.group(1).strip()
        tasks = [t for t in tasks if phrase in fold(t.task)]
        filters.append(f"liên quan «{phrase}»")
    empty = _EMPTY.search(q.folded)
    if empty:
        role = _EMPTY_ROLE[empty.group(1)]
        tasks = [t for t in tasks if not t.value(role) and not (role == "lead" and t.value("executor"))]
        filters.append(f"không ghi {empty.group(1)}")
    grouped = _group_filter(tasks, q)
    if grouped:
        tasks, what = grouped
        filters.append(what)
    if not filters and _ALL.search(q.folded) and doc_id:
        filters.append("tất cả nhiệm vụ của kế hoạch")
    if not filters:
        return None
    what = "; ".join(filters)
    if not tasks:
        return answerer.abstain(q, f"không có nhiệm vụ nào khớp: {what}")
    limit = answerer.settings.list_limit
    lines, citations, items = [], [], []
    for n, t in enumerate(tasks[:MAX_ITEMS], 1):
        doc = index.docs[t.doc_id]
        task_cite = cite(doc, t.locator, t.field("task").spans[0], max_chars=220)
        items.append({"task": t.task, "deadline": t.deadline, "lead": t.lead, "doc_id": t.doc_id,
                      "locator": t.locator, "quote": task_cite.quote, "start": task_cite.start, "end": task_cite.end})
        if n <= limit:
            deadline = f" — thời hạn: {t.deadline}" if t.deadline else ""
            lines.append(f"{n}. {task_cite.quote.rstrip('.')}{deadline} [{doc.title}, {t.locator}]")
            citations.append(task_cite)
    total = len({(t.doc_id, base_locator(t)) for t in tasks})
    head = f"Có {total} nhiệm vụ ({what})"
    more = f"\n… và {len(tasks) - limit} nhiệm vụ khác (xem bảng nhiệm vụ của đơn vị)." if len(tasks) > limit else ""
    return Answer(answer=head + ":\n" + "\n".join(lines) + more, abstained=False, citations=citations, kind=q.kind,
                  items=items, total=total)


_QUARTERS = {"1": "I", "2": "II", "3": "III", "4": "IV"}


def _window_text(key: str) -> str:
    """'q3-2025' → 'Quý III/2025', 'm8' → 'tháng 8', 'y2026' → 'năm 2026'."""
    head, _, year = key.partition("-")
    if head.startswith("q"):
        text = f"Quý {_QUARTERS.get(head[1:], head[1:])}"
    elif head.startswith("m"):
        text = f"tháng {head[1:]}"
    else:
        return f"năm {head[1:]}"
    return f"{text}/{year}" if year else text


def _due_in_year(t: TaskRecord, window: set[str]) -> bool:
    years = {k[1:] for k in window if k.startswith("y")}
    return bool(years) and any(re.search(rf"\b{y}\b", t.deadline) for y in years)


def _keys(canonical: str) -> list[str]:
    m = re.match(r"(\d+)(?:/(\d{4}))?/([^-/]+)-", canonical)
    if m:
        num, year, code = m.groups()
        return legal_keys(code, num, int(year) if year else None)
    m = re.match(r"(\d+)-([^/]+)/", canonical)
    return legal_keys(m.group(2), m.group(1), None) if m else []
