"""Legal citations: find them in text and reduce every variant to one key.

"Nghị định số 118/2025/NĐ-CP", "NĐ 118/2025", "nghi dinh 118 2025" and "118/2025/nđ-cp" all give the
keys ``nd-118`` and ``nd-118-2025``; the canonical id is "118/2025/NĐ-CP".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import fold

# folded act-type words / codes → code used in keys and canonical ids
ACT_TYPES: dict[str, str] = {
    "nghi dinh": "NĐ",
    "quyet dinh": "QĐ",
    "nghi quyet": "NQ",
    "thong tu": "TT",
    "ke hoach": "KH",
    "chi thi": "CT",
    "cong van": "CV",
    "thong bao": "TB",
    "luat": "L",
    "ket luan": "KL",
}
CODE_NAMES = {
    "NĐ": "Nghị định", "QĐ": "Quyết định", "NQ": "Nghị quyết", "TT": "Thông tư", "KH": "Kế hoạch",
    "CT": "Chỉ thị", "CV": "Công văn", "TB": "Thông báo", "L": "Luật", "KL": "Kết luận",
}
_CODES = "NĐ|QĐ|NQ|TT|KH|CT|CV|TB|KL|ND|QD"

# Full citation ids as written in documents (applied to whitespace-collapsed original text).
#   118/2025/NĐ-CP · 393/QĐ-UBND · 131/NQ- CP (line-broken) · 04-NQ/TU (party) · 01/2023/TT-VPCP
_STATE_ID = re.compile(
    rf"(?<![\w/])(?P<num>\d{{1,5}})(?:/(?P<year>(?:19|20)\d\d))?/(?P<code>{_CODES})\s*-\s*(?P<issuer>[A-ZĐ][A-Za-zĐđ]*)"
)
_PARTY_ID = re.compile(rf"(?<![\w/])(?P<num>\d{{1,5}})-(?P<code>{_CODES})/(?P<issuer>[A-ZĐ]{{2,4}})\b")
_DATE_AFTER = re.compile(r"^\s*,?\s*ngày\s+(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*((?:19|20)\d\d)")
_TYPE_BEFORE = re.compile(
    r"(Nghị\s+định|Quyết\s+định|Nghị\s+quyết|Thông\s+tư|Kế\s+hoạch|Chỉ\s+thị|Công\s+văn|Kết\s+luận)\s+(?:số\s+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Citation:
    code: str  # NĐ, QĐ, ...
    number: str
    year: int | None
    issuer: str
    canonical: str
    date: str
    start: int  # offsets in the text searched (surface includes the act-type words when present)
    end: int

    @property
    def keys(self) -> list[str]:
        return legal_keys(self.code, self.number, self.year)


def _code(raw: str) -> str:
    return {"ND": "NĐ", "QD": "QĐ"}.get(raw.upper(), raw.upper())


def legal_keys(code: str, number: str, year: int | None) -> list[str]:
    c = fold(code)
    n = str(int(number)) if number.isdigit() else number
    keys = [f"{c}-{n}"]
    if year:
        keys.append(f"{c}-{n}-{year}")
    return keys


def find_citations(text: str) -> list[Citation]:
    """All citation ids in ``text`` (original or collapsed), with the act-type words before them."""
    found: list[Citation] = []
    for pattern, party in ((_STATE_ID, False), (_PARTY_ID, True)):
        for m in pattern.finditer(text):
            code = _code(m.group("code"))
            issuer = m.group("issuer")
            year_s = None if party else m.group("year")
            date = ""
            dm = _DATE_AFTER.match(text[m.end(): m.end() + 40])
            if dm:
                date = f"{int(dm.group(1))}/{int(dm.group(2))}/{dm.group(3)}"
            year = int(year_s) if year_s else (int(date[-4:]) if date else None)
            num = m.group("num")
            canonical = f"{num}-{code}/{issuer}" if party else (
                f"{num}/{year_s}/{code}-{issuer}" if year_s else f"{num}/{code}-{issuer}")
            start = m.start()
            tb = _TYPE_BEFORE.search(text[max(0, start - 40): start])
            if tb:
                start -= len(text[max(0, m.start() - 40): m.start()]) - tb.start()
            found.append(Citation(code, num, year, issuer, canonical, date, start, m.end()))
    found.sort(key=lambda c: c.start)
    return found


# Query side: "NĐ 118/2025", "nghi dinh so 118 2025", "QĐ 1441", "nghị quyết 66/NQ-CP" (folded text).
_Q_TYPE = "|".join(sorted([*ACT_TYPES, "nd", "qd", "nq", "tt", "kh", "ct"], key=len, reverse=True))
_QUERY_CITE = re.compile(
    rf"(?<!\w)(?P<type>{_Q_TYPE})\s*(?:so\s*)?(?P<num>\d{{1,5}})(?:\s*[/ .-]\s*(?P<year>(?:19|20)\d\d)(?!\d))?"
)


def query_keys(question: str) -> list[str]:
    """Legal keys named in a question, whatever way it writes them."""
    folded = fold(question)
    keys: list[str] = []
    for c in find_citations(question.upper().replace("Đ", "Đ")):
        keys.extend(c.keys)
    for m in _QUERY_CITE.finditer(folded):
        t = m.group("type")
        if "so" not in m.group(0).split() and 1990 <= int(m.group("num")) <= 2099:  # "kế hoạch 2026-2030" names a period, not an act
            continue
        code = ACT_TYPES.get(t) or _code(t)
        year = int(m.group("year")) if m.group("year") else None
        keys.extend(legal_keys(code, m.group("num"), year))
    return list(dict.fromkeys(keys))
