"""The legal acts a plan cites, as a catalogue: which acts (by type, issuer, document), when issued, where cited."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..models import Answer, LegalReference
from .evidence import cite
from .lists import MAX_ITEMS, task_fields

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer

_TYPES = [("nghi dinh", "NĐ"), ("quyet dinh", "QĐ"), ("nghi quyet", "NQ"), ("thong tu", "TT"), ("chi thi", "CT"),
          ("ke hoach so", "KH")]
_ISSUERS = [("thu tuong", "TTg"), ("chinh phu", "CP"), ("tinh uy", "TU"), ("hoi dong nhan dan", "HĐND"),
            ("hdnd", "HĐND"), ("ubnd tinh", "UBND"), ("uy ban nhan dan tinh", "UBND"), ("van phong chinh phu", "VPCP")]
_ASKS_ACTS = re.compile(r"(nghi dinh|quyet dinh|nghi quyet|thong tu|chi thi|van ban)( phap luat| phap ly)? (nao|gi)\b"
                        r"|nhung (nghi dinh|quyet dinh|nghi quyet|thong tu|chi thi|van ban)|can cu (nhung|nao|vao)"
                        r"|(bao nhieu|may) (van ban|nghi dinh|quyet dinh)")
_ACT_WORDS = frozenset("nghi dinh quyet nghi quyet thong tu chi thi van ban phap luat ly so hieu ke hoach kh cchc cai cach "
                       "hanh chinh vien dan trich dan nhung cac phuong".split())
_COLUMN = re.compile(r"\bcot\s+(thoi gian|san pham|chu tri|phoi hop|nhiem vu)")
_COLUMN_ROLE = {"thoi gian": "deadline", "san pham": "product", "chu tri": "lead", "phoi hop": "partners", "nhiem vu": "task"}
# the words that introduce a citation, quoted with it: "Căn cứ …", "Theo Điều 17 …", "tại khoản 4 Điều 35 …"
_LEAD_IN = re.compile(r"(?:(?:Căn cứ|Thực hiện|[Tt]heo|tại)\s+)?(?:(?:điểm|khoản)\s+\S+\s+)*(?:Điều\s+\d+\s+)?"
                      r"(?<=\s)$|(?:Căn cứ|Thực hiện|[Tt]heo|tại)\s+$")
_DATE_TAIL = re.compile(r"^\s*,?\s*ngày\s+\d{1,2}\s*/\s*\d{1,2}\s*/\s*\d{4}")


def asks_for_acts(q: Question) -> bool:
    return bool(_ASKS_ACTS.search(q.folded))


def _preamble(answerer: Answerer, r: LegalReference) -> bool:
    """Is the reference in a paragraph that states the plan's basis ("Căn cứ …", "Thực hiện …")?"""
    text = answerer.index.docs[r.doc_id].text
    line_start = text.rfind("\n", 0, r.span[0]) + 1
    return text[line_start : r.span[0]].lstrip().startswith(("Căn cứ", "Thực hiện"))


def answer_acts(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    codes = {c for w, c in _TYPES if w in q.folded}
    issuer = next((c for w, c in _ISSUERS if w in q.folded), None)
    column = _COLUMN.search(q.folded)
    catalogue_filter = codes or issuer or column or re.search(r"\bcan cu\b|ca (hai|2)|cung (vien|trich) dan", q.folded)
    about = set(q.topic) - _ACT_WORDS
    if not catalogue_filter and about:
        return None  # "which act governs digitising records?" is about a subject: the task that cites it answers
    legal_of = answerer.catalog.legal_of
    named = set() if doc_id else set(answerer.catalog.named_docs(q))  # "cả hai kế hoạch (Nghĩa Lộ … và …)"
    if doc_id or named:
        refs = [r for d in ([doc_id] if doc_id else [d for d in answerer.index.docs if d in named])
                for r in legal_of.get(d, [])]
    else:
        refs = list(answerer.index.legal)
    if codes:
        refs = [r for r in refs if r.act_type in codes]
    if issuer:
        refs = [r for r in refs if r.issuer_code == issuer]
    if re.search(r"\bcan cu\b", q.folded) and not re.search(r"nhiem vu", q.folded):
        refs = [r for r in refs if _preamble(answerer, r)]
    if re.search(r"ca (hai|2) ke hoach|cung (vien|trich) dan|ca hai", q.folded):
        by_doc: dict[str, set[str]] = {}
        for r in refs:
            by_doc.setdefault(r.doc_id, set()).add(r.canonical)
        shared = set.intersection(*by_doc.values()) if len(by_doc) > 1 else set()
        refs = [r for r in refs if r.canonical in shared]
    if column:  # "cột thời gian hoàn thành dẫn chiếu những văn bản nào": acts cited inside that field
        spans = task_fields(answerer.index).spans
        role = _COLUMN_ROLE[column.group(1)]
        refs = [r for r in refs if any(a <= r.span[0] < b for a, b in spans.get((r.doc_id, role), ()))]
    acts: OrderedDict[tuple[str, str], LegalReference] = OrderedDict()
    for r in refs:  # first citation of each act in each document
        acts.setdefault((r.doc_id, r.canonical), r)
    if not acts:
        return None
    lines, citations, items = [], [], []
    for n, r in enumerate(list(acts.values())[:MAX_ITEMS], 1):
        doc = answerer.index.docs[r.doc_id]
        end = r.span[1]
        tail = _DATE_TAIL.match(doc.text[end : end + 40])
        lead = _LEAD_IN.search(doc.text[max(0, r.span[0] - 60) : r.span[0]])
        start = r.span[0] - (len(lead.group(0)) if lead else 0)
        c = cite(doc, f"Văn bản được dẫn: {r.canonical}", (start, end + (tail.end() if tail else 0)))
        lines.append(f"{n}. {c.quote} [{doc.title}]")
        citations.append(c)
        items.append({"task": f"{r.canonical} {c.quote}", "quote": c.quote, "doc_id": r.doc_id, "canonical": r.canonical,
                      "start": c.start, "end": c.end, "locator": c.locator})
    distinct = len({r.canonical for r in acts.values()})
    head = f"Có {distinct} văn bản được viện dẫn"
    if len(acts) > MAX_ITEMS:
        lines.append(f"… và {len(acts) - MAX_ITEMS} lần viện dẫn khác trong các kế hoạch khác.")
    return Answer(answer=head + ":\n" + "\n".join(lines), abstained=False, citations=citations, kind=q.kind,
                  items=items, total=distinct)


_ARTICLE_BEFORE = re.compile(r"((?:tại\s+)?(?:(?:điểm|khoản)\s+\S+\s+)*Điều\s+\d+\s+)$")


def answer_unit_acts(answerer: Answerer, q: Question, unit_pos: int) -> Answer | None:
    """The acts cited in the passage or task that best matches the question, each quoted as written."""
    index = answerer.index
    unit = index.units[unit_pos]
    task_pos = index.unit_task.get(unit_pos)
    spans = [s for f in index.tasks[task_pos].fields for s in f.spans] if task_pos is not None else [unit.span]
    refs = [r for r in answerer.catalog.legal_of.get(unit.doc_id, ()) if any(a <= r.span[0] < b for a, b in spans)]
    if not refs:
        return None
    doc = index.docs[unit.doc_id]
    citations, seen = [], set()
    for r in refs:
        if r.canonical in seen:
            continue
        seen.add(r.canonical)
        tail = _DATE_TAIL.match(doc.text[r.span[1] : r.span[1] + 40])
        citations.append(cite(doc, unit.locator, (r.span[0], r.span[1] + (tail.end() if tail else 0))))
    acts = "; ".join(c.quote for c in citations)
    return Answer(answer=f"Văn bản được dẫn: {acts}. (Theo {doc.title}, {unit.locator}.)", abstained=False,
                  citations=citations, kind="legal")


def answer_act_detail(answerer: Answerer, q: Question, doc_id: str | None) -> Answer | None:
    """A question naming an act ("NĐ 118/2025 ban hành ngày nào?"): the act's citation as the plan writes it,
    with the article/clause before it and the date and issuer after it."""
    by_key, legal = answerer.catalog.legal_by_key, answerer.index.legal
    positions = sorted({i for k in set(q.legal_keys) for i in by_key.get(k, ())})  # corpus order
    refs = [legal[i] for i in positions if doc_id is None or legal[i].doc_id == doc_id]
    refs.sort(key=lambda r: (not r.date, r.span[0]))
    if not refs:
        return None
    if re.search(r"dieu|khoan", q.folded):  # asked which article: prefer a citation that names one
        refs.sort(key=lambda r: not _ARTICLE_BEFORE.search(answerer.index.docs[r.doc_id].text[max(0, r.span[0] - 60): r.span[0]]))
    r = refs[0]
    doc = answerer.index.docs[r.doc_id]
    start, end = r.span
    before = _ARTICLE_BEFORE.search(doc.text[max(0, start - 60) : start])
    if before:
        start -= len(before.group(1))
    stop = re.search(r"[;.]\s|\)|\n\s*\n\s*[-+a-zđ]\)|,?\s+và\s+(?=Nghị|Quyết|Thông|Kế|Chỉ)", doc.text[end : end + 160])
    c = cite(doc, f"Văn bản được dẫn: {r.canonical}", (start, end + (stop.start() if stop else 160)))
    return Answer(answer=f"{c.quote} (theo {doc.title}.)", abstained=False, citations=[c], kind="legal")
