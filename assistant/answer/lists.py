"""List and count questions answered from the task records: every matching task, no more, no fewer.

Filters compose: agency and role (chủ trì / phối hợp / theo dõi / cơ quan thực hiện), section (by name or Roman
numeral), deadline window (quarter, month, year), legal act, document.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from ..models import Answer, TaskRecord
from ..search.columns import Codes
from ..search.index import Index, derived
from ..text.legal_ids import legal_keys
from ..text.normalize import fold
from .duties import deadline_keys, time_keys
from .evidence import cite, task_cites

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


def _group_filter(fields: TaskFields, sel: np.ndarray, q: Question) -> tuple[np.ndarray, str] | None:
    """The selected tasks (positions) of the section the question names: a Roman numeral of the appendix, or a
    task group whose words the question holds."""
    m = _ROMAN_GROUP.search(q.folded)
    if m and "phu luc" in q.folded:
        numeral = m.group(1).upper()
        code = fields.numerals.index.get(numeral)
        chosen = sel[fields.numerals.codes[sel] == code] if code is not None else sel[:0]
        if len(chosen):
            return chosen, f"mục {numeral} của Phụ lục"
    groups = [fields.groups.values[c] for c in np.unique(fields.groups.codes[sel]).tolist()]
    q_words = set(re.findall(r"[a-z]+", q.folded))
    best = None
    for g in groups:
        if not g:
            continue
        g_words = set(re.findall(r"[a-z]+", fold(g)))
        covered = len(g_words) >= 2 and len(g_words & q_words) / len(g_words) >= 0.8
        if covered and (best is None or len(g_words) > len(best[1])):
            best = (g, g_words)
    if best:
        return sel[fields.groups.codes[sel] == fields.groups.index[best[0]]], f"lĩnh vực «{best[0]}»"
    return None


def answer_groups(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    """"Which fields/sections is the plan divided into?": the section headings that group its tasks."""
    if not _GROUPS.search(q.folded):
        return None
    from ..text.spans import locate

    index = answerer.index
    by_doc = task_fields(index).headings["phu luc" in q.folded]
    seen = [(d, h, group, locator) for d in ([doc_id] if doc_id else by_doc) for h, group, locator in by_doc.get(d, ())]
    lines, citations, items = [], [], []
    for n, (doc_id_, heading, group, locator) in enumerate(seen[:MAX_ITEMS], 1):
        doc = index.docs[doc_id_]
        lines.append(f"{n}. {heading} [{doc.title}]")
        items.append({"task": heading, "quote": group, "doc_id": doc_id_, "locator": locator})
        span = locate(doc.text, (0, len(doc.text)), group) if group and n <= answerer.settings.list_limit else None
        if span:
            citations.append(cite(doc, locator, span))
    if not lines:
        return None
    more = f"\n… và {len(seen) - len(lines)} lĩnh vực khác." if len(seen) > len(lines) else ""
    return Answer(answer=f"Có {len(seen)} lĩnh vực:\n" + "\n".join(lines) + more, abstained=False,
                  citations=citations, kind=q.kind, items=items, total=len(seen))


def _headings(tasks: list[TaskRecord]) -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, list[tuple[str, str, str]]]]:
    """Per document, the headings that group its tasks, in order, with the first task's group text and locator:
    (over every task, over the appendix's only)."""
    every: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    appendix: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for t in tasks:
        heading = t.heading_path[1] if len(t.heading_path) > 1 else ""
        if not heading:
            continue
        entry = (heading, t.group, t.locator.rsplit(" › ", 1)[0])
        for out in (every, appendix) if t.source == "appendix" else (every,):
            out[t.doc_id].setdefault(heading, entry)
    return {d: list(h.values()) for d, h in every.items()}, {d: list(h.values()) for d, h in appendix.items()}


def answer_list(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    groups = answer_groups(answerer, q, doc_id)
    if groups is not None:
        return groups
    index, registry = answerer.index, answerer.registry
    fields = task_fields(index)
    # the selection as task positions (None = every task), narrowed by set intersections on indexed fields, so a
    # list over a whole province does not test every task in Python; index order is kept when it is materialised
    chosen: set[int] | None = set(answerer.catalog.tasks_of.get(doc_id, [])) if doc_id else None

    def narrow(positions: set[int]) -> None:
        nonlocal chosen
        chosen = set(positions) if chosen is None else chosen & positions

    if "phu luc" in q.folded and (fields.appendix if chosen is None else fields.appendix & chosen):
        narrow(fields.appendix)
    filters = []
    agency = registry.find(q.text)
    if agency:
        role = next((r for r, pat in ROLE_WORDS.items() if re.search(pat, q.folded)), "lead")
        mine = set(registry.tasks_of(agency.key, role)) if role != "executor" else \
            {i for i in registry.tasks_of(agency.key, "lead")} - set(registry.by_role.get((agency.key, "lead"), []))
        narrow(mine)
        filters.append(f"{agency.name} {ROLE_TEXT[role]}")
    window = time_keys(q.text)
    if not window and _DUE.search(q.folded):
        window = {f"y{y}" for y in _YEAR_IN.findall(q.folded)}
    if window:  # a deadline naming the quarter/month asked (with its year when one is asked), or the year asked
        specific = {k for k in window if "-" in k}
        due: set[int] = set()
        for k in specific or window:
            due |= fields.by_time.get(k, set())
        for k in window:
            if k.startswith("y"):
                due |= fields.by_year.get(k[1:], set())
        narrow(due)
        filters.append("thời hạn " + ", ".join(_window_text(k) for k in sorted(k for k in window if "-" in k) or sorted(window)))
    if q.legal_keys:
        wanted = set(q.legal_keys)
        narrow(set().union(*(fields.by_act.get(k, set()) for k in wanted)))
        filters.append("căn cứ " + ", ".join(sorted(wanted)))
    about = _ABOUT.search(q.folded)
    empty = _EMPTY.search(q.folded)
    if empty:
        narrow(fields.empty[_EMPTY_ROLE[empty.group(1)]])
    tasks = index.tasks
    sel = np.arange(len(tasks)) if chosen is None else np.array(sorted(chosen), dtype=np.int64)
    if about and len(set(about.group(1).split()) - {"viec", "gi", "nao", "nhung", "cac", "cai"}) >= 2:
        phrase = about.group(1).strip()
        sel = np.array([i for i in sel.tolist() if phrase in fold(tasks[i].task)], dtype=np.int64)
        filters.append(f"liên quan «{phrase}»")
    if empty:
        filters.append(f"không ghi {empty.group(1)}")
    grouped = _group_filter(fields, sel, q)
    if grouped:
        sel, what = grouped
        filters.append(what)
    if not filters and _ALL.search(q.folded) and doc_id:
        filters.append("tất cả nhiệm vụ của kế hoạch")
    if not filters:
        return None
    what = "; ".join(filters)
    if not len(sel):
        return answerer.abstain(q, f"không có nhiệm vụ nào khớp: {what}")
    limit = answerer.settings.list_limit
    lines, citations, items = [], [], []
    for n, t in enumerate((tasks[i] for i in sel[:MAX_ITEMS].tolist()), 1):
        doc = index.docs[t.doc_id]
        cites = task_cites(doc, t, max_chars=220)  # a cell wrapped over table lines: each line quoted
        task_cite = cites[0]
        items.append({"task": t.task, "deadline": t.deadline, "lead": t.lead, "doc_id": t.doc_id,
                      "locator": t.locator, "quote": task_cite.quote, "start": task_cite.start, "end": task_cite.end})
        if n <= limit:
            deadline = f" — thời hạn: {t.deadline}" if t.deadline else ""
            text = " ".join(c.quote for c in cites).rstrip(".")
            lines.append(f"{n}. {text}{deadline} [{doc.title}, {t.locator}]")
            citations += cites
    total = len(np.unique(fields.rows.codes[sel]))  # an appendix row split over several lines counts once
    head = f"Có {total} nhiệm vụ ({what})"
    more = f"\n… và {len(sel) - limit} nhiệm vụ khác (xem bảng nhiệm vụ của đơn vị)." if len(sel) > limit else ""
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


class TaskFields:
    """Task positions by field value — appendix rows, deadline keys and years, cited acts — and each plan's field
    spans by role, built once per index (~10 µs a task) so that list filters are lookups."""

    def __init__(self, tasks: list[TaskRecord]) -> None:
        self.appendix = {i for i, t in enumerate(tasks) if t.source == "appendix"}
        self.by_time: dict[str, set[int]] = defaultdict(set)  # time_keys of the deadline (q3, q3-2025, m8…)
        self.by_year: dict[str, set[int]] = defaultdict(set)  # a year the deadline writes ("2026")
        self.by_act: dict[str, set[int]] = defaultdict(set)  # legal keys of the acts the task cites
        self.spans: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)  # (doc, field role) → spans
        self.empty: dict[str, set[int]] = {}  # a column left empty (lead: nor an executor named instead)
        for role in _EMPTY_ROLE.values():
            self.empty[role] = {i for i, t in enumerate(tasks)
                                if not t.value(role) and not (role == "lead" and t.value("executor"))}
        self.headings = _headings(tasks)
        self.numerals = Codes(t.locator.split(" › ")[1] if t.source == "appendix" else "" for t in tasks)
        self.groups = Codes(t.group for t in tasks)
        self.rows = Codes(f"{t.doc_id}\t{base_locator(t)}" for t in tasks)
        for i, t in enumerate(tasks):
            for f in t.fields:
                self.spans[(t.doc_id, f.role)] += f.spans
            for k in deadline_keys(t.deadline):
                self.by_time[k].add(i)
            for y in _YEAR_WORD.findall(t.deadline):
                self.by_year[y].add(i)
            for c in t.legal_ids:
                for k in _keys(c):
                    self.by_act[k].add(i)


def task_fields(index: Index) -> TaskFields:
    return derived(index, "lists.task_fields", lambda: TaskFields(index.tasks))


_YEAR_WORD = re.compile(r"\b(\d{4})\b")


def _keys(canonical: str) -> list[str]:
    m = re.match(r"(\d+)(?:/(\d{4}))?/([^-/]+)-", canonical)
    if m:
        num, year, code = m.groups()
        return legal_keys(code, num, int(year) if year else None)
    m = re.match(r"(\d+)-([^/]+)/", canonical)
    return legal_keys(m.group(2), m.group(1), None) if m else []
