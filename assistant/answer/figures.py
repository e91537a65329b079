"""Numeric targets ("đạt tối thiểu 98%") and conflicts between them.

Every percentage in the corpus is stored with the words that name its metric. When the same document states
two different values for the same metric (e.g. the objectives say 98 % and the appendix 90 %), an answer
gives both, each with its citation, instead of silently picking one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..models import Answer, Span
from ..search.index import Index, units_by_doc
from ..text.normalize import fold
from .evidence import coverage, sentences, terms

if TYPE_CHECKING:
    from .analyze import Question
    from .compose import Answerer, Candidate

_PCT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_FILLER = frozenset("dat toi thieu tren phan dau muc it nhat khoang la co duoc va cac cua trong".split())


@dataclass(frozen=True)
class Figure:
    doc_id: str
    unit: int
    locator: str
    value: str  # "98%"
    metric: frozenset[str]  # folded words naming what is measured
    sentence: Span


def unit_spans(index: Index, pos: int) -> list[Span]:
    """Source spans that make up a unit (appendix rows: their cells, never the repeated headers)."""
    task_pos = index.unit_task.get(pos)
    unit = index.units[pos]
    if unit.kind == "appendix_row" and task_pos is not None:
        return [s for f in index.tasks[task_pos].fields for s in f.spans]
    return [unit.span]


_UNIT_AFTER = re.compile(r"bao nhieu\s+([a-z]+)")
_DATE_OR_ID = re.compile(r"\d{1,2}/\d{1,2}/\d{4}|\d+/\d{4}/|\d+/[A-ZĐ]|\b(?:19|20)\d\d\b")


def wanted_unit(folded: str) -> str | None:
    """What a number question counts: "%" for rates, else the word after "bao nhiêu" ("tiền", "người")."""
    if re.search(r"phan tram|%|\bty le\b", folded):
        return "%"
    m = _UNIT_AFTER.search(folded)
    return m.group(1) if m and m.group(1) not in ("la", "thi", "o", "vay", "a") else None


def has_quantity(text: str, unit: str | None) -> bool:
    """Does ``text`` state a quantity of that unit? Years, dates and act numbers are not quantities."""
    if unit == "%":
        return "%" in text
    bare = _DATE_OR_ID.sub(" ", text)
    if unit is None:
        return bool(re.search(r"\d", bare))
    return bool(re.search(rf"\d[\d.,]*\s*{unit}\b", fold(bare)))


def _metric(clause: str) -> frozenset[str]:
    words = re.findall(r"[a-z]+", fold(clause))
    return frozenset(w for w in words[-14:] if w not in _FILLER)


class Figures:
    """The percentages of each document, found when a question first needs that document's (conflicts are only
    looked for within one document)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.units_of = units_by_doc(index)
        self.of_doc = lru_cache(maxsize=1024)(self._of_doc)

    @property
    def all(self) -> list[Figure]:
        return [f for doc_id in self.units_of for f in self.of_doc(doc_id)]

    def _of_doc(self, doc_id: str) -> list[Figure]:
        out = []
        doc = self.index.docs[doc_id]
        for pos in self.units_of.get(doc_id, ()):
            unit = self.index.units[pos]
            for span in unit_spans(self.index, pos):
                for s in sentences(doc.text, span):
                    text = doc.text[s[0] : s[1]]
                    for m in _PCT.finditer(text):
                        clause = re.split(r"[.;]", text[: m.start()])[-1]
                        out.append(Figure(doc_id, pos, unit.locator, f"{m.group(1)}%", _metric(clause), s))
        return out

    def conflicts(self, fig: Figure) -> list[Figure]:
        out = []
        for other in self.of_doc(fig.doc_id):
            if other.doc_id != fig.doc_id or other.value == fig.value or other.unit == fig.unit:
                continue
            union = fig.metric | other.metric
            if union and len(fig.metric & other.metric) / len(union) >= 0.6:
                out.append(other)
        return out

    def all_conflicts(self) -> list[tuple[Figure, Figure]]:
        """Every pair of different values for the same metric in the same document (each pair once)."""
        pairs, seen = [], set()
        for fig in self.all:
            for other in self.conflicts(fig):
                key = tuple(sorted([(fig.unit, fig.value, fig.sentence), (other.unit, other.value, other.sentence)]))
                if key not in seen:
                    seen.add(key)
                    pairs.append((fig, other))
        return pairs

    def answer(self, q: Question, cands: list[Candidate], answerer: Answerer) -> Answer | None:
        wanted = wanted_unit(q.folded)
        best: tuple[float, Figure | None, Span | None, int] = (0.0, None, None, -1)
        for c in cands[:6]:
            doc = self.index.docs[self.index.units[c.pos].doc_id]
            for span in unit_spans(self.index, c.pos):
                for s in sentences(doc.text, span):
                    text = doc.text[s[0] : s[1]]
                    if not has_quantity(text, wanted):
                        continue
                    score = 0.7 * coverage(q.topic, terms(text), answerer.idf) + 0.3 * c.cov
                    if score > best[0]:
                        figs = [f for f in self.of_doc(doc.doc_id) if f.sentence == s]
                        fig = max(figs, key=lambda f: coverage(q.topic, set(f.metric), answerer.idf), default=None)
                        best = (score, fig, s, c.pos)
        score, fig, span, pos = best
        if span is None or score < answerer.settings.abstain_threshold:
            return None
        from .evidence import cite

        unit = self.index.units[pos]
        doc = self.index.docs[unit.doc_id]
        main = cite(doc, unit.locator, span)
        text = f"{main.quote.lstrip('-+• ')} (Theo {doc.title}, {unit.locator}.)"
        citations, conflicts = [main], []
        for other in self.conflicts(fig) if fig else []:
            o_unit = self.index.units[other.unit]
            c = cite(doc, o_unit.locator, other.sentence)
            citations.append(c)
            conflicts.append({"metric": " ".join(sorted(fig.metric)), "values": [
                {"value": fig.value, "locator": unit.locator, "quote": main.quote},
                {"value": other.value, "locator": o_unit.locator, "quote": c.quote}]})
        if conflicts:
            parts = ", ".join(f"{v['locator']} nêu {v['value']}" for v in
                              [conflicts[0]["values"][0]] + [c["values"][1] for c in conflicts])
            text += f" Lưu ý: các phần của tài liệu nêu khác nhau ({parts})."
        return Answer(answer=text, abstained=False, citations=citations, kind="number", conflicts=conflicts)
