"""Evidence scoring and citations: how well a text covers a question's topic, sentence picking, quotes.

Coverage is idf-weighted: a topic word the corpus never uses ("kết hôn", "căn cước") weighs the most, so a
question about something the plans do not cover gets a low score and the assistant abstains.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..models import Citation, Document, Span, TaskRecord
from ..text.normalize import expand_abbreviations, fold
from ..text.segment import STOP
from ..text.spans import collapsed_map, quote
from .termsets import TermSets

_WORD = re.compile(r"[a-z0-9%]+")
# a sentence ends after . ; ! ? before a capital, digit, "(" or a "- " bullet ("Văn hoá - Xã hội" is not a bullet)
_SENT_END = re.compile(r"(?<=[.;!?:])\s+(?=- )|(?<=[.;!?])\s+(?=[+A-ZĐÀ-Ỹ0-9(])")


def terms(text: str) -> set[str]:
    ws = [w for w in _WORD.findall(expand_abbreviations(fold(text)))]
    return set(ws) | {f"{a}_{b}" for a, b in zip(ws, ws[1:], strict=False)}


@dataclass
class Idf:
    df: Counter
    n: int

    @classmethod
    def of(cls, term_sets: TermSets) -> Idf:
        """From each unit's terms."""
        return cls(Counter(term_sets.doc_freq()), len(term_sets))

    def __call__(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


def topic_terms(topic: list[str]) -> list[str]:
    ws = [w for w in topic if w not in STOP]
    return list(dict.fromkeys(ws + [f"{a}_{b}" for a, b in zip(ws, ws[1:], strict=False)]))


def coverage(topic: list[str], text_terms: set[str] | frozenset[str], idf: Idf) -> float:
    """Share of the topic's idf weight that the text contains (1.0 = every topic word and bigram)."""
    return coverage_of(topic, idf)(text_terms)


def coverage_of(topic: list[str], idf: Idf) -> Callable[[set[str] | frozenset[str]], float]:
    """``coverage`` with the topic fixed: its terms and weights are worked out once for many texts."""
    weights = [(t, idf(t)) for t in topic_terms(topic)]
    total = sum(w for _, w in weights)
    if not weights or not total:
        return lambda text_terms: 0.0
    return lambda text_terms: sum(w for t, w in weights if t in text_terms) / total


def sentences(source: str, span: Span) -> list[Span]:
    """Sentence-like pieces of ``source[span]`` (split after . ; ! ? and before "- " bullets)."""
    text, offsets = collapsed_map(source, span)
    if not text:
        return []
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        if m.start() > start:
            out.append((offsets[start], offsets[m.start() - 1] + 1))
        start = m.end()
    out.append((offsets[start], offsets[len(text) - 1] + 1))
    return out


def cite(doc: Document, locator: str, span: Span, max_chars: int = 400) -> Citation:
    """A citation whose quote is exactly ``source[span]`` with whitespace collapsed (cut at a word if long)."""
    s, e = span
    if e - s > max_chars * 2:  # long spans: keep a readable prefix that is still an exact span
        cut = doc.text.rfind(" ", s, s + max_chars)
        e = cut if cut > s else s + max_chars
    return Citation(doc_id=doc.doc_id, title=doc.title, locator=locator, quote=quote(doc.text, (s, e)), start=s, end=e)


def task_cites(doc: Document, task: TaskRecord, max_chars: int = 400) -> list[Citation]:
    """The task's own text quoted: one citation per span (a cell wrapped over appendix table lines has several;
    read together they are the task)."""
    return [cite(doc, task.locator, span, max_chars=max_chars) for span in task.field("task").spans]
