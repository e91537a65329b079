"""Answers that state one fact from the evidence the answer stage chose: a task's field (who leads, partners,
deadline, product), a sentence that assigns work, who signed a plan, the best-matching passage. Every fact is
copied from a record field or a sentence, and every quote is an exact span (``evidence.cite``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..models import Answer, Citation
from ..text.normalize import fold
from .evidence import cite, coverage, sentences, task_cites, terms

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer, Candidate

FIELD_ROLES = {"lead": ("lead", "executor"), "partner": ("partners",), "monitor": ("monitor",),
               "deadline": ("deadline",), "product": ("product",)}
LABELS = {"lead": "Cơ quan chủ trì", "executor": "Cơ quan thực hiện", "partners": "Cơ quan phối hợp",
          "proposer": "Cơ quan đề xuất",
          "monitor": "Cơ quan theo dõi, kiểm tra, đôn đốc", "deadline": "Thời gian thực hiện", "product": "Sản phẩm"}
_ASSIGN = re.compile(r"\bGiao\s+((?:[Pp]hòng|Văn phòng|Trung tâm|Công an|UBND|Ủy ban)[^,;:.]{3,90}?)\s+"
                     r"(?:chủ trì|thường xuyên|ứng dụng|tham mưu|thực hiện|theo dõi|phối hợp)")
_RESPONSIBLE_ANY = re.compile(r"((?:[Pp]hòng|Văn phòng|Trung tâm|Công an)[^;:.]{3,90}?)\s+có trách nhiệm")
_RESPONSIBLE = re.compile(r"((?:[Pp]hòng|Văn phòng|Trung tâm|Công an)[^,;:.]{3,90}?)\s+có trách nhiệm[^.]{0,80}"
                          r"(?:theo dõi|đôn đốc|kiểm tra)")
ROLE_MENTIONS = [(r"co quan thuc hien|\bthuc hien la\b", "executor"), (r"de xuat", "proposer"),
                 (r"phoi hop", "partners"), (r"theo doi|don doc", "monitor")]


def answer_field(answerer: Answerer, q: Question, cands: list[Candidate], conversation_id: str | None,
                 both: bool) -> Answer:
    """The field the question asks for (who leads, partners, deadline, product) from the best task, and from
    the best task of another plan too when ``both`` and it scores nearly as well."""
    chosen = [cands[0]]
    if both:
        other = next((c for c in cands[1:] if c.task and c.task.doc_id != cands[0].task.doc_id
                      and c.score >= 0.9 * cands[0].score and c.cov >= answerer.settings.abstain_threshold), None)
        if other:
            chosen.append(other)
    lines, citations = [], []
    for c in chosen:
        task = c.task
        doc = answerer.index.docs[task.doc_id]
        roles = [next(r for r in FIELD_ROLES[q.kind] if task.value(r))]
        # the question names another role the task has ("cơ quan thực hiện", "đề xuất"): give it too
        roles += [r for w, r in ROLE_MENTIONS if re.search(w, q.folded) and task.value(r) and r not in roles]
        if q.kind == "lead" and task.value("executor") and "executor" not in roles:
            roles.append("executor")  # "chủ trì: các cơ quan …; thực hiện: Trung tâm …" — both are the answer
        prefix = f"Theo {doc.title} ({task.locator})" if len(chosen) > 1 else ""
        parts = []
        for role in roles:
            f = task.field(role)
            parts.append(f"{LABELS[role]}: {f.value.rstrip('.')}.")  # a value may end with its own full stop
            citations += [cite(doc, task.locator, s) for s in f.spans]
        lines.append(f"{prefix + ': ' if prefix else ''}{' '.join(parts)}")
        citations += task_cites(doc, task, max_chars=300)
    first = chosen[0].task
    answerer.remember(conversation_id, first)
    doc = answerer.index.docs[first.doc_id]
    source = "" if len(chosen) > 1 else f" (Nhiệm vụ «{_short(first.task)}» — {doc.title}, {first.locator}.)"
    return Answer(answer=" ".join(lines) + source, abstained=False, citations=_dedupe(citations), kind=q.kind)

def answer_assignment(answerer: Answerer, q: Question, cand: Candidate) -> Answer | None:
    """A plan sentence that assigns work ("Giao phòng Văn hóa – Xã hội chủ trì, tham mưu …") answers who leads."""
    unit = answerer.index.units[cand.pos]
    doc = answerer.index.docs[unit.doc_id]
    text = doc.text[unit.span[0] : unit.span[1]]
    m = (_ASSIGN.search(text) or _RESPONSIBLE_ANY.search(text)) if q.kind == "lead" else _RESPONSIBLE.search(text)
    responsible = m is not None and "có trách nhiệm" in m.group(0)
    if not m or cand.cov < answerer.settings.abstain_threshold:
        return None
    who = cite(doc, unit.locator, (unit.span[0] + m.start(1), unit.span[0] + m.end(1)))
    sentence = cite(doc, unit.locator, unit.span)
    label = LABELS["monitor"] if q.kind == "monitor" else ("Cơ quan chịu trách nhiệm" if responsible else LABELS["lead"])
    return Answer(answer=f"{label}: {who.quote}. (Theo {doc.title}, {unit.locator}: «{_short(sentence.quote, 160)}»)",
                  abstained=False, citations=[who, sentence], kind=q.kind)

def answer_signer(answerer: Answerer, q: Question, doc_ids: list[str]) -> Answer:
    """Who signed the plans named (every plan when none is)."""
    units = [(i, answerer.index.units[i]) for i in answerer.catalog.signatures
             if not doc_ids or answerer.index.units[i].doc_id in doc_ids]
    asked = re.search(r"pho chu tich|bi thu|truong phong|giam doc|chanh van phong", q.folded)
    if asked and not any(asked.group(0) in fold(u.text) for _, u in units):
        return answerer.abstain(q, f"tài liệu không ghi tên {asked.group(0)}")
    lines, citations = [], []
    for _, u in units:
        doc = answerer.index.docs[u.doc_id]
        lines.append(f"{doc.title} do {u.text} ký.")
        citations.append(cite(doc, u.locator, u.span))
    if not lines:
        return answerer.abstain(q, "tài liệu không ghi người ký")
    return Answer(answer=" ".join(lines), abstained=False, citations=citations, kind="signer")

def answer_passage(answerer: Answerer, q: Question, cands: list[Candidate]) -> Answer:
    best = cands[0]
    unit = answerer.index.units[best.pos]
    doc = answerer.index.docs[unit.doc_id]
    if best.task:  # the task's text, every line of a cell wrapped over the appendix table
        citations = task_cites(doc, best.task)
    else:
        spans = sentences(doc.text, unit.span)
        scored = sorted(spans, key=lambda s: -coverage(q.topic, terms(doc.text[s[0]:s[1]]), answerer.idf))
        citations = [cite(doc, unit.locator, scored[0])]
    text = " ".join(c.quote for c in citations).lstrip("-+• ")
    return Answer(answer=f"{text} (Theo {doc.title}, {unit.locator}.)", abstained=False,
                  citations=citations, kind=q.kind)




def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: text.rfind(" ", 0, n)] + "…"


def _dedupe(citations: list[Citation]) -> list[Citation]:
    seen, out = set(), []
    for c in citations:
        if (c.doc_id, c.start, c.end) not in seen:
            seen.add((c.doc_id, c.start, c.end))
            out.append(c)
    return out
