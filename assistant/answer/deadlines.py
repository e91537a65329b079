"""Deadlines as data: a task's time text ("Quý III/2025 ban hành kế hoạch; định kỳ báo cáo…") → milestones.

Kinds: ``date`` (an exact day), ``before`` (due on or before a day), ``month`` / ``quarter`` / ``year`` (due within
that period), ``recurring`` (an RRULE: "hằng năm", "tháng 01 hằng năm", "trước ngày 31/01 năm liền kề"),
``conditional`` ("sau khi…", "khi có…", "theo Kế hoạch số…": no date is ever invented for these) and ``ongoing``
("thường xuyên", "định kỳ" without a frequency). Dates inside legal citations ("Kế hoạch số 81/KH-UBND ngày
14/4/2025") are masked first: they name an act, not a deadline.

Window rule (``in_window``): a dated milestone falls in [start, end] when its whole period does (a ``before`` or
day-level milestone is the single due day; "Quý III/2025" is 2025-07-01..2025-09-30). A recurring milestone
occurs in every year (or month) of the plan's period — ``Document.year_from..year_to`` — and falls in a window
when one of its occurrences does. Conditional and ongoing milestones are never in a window.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any

from ..models import Document, Span, TaskRecord
from ..text.legal_ids import find_citations
from ..text.normalize import fold
from ..text.spans import collapsed_map

KINDS = ("date", "before", "month", "quarter", "year", "recurring", "conditional", "ongoing")
DATED = ("date", "before", "month", "quarter", "year", "recurring")
Period = tuple[int, int]


@dataclass(frozen=True)
class Milestone:
    action: str  # the verb phrase the time applies to ("ban hành kế hoạch", "báo cáo"…) or ""
    kind: str  # one of KINDS
    start: date | None  # first day of the period (None for "before" and undated ones without a stated year)
    end: date | None  # last day / due day; for recurring: last occurrence's end
    rrule: str | None  # RFC 5545 rule for recurring ones, e.g. "FREQ=YEARLY;BYMONTH=1"
    text: str  # the words of the deadline this milestone was read from
    span: Span | None  # where ``text`` stands in the source file

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Milestone:
        return cls(d["action"], d["kind"], _day(d["start"]), _day(d["end"]), d["rrule"], d["text"],
                   tuple(d["span"]) if d.get("span") else None)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "rrule": self.rrule, "text": self.text,
                "span": list(self.span) if self.span else None}


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_TIME = re.compile(
    r"(?P<date>(?:ngay\s*)?(?P<d>\d{1,2})\s*/\s*(?P<m>\d{1,2})\s*/\s*(?P<y>20\d\d))"
    r"|(?P<rel>(?:ngay\s*)?(?P<rd>\d{1,2})\s*/\s*(?P<rm>\d{1,2})\s+nam\s+(?:truoc\s+)?lien\s+ke)"
    r"|(?P<mrec>thang\s*(?P<mr>\d{1,2})\s+(?:hang|moi)\s+nam)"
    r"|(?P<month>thang\s*(?P<mm>\d{1,2})\s*(?:/|nam)\s*(?P<my>20\d\d))"
    r"|(?P<quarter>quy\s*(?P<q>iv|iii|ii|i|[1-4])\s*(?:/|nam)\s*(?P<qy>20\d\d))"
    r"|(?P<year>nam\s+(?P<yy>20\d\d))"
    r"|(?P<yrec>(?:hang|moi)\s+nam)"
    r"|(?P<mrec2>(?:dinh ky\s+)?(?:hang|moi)\s+thang)"
    r"|(?P<bare>trong\s+nam)(?!\s*\d)"
)
_BEFORE = re.compile(r"(?:truoc|cham nhat(?: la)?|han cuoi)(?:\s+(?:ngay|trong|vao))?\s*$")
_CLAUSE = re.compile(r"\s*;\s*|,\s*(?=(?:bao cao|dinh ky)\b)")
_THEO_START = re.compile(r"^(?:thuc hien\s+)?theo\b")
_STRONG_IF = re.compile(r"\bsau khi\b|\bkhi\b|\bneu\b")
_ONGOING = re.compile(r"\bthuong xuyen\b|\bdinh ky\b")
_CUT_ACTION = re.compile(r"\s+(?:va|theo|khi|neu|sau khi)\s+|,|\(")
_TRAIL = re.compile(r"(?:\s+(?:cham nhat(?: la)?|hoan thanh|truoc|trong|vao|ngay|dinh ky|thuong xuyen|la))+\s*$")
_LEAD = re.compile(r"^(?:(?:va|thoi gian|dinh ky|thuong xuyen|hoac)\s+)+")
_VERB = re.compile(r"\b(?:ban hanh|bao cao|hoan thanh|to chuc|trien khai|kiem tra|xay dung|trinh|thuc hien|tiep tuc"
                   r"|tong ket|ra soat|cap nhat|cong bo|tham muu)\b")
_FILLER = {"trong", "vao", "truoc", "cham", "nhat", "la", "ngay", "tu", "den", "dinh", "ky", "thuong", "xuyen"}


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _mask_legal(text: str) -> str:
    """Blank out legal citations and the dates written right after them (same length, so offsets hold)."""
    out = list(text)
    for c in find_citations(text):
        end = c.end
        m = re.match(r"\s*,?\s*ngày\s+\d{1,2}\s*/\s*\d{1,2}\s*/\s*\d{4}", text[end:])
        end += m.end() if m else 0
        out[c.start:end] = " " * (end - c.start)
    return "".join(out)


def _action(value: str, folded: str, lo: int, hi: int, after: int, stop: int) -> str:
    """The verb phrase before the time words (the last "và"-piece), else the one right after them."""
    before = folded[lo:hi]
    a, b = lo + before.rfind(" va ") + 1, hi
    comma = folded.find(",", a, b)
    b = comma if comma > a and _VERB.search(folded[a:comma]) else b
    if not _VERB.search(folded[a:b]) and set(folded[a:b].split()) <= _FILLER:
        a, b = after, stop
        cut = _CUT_ACTION.search(folded[a:b])
        b = a + cut.start() if cut else b
        if set(folded[a:b].split()) <= _FILLER | {"nam"}:
            return ""
    return _phrase(value, folded, a, b)


def _phrase(value: str, folded: str, a: int, b: int, max_words: int = 10) -> str:
    seg = folded[a:b]
    a += len(seg) - len(seg.lstrip(" ,;."))
    lead = _LEAD.match(folded[a:b])
    a += lead.end() if lead else 0
    seg = _TRAIL.sub("", folded[a:b].rstrip(" ,;."))
    words = value[a:a + len(seg)].split()
    return " ".join(words[:max_words]).rstrip(" ,;.")


def _undated_action(value: str, folded: str, lo: int, hi: int) -> str:
    seg = folded[lo:hi]
    if _THEO_START.match(seg.strip()) or re.match(r"\s*(?:sau khi|khi|neu)\b", seg):
        return ""
    cut = re.search(r"\s+(?:theo|khi|neu|sau khi)\b|,", seg)
    verb = _VERB.search(seg, 0, cut.start() if cut else len(seg))
    return _phrase(value, folded, lo + verb.start(), lo + (cut.start() if cut else len(seg))) if verb else ""


def _dated(m: re.Match[str], period: Period | None) -> tuple[str, date | None, date | None, str | None]:
    """(kind, start, end, rrule) for one time expression."""
    y0, y1 = period or (None, None)
    g = m.groupdict()
    if g["date"]:
        d = date(int(g["y"]), int(g["m"]), int(g["d"]))
        return "date", d, d, None
    if g["month"]:
        y, mo = int(g["my"]), int(g["mm"])
        return "month", date(y, mo, 1), _month_end(y, mo), None
    if g["quarter"]:
        y, q = int(g["qy"]), _ROMAN.get(g["q"]) or int(g["q"])
        return "quarter", date(y, 3 * q - 2, 1), _month_end(y, 3 * q), None
    if g["year"]:
        y = int(g["yy"])
        return "year", date(y, 1, 1), date(y, 12, 31), None
    if g["bare"] and y0 is not None and y0 == y1:  # "trong năm" of a one-year plan = that year
        return "year", date(y0, 1, 1), date(y0, 12, 31), None
    if g["rel"]:
        mo, d = int(g["rm"]), int(g["rd"])
        rule = f"FREQ=YEARLY;BYMONTH={mo};BYMONTHDAY={d}"
        return "recurring", date(y0, mo, d) if y0 else None, date(y1, mo, d) if y1 else None, rule
    if g["mrec"]:
        mo = int(g["mr"])
        return ("recurring", date(y0, mo, 1) if y0 else None, _month_end(y1, mo) if y1 else None,
                f"FREQ=YEARLY;BYMONTH={mo}")
    if g["mrec2"]:
        return "recurring", date(y0, 1, 1) if y0 else None, date(y1, 12, 31) if y1 else None, \
            "FREQ=MONTHLY;BYMONTHDAY=-1"
    # "hằng năm", or "trong năm" of a multi-year plan: every year of the period
    return "recurring", date(y0, 1, 1) if y0 else None, date(y1, 12, 31) if y1 else None, "FREQ=YEARLY"


def parse(value: str, period: Period | None = None, offsets: list[int] | None = None) -> list[Milestone]:
    """Milestones of one deadline text. ``period`` is the plan's (year_from, year_to); ``offsets`` maps each
    character of ``value`` to its offset in the source (for spans)."""
    folded = fold(value)
    if len(folded) != len(value):  # folding must keep one character per character
        folded, offsets = value.lower(), None
    masked = _mask_legal(value)
    masked_f = "".join(" " if mc == " " and vc != " " else fc for fc, mc, vc in zip(folded, masked, value, strict=True))

    def span(a: int, b: int) -> Span | None:
        return (offsets[a], offsets[b - 1] + 1) if offsets and b > a else None

    out: list[Milestone] = []
    pos = 0
    for cut in [*_CLAUSE.finditer(masked_f), None]:
        lo, hi = pos, cut.start() if cut else len(value)
        pos = cut.end() if cut else hi
        clause = masked_f[lo:hi]
        if not clause.strip(" ."):
            continue
        found = [m for m in _TIME.finditer(clause)]
        found = [m for i, m in enumerate(found)  # "hằng tháng trong năm": the bare year only bounds the rule
                 if not (m.group("bare") and i and m.start() - found[i - 1].end() <= 1)]
        text = value[lo:hi].strip(" .")
        t0 = lo + len(clause) - len(clause.lstrip(" "))
        bounds = [_dated(m, period) for m in found if not (m.group("yrec") or m.group("mrec") or m.group("mrec2"))]
        b_start = min((s for _, s, _, _ in bounds if s), default=None)
        b_end = max((e for _, _, e, _ in bounds if e), default=None)
        recurring = any(m.group("yrec") or m.group("mrec") or m.group("mrec2") or m.group("rel") for m in found)
        undated = None
        if _THEO_START.match(clause.strip()) or _STRONG_IF.search(clause) or not found:
            undated = "ongoing" if not found and _ONGOING.search(clause) and not _STRONG_IF.search(clause) \
                and not _THEO_START.match(clause.strip()) else "conditional"
        elif _ONGOING.search(clause) and not recurring:
            undated = "ongoing"
        if undated:
            out.append(Milestone(_undated_action(value, folded, lo, hi), undated, b_start, b_end, None, text,
                                 span(t0, t0 + len(text))))
            continue
        prev = lo
        for i, m in enumerate(found):
            kind, start, end, rule = _dated(m, period)
            a, b = lo + m.start(), lo + m.end()
            before = _BEFORE.search(masked_f[prev:a]) if kind in ("date", "recurring") else None
            if before:
                kind, start = ("before", None) if kind == "date" else (kind, start)
                a = prev + before.start()
            elif kind == "year" and m.group("bare") and _ONGOING.search(clause):
                kind = "ongoing"
            nxt = lo + found[i + 1].start() if i + 1 < len(found) else hi
            out.append(Milestone(_action(value, folded, prev, a, b, nxt), kind, start, end, rule, value[a:b],
                                 span(a, b)))
            prev = b
    return out


def occurrences(m: Milestone) -> list[tuple[date, date]]:
    """Due periods of a dated milestone: one for date/before/month/quarter/year, one per year (or month) for
    recurring ones within [start, end]; none for conditional/ongoing ones or a recurrence without a period."""
    if m.kind not in DATED or m.end is None:
        return []
    if m.kind != "recurring":
        return [(m.start or m.end, m.end)]
    if m.start is None or not m.rrule:
        return []
    rule = dict(p.split("=") for p in m.rrule.split(";"))
    years = range(m.start.year, m.end.year + 1)
    if rule["FREQ"] == "MONTHLY":
        return [(date(y, mo, 1), _month_end(y, mo)) for y in years for mo in range(1, 13)
                if m.start <= date(y, mo, 1) <= m.end]
    if "BYMONTHDAY" in rule:
        return [(date(y, int(rule["BYMONTH"]), int(rule["BYMONTHDAY"])),) * 2 for y in years]
    if "BYMONTH" in rule:
        mo = int(rule["BYMONTH"])
        return [(date(y, mo, 1), _month_end(y, mo)) for y in years]
    return [(date(y, 1, 1), date(y, 12, 31)) for y in years]


def in_window(m: Milestone, start: date | None, end: date | None) -> bool:
    lo, hi = start or date.min, end or date.max
    return any(lo <= s and e <= hi for s, e in occurrences(m))


def overlaps(m: Milestone, start: date | None, end: date | None, period: Period | None) -> bool:
    """For undated milestones: do their stated bounds (else the plan's period) meet the window?"""
    s = m.start or (date(period[0], 1, 1) if period else date.min)
    e = m.end or (date(period[1], 12, 31) if period else date.max)
    return s <= (end or date.max) and (start or date.min) <= e


def _offsets(task: TaskRecord, source: str) -> list[int] | None:
    f = task.field("deadline")
    if f is None:
        return None
    text, offs = "", []
    for s in f.spans:
        part, o = collapsed_map(source, s)
        if not part:
            continue
        if text:
            text, offs = text + " ", offs + [o[0]]
        text, offs = text + part, offs + o
    return offs if text == f.value else None


@lru_cache(maxsize=4096)
def task_milestones(task: TaskRecord, doc: Document | None = None) -> tuple[Milestone, ...]:
    """The milestones of a task's deadline, with source spans, in the plan's period."""
    period = (doc.year_from, doc.year_to) if doc else None
    offsets = _offsets(task, doc.text) if doc else None
    out = parse(task.deadline, period, offsets) if task.deadline else []
    spans = task.field("deadline").spans if out else ()
    for i, m in enumerate(out):  # a cell split over a page break: keep the part before the break
        cell = next((s for s in spans if m.span and s[0] <= m.span[0] < s[1]), None)
        if cell and m.span[1] > cell[1]:
            end = len(doc.text[: cell[1]].rstrip())
            out[i] = replace(m, span=(m.span[0], end))
    return tuple(out)
