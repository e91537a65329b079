"""Document-level lookups the answer stage makes on every question, in time that does not grow with the corpus.

A province's index holds thousands of plans: scanning every document's name with a regular expression, or every
unit for a locator, on each question costs more than the rest of the answer. These tables are built once per
loaded index; the questions' words are looked up in them.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict

import numpy as np

from ..models import LegalReference
from ..search.index import Index
from ..text.legal_ids import legal_keys
from ..text.normalize import fold
from .termsets import TermSets

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
        self.units_of: dict[str, list[int]] = defaultdict(list)
        self.by_locator: dict[str, list[int]] = defaultdict(list)
        for pos, u in enumerate(index.units):
            self.units_of[u.doc_id].append(pos)
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


class Postings:
    """Term → the units holding it; the best idf-weighted coverage of a set of terms by any unit."""

    def __init__(self, unit_terms: TermSets, extra: dict[str, list[int]] | None = None) -> None:
        self.vocab = unit_terms.vocab
        self.starts, self.rows = unit_terms.inverted()
        self.extra = {t: np.asarray(ps, dtype=np.int32) for t, ps in (extra or {}).items()}  # e.g. cited acts
        self.size = len(unit_terms)

    def units(self, term: str) -> np.ndarray | None:
        i = self.vocab.ids.get(term)
        if i is not None and i + 1 < len(self.starts) and self.starts[i + 1] > self.starts[i]:
            return self.rows[self.starts[i] : self.starts[i + 1]]
        return self.extra.get(term)

    def best_weight(self, weights: dict[str, float]) -> float:
        """max over units of the summed weights of the given terms the unit holds."""
        present = [(arr, w) for t, w in weights.items() if (arr := self.units(t)) is not None and len(arr)]
        if not present:
            return 0.0
        if len(present) == 1:
            return present[0][1]
        acc = np.zeros(self.size, dtype=np.float64)
        for arr, w in present:
            acc[arr] += w  # a unit appears at most once per term
        return float(acc.max())
