"""Second retrieval stage: re-score the best fused candidates by what they cover of the question.

RRF over the BM25 and dense ranks picks the candidates (the best ``DEPTH``); this stage orders them with
what the rank lists cannot see:

* **coverage** — the idf-weighted share of the question's folded words and word pairs found in the unit's
  indexed text (its headings, its text, its locator; ``answer.evidence.coverage``). A word the question typed
  with diacritics weighs by the idf of that accented form and counts ``OTHER_MARKS`` where the unit has the
  word only with other marks ("ký" is rare, "kỳ" in "định kỳ" is not).
* **document match** — words that name a plan (its title, ward, province, period) choose the document: they
  make a document score and weigh ``DOC_WORD_WEIGHT`` in a passage's coverage. "Ai ký kế hoạch CCHC năm 2025
  của phường Nghĩa Lộ?" asks about "ký" within the Nghĩa Lộ plan, not about every passage naming that plan.
* **structure** — units whose locator holds a word of the question ("Chữ ký", "Phụ lục") join the candidates
  when only a few do; a question asking who signed prefers the signature block; a list or count question gets
  its matching units (within ``LIST_BAND`` of the best score) in reading order, the order its answer lists
  them in.

Weights were chosen on the even lines of evals/qa.jsonl and checked on the odd lines (evals/report.md).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..answer.analyze import classify
from ..answer.evidence import Idf, terms, topic_terms
from ..answer.termsets import TermSets
from ..text.normalize import clean, expand_abbreviations, fold, fold_word, modern_tones
from ..text.segment import STOP
from .index import Index, term_sets, unit_text, units_by_doc

DEPTH = 50  # fused candidates re-scored
W_FUSED, W_COVER, W_DOC = 0.3, 1.0, 0.4  # fused score (÷ best), passage coverage, document match
DOC_WORD_WEIGHT = 0.25  # a word of the unit's own plan title in its passage coverage
OTHER_MARKS = 0.5  # credit for a word the unit has only with other diacritics than typed
LOCATOR_JOIN = 5  # a locator word held by at most this many units of the candidates' plans brings them in
SIGNER_BONUS = 0.4  # "ai ký …?" and the signature block
LIST_BAND = 0.85  # list/count questions: units scoring ≥ this share of the best come in reading order

_WORD = re.compile(r"[a-z0-9%]+")
_TOKEN = re.compile(r"\w+")


def marked_words(text: str) -> set[str]:
    """The words of ``text`` that carry diacritics, lower-cased, modern tone placement ("hoá" → "hóa")."""
    return {w for w in _TOKEN.findall(modern_tones(clean(text)).lower()) if fold_word(w) != w}


def rescore_term_sets(index: Index) -> tuple[TermSets, TermSets]:
    """Each unit's terms (its indexed text and locator) and its words written with diacritics, once per index."""
    text = lambda p: f"{unit_text(index.units[p])} {index.units[p].locator}"  # noqa: E731
    n = len(index.units)
    return (term_sets(index, "rescore.terms", text, terms, n),
            term_sets(index, "rescore.marked", text, marked_words, n))


@dataclass
class Rescored:
    pos: int  # unit position in the index
    score: float
    signals: dict[str, float] = field(default_factory=dict)


class Rescorer:
    def __init__(self, index: Index) -> None:
        self.units = index.units
        self.terms, self.marked = rescore_term_sets(index)
        self.idf = Idf.of(self.terms)
        self.marked_df = self.marked.doc_freq()
        self.doc_terms = {d.doc_id: terms(f"{d.title} {d.locality} {d.province} {d.period}")
                          for d in index.docs.values()}
        self.units_of = units_by_doc(index)
        self._locator_words = lru_cache(maxsize=4096)(self._doc_locator_words)

    def rescore(self, question: str, fused: Sequence[tuple[int, float]],
                kinds: tuple[str, ...] | None = None) -> list[Rescored]:
        """``fused``: (unit position, fused score), best first. Returns every candidate (the fused ones and the
        units their locators bring in, restricted to ``kinds`` if given), in the order to show them."""
        folded = fold(question)
        words = [w for w in _WORD.findall(expand_abbreviations(folded)) if w not in STOP]
        qterms = topic_terms(words)
        typed: dict[str, set[str]] = defaultdict(set)  # folded word → the accented forms the question typed
        for w in marked_words(question):
            typed[fold(w)].add(w)
        weight = {t: self._idf(t, typed) for t in qterms}
        total = sum(weight.values()) or 1.0
        top = fused[0][1] if fused and fused[0][1] > 0 else 1.0
        cands = {pos: score / top for pos, score in fused}
        for pos in self._by_locator(words, typed, {self.units[p].doc_id for p in cands}, kinds):
            cands.setdefault(pos, 0.0)
        kind = classify(folded)
        out = []
        for pos, f in cands.items():
            u = self.units[pos]
            doc_terms = self.doc_terms.get(u.doc_id, set())
            w = {t: x * (DOC_WORD_WEIGHT if t in doc_terms else 1.0) for t, x in weight.items()}
            cover = sum(x * self._credit(t, pos, typed) for t, x in w.items()) / (sum(w.values()) or 1.0)
            doc = sum(x for t, x in weight.items() if t in doc_terms) / total
            if kind == "signer" and u.kind == "signature":
                cover += SIGNER_BONUS
            score = W_FUSED * f + W_COVER * cover + W_DOC * doc
            out.append(Rescored(pos, score, {"fused": round(f, 4), "coverage": round(cover, 4), "document": round(doc, 4)}))
        out.sort(key=lambda r: -r.score)  # stable: ties keep the fused order
        if kind in ("list", "count") and out:
            band = LIST_BAND * out[0].score
            head = sorted((r for r in out if r.score >= band), key=lambda r: r.pos)
            out = head + [r for r in out if r.score < band]
            for prev, r in zip(out, out[1:], strict=False):  # reading order, scores kept non-increasing
                if r.score > prev.score:
                    r.signals["own_score"] = round(r.score, 4)
                    r.score = prev.score
        return out

    def _idf(self, term: str, typed: dict[str, set[str]]) -> float:
        """The term's idf; for a word typed with diacritics, the (higher) idf of the form typed."""
        idf = self.idf(term)
        if term in typed:
            df = max(self.marked_df.get(w, 0) for w in typed[term])
            idf = max(idf, math.log((self.idf.n + 1) / (df + 0.5)))
        return idf

    def _credit(self, term: str, pos: int, typed: dict[str, set[str]]) -> float:
        if term not in self.terms[pos]:
            return 0.0
        for w in term.split("_"):
            if w in typed and not typed[w] & self.marked[pos]:
                return OTHER_MARKS
        return 1.0

    def _by_locator(self, words: list[str], typed: dict[str, set[str]], docs: set[str],
                    kinds: tuple[str, ...] | None) -> list[int]:
        out: list[int] = []
        for w in dict.fromkeys(words):
            hits: list[int] = []
            for d in sorted(docs):
                for p in self._locator_words(d).get(w, ()):
                    if (kinds is None or self.units[p].kind in kinds) and (w not in typed or typed[w] & self.marked[p]):
                        hits.append(p)
                if len(hits) > LOCATOR_JOIN:
                    break  # too common a locator word to bring units in
            if 0 < len(hits) <= LOCATOR_JOIN:
                out += hits
        return out

    def _doc_locator_words(self, doc_id: str) -> dict[str, list[int]]:
        """Folded word → the document's units whose locator holds it (built for the documents questions touch)."""
        out: dict[str, list[int]] = defaultdict(list)
        for pos in self.units_of.get(doc_id, ()):
            for w in sorted(set(_WORD.findall(fold(self.units[pos].locator)))):
                out[w].append(pos)
        return out
