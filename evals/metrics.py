"""Pure scoring functions for the evaluation (no I/O, no assistant imports).

Everything that compares text goes through :func:`norm`, so a gold string typed with or without diacritics,
with old ("hoá") or new ("hóa") tone placement, with an en dash or a hyphen, or with "IV/2025" vs "IV / 2025",
compares equal to the source text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
# hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus, small/full-width hyphen-minus
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d]")
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u00ab": '"', "\u00bb": '"'}
_AROUND_SEP = re.compile(r"\s*([-/])\s*")
_TRAILING_PUNCT = re.compile(r"[\s.,;:!?…\"')\]]+$")

# evidence_rank: evidence longer than this (normalised characters) may also match by shingle coverage
LONG_EVIDENCE_CHARS = 60
SHINGLE = 5
SHINGLE_COVERAGE = 0.8
# set_pr: fuzzy fallback (share of the expected item's shingles found in the predicted item)
ITEM_COVERAGE = 0.8
MIN_FUZZY_CHARS = 20


def collapse(text: str) -> str:
    """Whitespace-collapsed text, exactly as citations quote it: ``" ".join(text.split())``."""
    return " ".join(text.split())


def norm(s: str | None) -> str:
    """Comparison key: NFC, lower case, accents folded (đ→d), dashes → "-", curly quotes → straight,
    whitespace collapsed, no spaces around "-" and "/", trailing punctuation dropped.

    >>> norm("Phòng Văn hoá – Xã hội.")
    'phong van hoa-xa hoi'
    """
    if not s:
        return ""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", s))
    text = _DASHES.sub("-", text).lower().replace("đ", "d")
    text = "".join(_QUOTES.get(ch, ch) for ch in text)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    text = _AROUND_SEP.sub(r"\1", collapse(text))
    return _TRAILING_PUNCT.sub("", text)


def _golds(golds: str | Iterable[str] | None) -> list[str]:
    if golds is None:
        return []
    if isinstance(golds, str):
        golds = [golds]
    return [g for g in (norm(x) for x in golds if x) if g]


def answer_correct(answer: str | None, golds: str | Iterable[str] | None) -> bool:
    """True when any gold string (normalised) is a substring of the normalised answer."""
    a = norm(answer)
    return bool(a) and any(g in a for g in _golds(golds))


def citation_supported(quotes: Sequence[str], golds: str | Iterable[str] | None) -> bool:
    """True when some quote — or all quotes read together (a value split over a page break) —
    contains a gold string (normalised)."""
    texts = [norm(q) for q in quotes if q]
    if not texts:
        return False
    texts.append(norm(" ".join(q for q in quotes if q)))
    gs = _golds(golds)
    return any(g in t for g in gs for t in texts)


def shingles(text: str, n: int = SHINGLE) -> set[str]:
    """Character n-grams of an already normalised text (the text itself when shorter than n)."""
    if len(text) <= n:
        return {text} if text else set()
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def evidence_in(hit_text: str, evidence: str | Sequence[str] | None) -> bool:
    """Whether one hit contains the evidence: normalised containment; for evidence longer than
    ``LONG_EVIDENCE_CHARS``, also ≥ ``SHINGLE_COVERAGE`` of its 5-character shingles occurring in the hit
    (a long excerpt cut by a chunk boundary or a page number still counts). List evidence → first element."""
    if evidence is not None and not isinstance(evidence, str):
        evidence = next((e for e in evidence if e), "")
    ev = norm(evidence)
    if not ev:
        return False
    text = norm(hit_text)
    if ev in text:
        return True
    if len(ev) <= LONG_EVIDENCE_CHARS:
        return False
    want = shingles(ev)
    return len(want & shingles(text)) >= SHINGLE_COVERAGE * len(want)


def evidence_rank(hit_texts: Sequence[str], evidence: str | Sequence[str] | None) -> int | None:
    """1-based rank of the first hit containing the evidence (see :func:`evidence_in`), else None."""
    for i, text in enumerate(hit_texts, start=1):
        if evidence_in(text, evidence):
            return i
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of queries whose evidence is ranked ≤ k (None = not found). 0.0 for no queries."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float:
    """Mean reciprocal rank (None counts 0). 0.0 for no queries."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r) / len(ranks)


def verbatim(quote: str, source_text: str, start: int, end: int) -> bool:
    """A citation is verbatim when its span is a valid non-empty range of the source, the quote equals the
    whitespace-collapsed ``source[start:end]`` exactly (no case or accent folding), and it is not blank."""
    if not isinstance(start, int) or not isinstance(end, int):
        return False
    if not (0 <= start < end <= len(source_text)):
        return False
    span = collapse(source_text[start:end])
    return bool(span) and quote == span and span in collapse(source_text)


def quote_in_source(quote: str, source_text: str) -> bool:
    """Without offsets (HTTP mode): the whitespace-collapsed quote occurs exactly in the collapsed source."""
    q = collapse(quote)
    return bool(q) and q in collapse(source_text)


def abstention_pr(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float]:
    """(precision, recall) of the abstain class from (expected_abstain, abstained) pairs.

    Vacuous cases score 1.0: no abstentions made → precision 1.0; nothing should have been abstained on →
    recall 1.0 (the other number then shows the problem)."""
    tp = fp = fn = 0
    for expected, got in pairs:
        tp += expected and got
        fp += (not expected) and got
        fn += expected and not got
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def item_matches(predicted: str, expected: str) -> bool:
    """A predicted list item matches an expected one when either normalised text contains the other, or — for
    expected items of ≥ ``MIN_FUZZY_CHARS`` normalised characters — ≥ ``ITEM_COVERAGE`` of the expected item's
    5-character shingles occur in the predicted item (a quote truncated or cut by a page number still counts).

    Shingles rather than shared words: plans repeat "cải cách hành chính" in every task, so 60 % shared words
    would pair unrelated tasks ("Tuyên truyền CCHC" with "Kiểm tra công tác CCHC")."""
    p, e = norm(predicted), norm(expected)
    if not p or not e:
        return False
    if e in p or p in e:
        return True
    if len(e) < MIN_FUZZY_CHARS:
        return False
    want = shingles(e)
    return len(want & shingles(p)) >= ITEM_COVERAGE * len(want)


def match_items(predicted: Sequence[str], expected: Sequence[str]) -> dict[int, int]:
    """Maximum one-to-one matching (expected index → predicted index) under :func:`item_matches`."""
    edges = [[p for p, text in enumerate(predicted) if item_matches(text, e)] for e in expected]
    owner: dict[int, int] = {}  # predicted index → expected index

    def augment(e: int, seen: set[int]) -> bool:
        for p in edges[e]:
            if p in seen:
                continue
            seen.add(p)
            if p not in owner or augment(owner[p], seen):
                owner[p] = e
                return True
        return False

    for e in range(len(expected)):
        augment(e, set())
    return {e: p for p, e in owner.items()}


def set_pr(predicted_texts: Sequence[str], expected_items: Sequence[str]) -> tuple[float, float]:
    """(precision, recall) of predicted list items against expected ones, each matched at most once.

    Empty predictions: precision 1.0 only if nothing was expected (else 0.0); nothing expected: recall 1.0."""
    matched = len(match_items(predicted_texts, expected_items))
    empty_precision = 0.0 if expected_items else 1.0
    precision = matched / len(predicted_texts) if predicted_texts else empty_precision
    recall = matched / len(expected_items) if expected_items else 1.0
    return precision, recall


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0–100) with linear interpolation between closest ranks (numpy's default).
    0.0 for no values."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError("p must be within [0, 100]")
    pos = (len(xs) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float]) -> float:
    xs = list(values)
    return sum(xs) / len(xs) if xs else 0.0
