"""Agencies as entities and structured task queries (by agency and role, legal act, time window, document).

The registry is built from the task records: joint assignees are split into members, spelling variants
("Văn hoá"/"Văn hóa", "phường phường", "VP HĐND và UBND") share one key, and generic assignees
("Các cơ quan, đơn vị thuộc phường") are kept apart as their own kind.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..models import TaskRecord
from ..text.normalize import ABBREVIATIONS, collapse_ws, fold, match_key

_SPLIT = re.compile(
    r"\s*;\s*|,\s+(?=(?:Phòng|Văn phòng|Trung tâm|Công an|Sở|Ban|UBND|Ủy ban|[Cc]ác)\b)"
    r"|\s+và\s+(?=(?:Phòng|Văn phòng|Trung tâm|Công an|Sở|các)\b)"
)
_CUT = re.compile(r"\s*(\(|\bthực hiện thẩm định\b|\bgóp ý\b).*$")
_ABBR = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)) + r")\b")
ROLES = {"lead": ("lead", "executor"), "partner": ("partners",), "monitor": ("monitor",)}
# spelling variants seen in the seed plans that key normalisation alone does not merge
_ALIASES = {"trung tam phuc vu hanh chinh": "trung tam phuc vu hanh chinh cong",
            "trung tam thuc vu hanh chinh cong": "trung tam phuc vu hanh chinh cong",
            "van phong hoi dong nhan dan va uy ban nhan dan": "van phong hoi dong nhan dan va uy ban nhan dan"}


def agency_key(name: str) -> str:
    key = match_key(_ABBR.sub(lambda m: ABBREVIATIONS[m.group(1)], fold(_CUT.sub("", name))))
    key = re.sub(r"(\s+phuong)+$", "", key)
    return _ALIASES.get(key, key)


def members(value: str) -> list[str]:
    return [collapse_ws(_CUT.sub("", m)).rstrip(".") for m in _SPLIT.split(value) if m.strip()]


def is_generic(key: str) -> bool:
    return key.startswith(("cac ", "co quan co lien quan", "co quan lien quan", "theo phan cong", "to chuc ca nhan"))


@dataclass
class Agency:
    key: str
    name: str  # the most frequent spelling
    generic: bool
    aliases: set[str] = field(default_factory=set)


class Registry:
    def __init__(self, tasks: list[TaskRecord]) -> None:
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
                    if i not in self.by_role[(k, f.role)]:
                        self.by_role[(k, f.role)].append(i)
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
        out: list[int] = []
        for r in ROLES[role]:
            out += [i for i in self.by_role.get((key, r), []) if i not in out]
        return sorted(out)

    def suggestions(self, name: str, n: int = 5) -> list[str]:
        from rapidfuzz import process

        choices = {k: a.name for k, a in self.agencies.items() if not a.generic}
        return [choices[k] for k, _, _ in process.extract(agency_key(name), list(choices), limit=n)]


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


def matches_time(task: TaskRecord, wanted: set[str]) -> bool:
    have = time_keys(task.deadline)
    specific = {k for k in wanted if "-" in k}
    return bool(specific & have) if specific else bool(wanted & have)
