"""Agencies as entities and structured task queries (by agency and role, legal act, time window, document).

The registry is built from the task records: joint assignees are split into members, spelling variants
("Văn hoá"/"Văn hóa", "phường phường", "VP HĐND và UBND") share one key, and generic assignees
("Các cơ quan, đơn vị thuộc phường") are kept apart as their own kind.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import UnknownAgency
from ..models import Document, TaskRecord
from ..text.legal_ids import find_citations, query_keys
from ..text.normalize import ABBREVIATIONS, collapse_ws, fold, match_key
from .catalog import locality_key
from .deadlines import DATED, Milestone, in_window, overlaps, task_milestones
from .evidence import cite

if TYPE_CHECKING:
    from ..search.index import Index

_SPLIT = re.compile(
    r"\s*;\s*|,\s+(?=(?:Phòng|Văn phòng|Trung tâm|Công an|Sở|Ban|UBND|Ủy ban|[Cc]ác)\b)"
    r"|\s+và\s+(?=(?:Phòng|Văn phòng|Trung tâm|Công an|Sở|các)\b)"
)
_CUT = re.compile(r"\s*(\(|\bthực hiện thẩm định\b|\bgóp ý\b).*$")
_ABBR = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)) + r")\b")
ROLES = {"lead": ("lead", "executor"), "partner": ("partners",), "monitor": ("monitor",),
         "any": ("lead", "executor", "partners", "monitor")}
# spelling variants seen in the seed plans that key normalisation alone does not merge
_ALIASES = {"trung tam phuc vu hanh chinh": "trung tam phuc vu hanh chinh cong",
            "trung tam thuc vu hanh chinh cong": "trung tam phuc vu hanh chinh cong",
            "van phong hoi dong nhan dan va uy ban nhan dan": "van phong hoi dong nhan dan va uy ban nhan dan"}


@lru_cache(maxsize=8192)
def agency_key(name: str) -> str:
    key = match_key(_ABBR.sub(lambda m: ABBREVIATIONS[m.group(1)], fold(_CUT.sub("", name))))
    key = re.sub(r"(\s+phuong)+$", "", key)
    return _ALIASES.get(key, key)


def members(value: str) -> list[str]:
    return [collapse_ws(_CUT.sub("", m)).rstrip(".") for m in _SPLIT.split(value) if m.strip()]


def is_generic(key: str) -> bool:
    return key.startswith(("cac ", "co quan co lien quan", "co quan lien quan", "theo phan cong", "to chuc ca nhan",
                           "co quan quan ly cap tren"))


def is_all_units(key: str) -> bool:
    """A generic assignee that stands for every unit (or a class of units): "Các phòng, ban, đơn vị"…"""
    return key.startswith(("cac co quan", "cac phong", "cac don vi"))


@dataclass
class Agency:
    key: str
    name: str  # the most frequent spelling
    generic: bool
    aliases: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        return "generic" if self.generic else "agency"


class Registry:
    def __init__(self, tasks: list[TaskRecord], docs: dict[str, Document] | None = None) -> None:
        self.tasks, self.docs = tasks, docs or {}
        self._localities: dict[str, set[str]] | None = None
        names: dict[str, Counter] = defaultdict(Counter)
        self.by_role: dict[tuple[str, str], list[int]] = defaultdict(list)  # (key, role) → task positions
        for i, t in enumerate(tasks):
            for f in t.fields:
                if f.role not in ("lead", "executor", "partners", "monitor"):
                    continue
                for m in members(f.value):
                    k = agency_key(m)
                    if not k:
                        continue
                    names[k][m] += 1
                    positions = self.by_role[(k, f.role)]
                    if not positions or positions[-1] != i:  # tasks come in order: a repeat is the last one
                        positions.append(i)
        self.agencies = {k: Agency(k, c.most_common(1)[0][0], is_generic(k), set(c)) for k, c in names.items()}
        # specific agencies by their short form too ("Văn hóa - Xã hội"); generic ones only by a 3+ word name
        self._match_keys = sorted(((self._short(k), k) for k in self.agencies
                                   if not self.agencies[k].generic or len(k.split()) >= 4), key=lambda p: -len(p[0]))

    @staticmethod
    def _short(key: str) -> str:
        return re.sub(r"^(phong|van phong|trung tam) ", "", key) if key.startswith(("phong ", "trung tam ")) else key

    def find(self, text: str) -> Agency | None:
        """The specific agency a question names (longest match; the head word "Phòng" may be omitted)."""
        q = f" {match_key(_ABBR.sub(lambda m: ABBREVIATIONS[m.group(1)], fold(text)))} "
        for short, key in self._match_keys:
            if f" {short} " in q or f" {key} " in q:
                return self.agencies[key]
        return None

    def tasks_of(self, key: str, role: str = "lead") -> list[int]:
        lists = [self.by_role.get((key, r), []) for r in ROLES[role]]
        return list(lists[0]) if len(lists) == 1 else sorted({i for positions in lists for i in positions})

    def suggestions(self, name: str, n: int = 5) -> list[str]:
        from rapidfuzz import process

        choices = {k: a.name for k, a in self.agencies.items() if not a.generic}
        return [choices[k] for k, _, _ in process.extract(agency_key(name), list(choices), limit=n)]

    def resolve(self, name: str) -> Agency:
        """The agency a name means (exact key, generic ones included, else the longest match); else UnknownAgency."""
        agency = self.agencies.get(agency_key(name)) or (self.find(name) if collapse_ws(name) else None)
        if agency is None:
            raise UnknownAgency(collapse_ws(name), self.suggestions(name) if collapse_ws(name) else [])
        return agency

    def locality_docs(self, locality: str | None) -> set[str] | None:
        """The documents of a locality ("Nghĩa Lộ", "phường nghia lo"); None when none is asked for."""
        key = locality_key(locality or "")
        if not key:
            return None
        if self._localities is None:  # folded locality → its documents, once (every duty request may ask)
            self._localities = defaultdict(set)
            for d in self.docs.values():
                if d.locality:
                    self._localities[fold(d.locality)].add(d.doc_id)
        docs = self._localities.get(key)
        if not docs:
            known = ", ".join(sorted({d.locality for d in self.docs.values() if d.locality}))
            raise ValueError(f"Không có tài liệu nào của «{collapse_ws(locality or '')}». Có: {known}.")
        return docs

    def roles_in(self, key: str, pos: int) -> list[str]:
        return [r for r in ("lead", "partner", "monitor") if pos in self.tasks_of(key, r)]

    def milestones(self, pos: int) -> tuple[Milestone, ...]:
        t = self.tasks[pos]
        return task_milestones(t, self.docs.get(t.doc_id))

    def duty_sheet(self, agency_name: str, role: str = "lead", start: date | None = None, end: date | None = None,
                   doc_id: str | None = None, include_undated: bool = False,
                   locality: str | None = None) -> dict[str, Any]:
        """Every task of one agency in one role (optionally within a window, a document and a locality — the
        "Công an phường" of one ward, not every ward's), with milestones, an exact quote of the task, and how many
        tasks the same documents give to all units at once."""
        agency = self.resolve(agency_name)
        place = self.locality_docs(locality)
        chosen = [i for i in select(self, agency.key, role, doc_id, None, start, end, include_undated)
                  if place is None or self.tasks[i].doc_id in place]
        docs = {doc_id} if doc_id else {self.tasks[i].doc_id for i in self.tasks_of(agency.key, "any")}
        if place is not None:
            docs &= place
        own = set(self.tasks_of(agency.key, "lead"))
        generic = [i for i in select(self, None, "lead", None, None, start, end, include_undated)
                   if self.tasks[i].doc_id in docs and i not in own
                   and any(is_all_units(agency_key(m)) for m in members(self.tasks[i].lead))]
        rows = [self._row(i, agency) for i in chosen]
        return {"agency": agency.name, "key": agency.key, "kind": agency.kind, "role": role,
                "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
                "doc_id": doc_id, "locality": self.docs[next(iter(place))].locality if place else None, "total": len({(r["doc_id"], r["locator"].split(" › dòng")[0]) for r in rows}),
                "tasks": rows, "generic_count": len(generic),
                "generic_locators": [f"{self.tasks[i].doc_id}: {self.tasks[i].locator}" for i in generic]}

    def _row(self, pos: int, agency: Agency) -> dict[str, Any]:
        t = self.tasks[pos]
        doc = self.docs.get(t.doc_id)
        f = t.field("task")
        # a cell wrapped over appendix table lines is several spans: each is quoted ("quotes"); "quote" is the first
        cs = [cite(doc, t.locator, span, max_chars=220) for span in f.spans] if doc and f and f.spans else []
        c = cs[0] if cs else None
        ms = self.milestones(pos)
        roles = self.roles_in(agency.key, pos)
        flags = []
        leads = members(t.value("lead"))
        if any(agency_key(m) == agency.key for m in members(t.value("executor"))) and leads:
            flags.append("cơ quan thực hiện; chủ trì: " + "; ".join(leads))
        elif any(agency_key(m) == agency.key for m in leads) and len(leads) > 1:
            flags.append("đồng chủ trì với: " + "; ".join(m for m in leads if agency_key(m) != agency.key))
        if "lead" in roles and "partner" in roles:
            flags.append("vừa chủ trì vừa phối hợp")
        if ms and not any(m.kind in DATED for m in ms):
            flags.append("không có mốc thời gian cụ thể")
        if doc and any(m.end and not doc.year_from <= m.end.year <= doc.year_to for m in ms if m.kind in DATED):
            flags.append("mốc thời gian ngoài giai đoạn của kế hoạch")
        return {"task_id": t.task_id, "task": t.task, "doc_id": t.doc_id, "doc_title": doc.title if doc else "",
                "locator": t.locator, "roles": roles, "lead": t.lead, "partners": t.partners, "monitor": t.monitor,
                "deadline": t.deadline, "milestones": [m.to_dict() for m in ms], "flags": flags,
                "quote": c.quote if c else t.task, "start": c.start if c else t.span[0],
                "end": c.end if c else t.span[1],
                "quotes": [{"quote": x.quote, "start": x.start, "end": x.end} for x in cs]}


def registry_for(index: Index) -> Registry:
    """One registry (with the documents, for plan periods and quotes) per loaded index."""
    reg = index.__dict__.get("_duties_registry")
    if reg is None:
        reg = index.__dict__["_duties_registry"] = Registry(index.tasks, index.docs)
    return reg


def select(registry: Registry, key: str | None, role: str, doc_id: str | None, legal: str | None,
           start: date | None, end: date | None, include_undated: bool) -> list[int]:
    """Task positions matching every given filter (see ``query_tasks``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not «{role}»")
    if start and end and start > end:
        raise ValueError(f"Khoảng thời gian không hợp lệ: {start} sau {end}.")
    if doc_id and registry.docs and doc_id not in registry.docs:
        raise ValueError(f"Không có tài liệu «{doc_id}». Có: {', '.join(registry.docs)}.")
    positions = registry.tasks_of(key, role) if key else list(range(len(registry.tasks)))
    wanted = set(query_keys(legal)) if legal else set()
    if legal and not wanted:
        raise ValueError(f"Không nhận ra văn bản «{legal}» (ví dụ: 'Nghị định 118/2025/NĐ-CP').")
    dated = {k for k in wanted if k.count("-") >= 2}
    out = []
    for i in positions:
        t = registry.tasks[i]
        if doc_id and t.doc_id != doc_id:
            continue
        if wanted:
            have = {k for c in t.legal_ids for cit in find_citations(c) for k in cit.keys}
            if not (dated or wanted) & have:
                continue
        if (start or end) and not _in_window(registry, i, start, end, include_undated):
            continue
        out.append(i)
    return out


def _in_window(registry: Registry, pos: int, start: date | None, end: date | None, undated: bool) -> bool:
    ms = registry.milestones(pos)
    if any(m.kind in DATED and in_window(m, start, end) for m in ms):
        return True
    doc = registry.docs.get(registry.tasks[pos].doc_id)
    period = (doc.year_from, doc.year_to) if doc else None
    return undated and (not ms or any(m.kind not in DATED and overlaps(m, start, end, period) for m in ms))


def query_tasks(index: Index, registry: Registry | None = None, agency: str | Agency | None = None,
                role: str = "lead", doc_id: str | None = None, legal: str | None = None,
                start: date | None = None, end: date | None = None, include_undated: bool = False) -> list[TaskRecord]:
    """Tasks by agency and role (lead | partner | monitor | any), document, legal act and time window.

    The window keeps tasks with a dated milestone inside [start, end] (recurring ones when an occurrence is);
    conditional and ongoing ones join only with ``include_undated`` (when their bounds meet the window)."""
    reg = registry if registry is not None and registry.docs else registry_for(index)
    key = None
    if agency is not None:
        key = agency.key if isinstance(agency, Agency) else reg.resolve(agency).key
    return [reg.tasks[i] for i in select(reg, key, role, doc_id, legal, start, end, include_undated)]


_QUARTER = re.compile(r"quy\s*(iv|iii|ii|i|[1-4])\b(?:\s*(?:/|nam)\s*(20\d\d))?")
_MONTH = re.compile(r"thang\s*(\d{1,2})\b(?:\s*(?:/|nam)\s*(20\d\d))?")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def time_keys(text: str) -> set[str]:
    """Quarter and month mentions as keys ('q3', 'q3-2025', 'm8', 'm8-2025')."""
    f = fold(text)
    keys = set()
    for q, y in _QUARTER.findall(f):
        n = _ROMAN.get(q) or int(q)
        keys |= {f"q{n}", f"q{n}-{y}"} if y else {f"q{n}"}
    for m, y in _MONTH.findall(f):
        n = int(m)
        if 1 <= n <= 12:
            keys |= {f"m{n}", f"m{n}-{y}"} if y else {f"m{n}"}
    return keys


@lru_cache(maxsize=1 << 16)
def deadline_keys(deadline: str) -> frozenset[str]:
    return frozenset(time_keys(deadline))  # deadlines repeat across tasks and plans: parse each once

