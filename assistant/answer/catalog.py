"""Which plans a question is about (the places and periods it names, a kiosk's home ward), and the document-level
lookups the answer stage makes on every question, in time that does not grow with the corpus.

A province's index holds thousands of plans: scanning every document's name with a regular expression, or every
unit for a locator, on each question costs more than the rest of the answer. These tables are built once per
loaded index; the questions' words are looked up in them.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..models import Document, LegalReference
from ..search.columns import add_weights
from ..search.index import Index, units_by_doc
from ..text.legal_ids import legal_keys
from ..text.normalize import clean, expand_abbreviations, fold
from .termsets import TermSets

if TYPE_CHECKING:
    from .analyze import Question

_WORDS = re.compile(r"\w+")


def ngrams(folded: str, longest: int) -> set[str]:
    """Every run of 1..``longest`` consecutive words of ``folded``, joined by one space."""
    words = _WORDS.findall(folded)
    return {" ".join(words[i : i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}


class NameTable:
    """Folded names (localities, provinces) → documents, found in a question by word n-grams.

    Equivalent to searching ``\\bname\\b`` for every name, for names made of word characters and single spaces;
    any other name is searched that way."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.docs = {n: ds for n, ds in names.items() if n}
        plain = [n for n in self.docs if " ".join(_WORDS.findall(n)) == n]
        self.odd = [n for n in self.docs if n not in set(plain)]
        self.longest = max((n.count(" ") + 1 for n in plain), default=1)
        self.sorted = sorted(self.docs)

    def __len__(self) -> int:
        return len(self.docs)

    def found_in(self, folded: str) -> list[str]:
        """The names that occur in ``folded`` as whole words, longest first."""
        hits = ngrams(folded, self.longest) & self.docs.keys()
        hits |= {n for n in self.odd if re.search(rf"\b{re.escape(n)}\b", folded)}
        return sorted(hits, key=lambda n: (-len(n), n))

    def prefix_related(self, place: str) -> bool:
        """Some name is a prefix of ``place`` or starts with it ("nghia lo" ~ "nghia lo tinh quang ngai")."""
        if any(place[:i] in self.docs for i in range(1, len(place) + 1)):
            return True
        i = bisect.bisect_left(self.sorted, place)
        return i < len(self.sorted) and self.sorted[i].startswith(place)


class Catalog:
    def __init__(self, index: Index) -> None:
        docs = list(index.docs.values())
        localities: dict[str, list[str]] = defaultdict(list)
        names: dict[str, list[str]] = defaultdict(list)
        for d in docs:
            if d.locality:
                localities[fold(d.locality)].append(d.doc_id)
            for n in (d.locality, d.province):
                if n:
                    names[fold(n)].append(d.doc_id)
        self.localities = NameTable(localities)  # which plan a question names by its place
        self.names = NameTable(names)  # words that name a plan rather than what is asked about
        self.periods: dict[tuple[int, int], str] = {}  # a multi-year period → its first plan
        for d in docs:
            if d.year_to > d.year_from:
                self.periods.setdefault((d.year_from, d.year_to), d.doc_id)
        self.years = {y for d in docs for y in range(d.year_from, d.year_to + 1)}
        self.docs = index.docs
        self.units_of = units_by_doc(index)
        self.by_locator: dict[str, list[int]] = defaultdict(list)
        for pos, u in enumerate(index.units):
            self.by_locator[u.locator].append(pos)
        self.task_pos = {t.task_id: i for i, t in enumerate(index.tasks)}
        self.tasks_of: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(index.tasks):
            self.tasks_of[t.doc_id].append(i)
        self.legal_of: dict[str, list[LegalReference]] = defaultdict(list)  # a document's citations, in order
        self.legal_by_key: dict[str, list[int]] = defaultdict(list)  # an act's key → its citations' positions
        for i, r in enumerate(index.legal):
            self.legal_of[r.doc_id].append(r)
            for k in dict.fromkeys(legal_keys(r.act_type, r.number, r.year)):
                self.legal_by_key[k].append(i)
        self.signatures = [pos for pos, u in enumerate(index.units) if u.kind == "signature"]
        self.doc_order = {d.doc_id: i for i, d in enumerate(docs)}

    def period_named(self, years: list[int]) -> tuple[int, int] | None:
        """The first plan period (in corpus order) whose first and last year are both among ``years``."""
        ys = set(years)
        named = [p for p in self.periods if p[0] in ys and p[1] in ys]
        return min(named, key=lambda p: self.doc_order[self.periods[p]]) if named else None

    def named_docs(self, q: Question) -> list[str]:
        """The plans a question names: those of the places it names (one place and a period: that period's plan),
        newest first; else the plan of the period it names; else none."""
        names = set(self.localities.found_in(q.folded))
        for p in q.places:  # "phường nghia lo tinh quang ngai": the locality inside a place the question names
            names.update(self.localities.found_in(p))
        period = self.period_named(q.years)
        if not names:
            return [self.periods[period]] if period else []
        docs = [self.docs[d] for n in names for d in self.localities.docs[n]]
        if period and len({d.locality for d in docs}) == 1:  # two places named: a period does not pick one
            docs = [d for d in docs if (d.year_from, d.year_to) == period] or docs
        return [d.doc_id for d in sorted(docs, key=lambda d: (-d.year_to, -d.year_from, d.doc_id))]

    def doc_hint(self, q: Question) -> str | None:
        """The document a question names by its place ("Nam Gia Nghĩa") or its exact period ("2026-2030")."""
        named = self.named_docs(q)
        return named[0] if len(named) == 1 else None

    def topic_without_names(self, q: Question) -> list[str]:
        """The question's topic words without those that name a plan (its ward, province, period)."""
        folded = q.folded
        named = self.names.found_in(folded)  # longest name first
        for name in named:
            folded = re.sub(rf"\b{re.escape(name)}\b", " ", folded)
        for y0, y1 in self.periods:  # "KH 2026-2030" names the plan, it is not what is asked about
            if str(y0) in folded:
                folded = re.sub(rf"\b{y0}\s*-\s*{y1}\b", " ", folded)
        if named or self.period_named(q.years) is not None:
            # the question names a plan: "KH CCHC … của Nam Gia Nghĩa" is the plan, not the topic
            folded = re.sub(r"\b(kh|ke hoach)\s+(cchc|cai cach hanh chinh)(\s+nha nuoc)?(\s+giai doan)?", " ", folded)
        kept = set(re.findall(r"[a-z0-9%]+", expand_abbreviations(folded)))
        return [w for w in q.topic if w in kept]


_WARD_PREFIX = re.compile(r"^(?:ubnd\s+)?(?:phuong|xa|thi tran|dac khu)\s+")


def locality_key(name: str) -> str:
    """A locality's name as documents' localities are compared: folded, without "phường"/"xã"/"UBND …"."""
    return _WARD_PREFIX.sub("", fold(name).strip())


def home_documents(index: Index, home: str) -> list[str]:
    """The documents of the locality named by ``ASSISTANT_HOME_LOCALITY`` ("Nghĩa Lộ", "phường Nghia Lo"…),
    newest period first; none when it is empty. A name that matches no document's locality is a set-up mistake."""
    key = locality_key(home)
    if not key:
        return []
    docs = sorted((d for d in index.docs.values() if d.locality and fold(d.locality) == key),
                  key=lambda d: (-d.year_to, -d.year_from, d.doc_id))
    if not docs:
        known = ", ".join(sorted({d.locality for d in index.docs.values() if d.locality})) or "none"
        raise ConfigError(f"ASSISTANT_HOME_LOCALITY={clean(home)!r} matches no document's locality in the corpus "
                          f"(localities: {known}). Set it to one of these, or leave it empty.")
    return [d.doc_id for d in docs]


def ward_name(doc: Document) -> str:
    """How an answer names a document's place: "phường Nghĩa Lộ" from the issuer "UBND phường Nghĩa Lộ"."""
    issuer = re.sub(r"^(?:UBND|Ủy ban nhân dân|Uỷ ban nhân dân)\s+", "", clean(doc.issuer), flags=re.IGNORECASE)
    if doc.locality and fold(issuer).endswith(fold(doc.locality)) and len(issuer) <= len(doc.locality) + 12:
        return issuer
    return doc.locality or doc.title


class Postings:
    """Term → the units holding it; the best idf-weighted coverage of a set of terms by any unit."""

    def __init__(self, unit_terms: TermSets, extra: dict[str, list[int]] | None = None) -> None:
        self.vocab = unit_terms.vocab
        self.starts, self.rows = unit_terms.inverted()
        self.extra = {t: np.asarray(ps, dtype=np.int32) for t, ps in (extra or {}).items()}  # e.g. cited acts
        self.size = len(unit_terms)
        add_weights(self.rows, self.starts[:0], self.starts[:0], np.zeros(0), 0)  # compiled now, not mid-question

    def units(self, term: str) -> np.ndarray | None:
        i = self.vocab.ids.get(term)
        if i is not None and i + 1 < len(self.starts) and self.starts[i + 1] > self.starts[i]:
            return self.rows[self.starts[i] : self.starts[i + 1]]
        return self.extra.get(term)

    def best_weight(self, weights: dict[str, float]) -> float:
        """max over units of the summed weights of the given terms the unit holds (compiled column sums)."""
        own: list[tuple[int, float]] = []
        extra: list[tuple[np.ndarray, float]] = []
        for t, w in weights.items():
            i = self.vocab.ids.get(t)
            if i is not None and i + 1 < len(self.starts) and self.starts[i + 1] > self.starts[i]:
                own.append((i, w))
            elif len(self.extra.get(t, ())):
                extra.append((self.extra[t], w))
        if len(own) + len(extra) <= 1:
            return (own or extra)[0][1] if own or extra else 0.0
        cols = np.array([i for i, _ in own], dtype=np.int64)
        acc = add_weights(self.rows, self.starts[cols], self.starts[cols + 1],
                          np.array([w for _, w in own], dtype=np.float64), self.size)
        for arr, w in extra:  # a unit appears at most once per term
            acc[arr] += w
        return float(acc.max())
