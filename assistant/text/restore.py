"""Diacritic restoration for questions typed without accents, learnt from the indexed corpus itself.

"so hoa ho so" → "số hóa hồ sơ": each folded syllable gets an accented form the corpus uses for it, chosen with
the corpus' accented forms of neighbouring folded pairs ("nam gia nghia" → "nam gia nghĩa", "nam 2025" →
"năm 2025") by Viterbi. Syllables typed with marks, numbers and words the corpus does not know stay as typed.
Only the plans' own text is used, plus a line of interrogatives (plans state, they do not ask "bao nhiêu").

Why: the packaged e5 encoder collapses on Vietnamese typed without diacritics (dense recall@5 17 % on the
unaccented questions) but not on the restored text; see ``search.retrieve``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from .normalize import clean, fold, fold_word, modern_tones

_SYL = re.compile(r"\w+")
_RUNS = re.compile(r"[.,;:!?()\[\]\"“”«»\n]+")  # punctuation ends a run of syllables: no pair across it
_RUNS_KEEP = re.compile(r"([.,;:!?()\[\]\"“”«»\n]+)")
_PAIR_ALPHA = 0.05  # pseudo-count for an accented pair the corpus has not seen (its folded pair it has)
# how questions ask: words a plan rarely uses but nearly every question does
QUESTION_PHRASES = ("Ai? Cái gì? Là gì? Việc gì? Nào? Cơ quan nào? Bao nhiêu? Có bao nhiêu? Mấy? Ở đâu? Khi nào? "
                    "Bao giờ? Có không? Thế nào? Tên là gì? Gồm những gì?")


MAX_CHARS = 20_000_000  # ~300 plans the size of the seed ones: their statistics are plenty


def _syllables(text: str) -> list[str]:
    """Lower-cased syllables with modern tone placement; a punctuation mark or a line break starts a new run."""
    return _SYL.findall(modern_tones(clean(text)).lower())


class Restorer:
    """Most probable accented form of a folded question: each syllable's accented forms weighed by how often
    the corpus uses them, and each pair of neighbouring syllables by how the corpus accents that folded pair
    ("nam gia" → "Nam Gia", "2026 nam" is unseen and says nothing)."""

    def __init__(self, unigrams: dict[str, Counter], pairs: dict[tuple[str, str], Counter]) -> None:
        self.unigrams = unigrams  # folded syllable → Counter(accented form)
        self.pairs = pairs  # (folded, folded) → Counter((accented, accented))

    @classmethod
    def build(cls, texts: Iterable[str | tuple[str, str]], max_chars: int = MAX_CHARS) -> Restorer:
        """Counts from ``texts`` (the corpus documents) and :data:`QUESTION_PHRASES`. A text may be a pair
        (text, its names): once ``max_chars`` of text are counted, only the names of further documents are
        (their title, ward, province), which bounds start-up time on a province's corpus (~1 s per 1 M chars)."""
        unigrams: dict[str, Counter] = defaultdict(Counter)
        pairs: dict[tuple[str, str], Counter] = defaultdict(Counter)
        used = 0
        counted = []
        for item in texts:
            text, names = item if isinstance(item, tuple) else (item, "")
            used += len(text)
            counted.append(text if used <= max_chars else names)
        for text in [*counted, QUESTION_PHRASES]:
            for run in _RUNS.split(text):
                syls = _syllables(run)
                folded = [fold_word(x) for x in syls]
                for syl, f in zip(syls, folded, strict=True):
                    unigrams[f][syl] += 1
                for i in range(len(syls) - 1):
                    pairs[(folded[i], folded[i + 1])][(syls[i], syls[i + 1])] += 1
        return cls(dict(unigrams), dict(pairs))

    def restore(self, text: str) -> str:
        """``text`` lower-cased, with the corpus' accents put back on each syllable typed without them
        (syllables typed with marks, numbers and words the corpus does not know stay as typed)."""
        out: list[str] = []
        for piece in _RUNS_KEEP.split(clean(text)):
            out.append(self._restore_run(piece) if _SYL.search(piece) else piece)
        return "".join(out)

    def _restore_run(self, run: str) -> str:
        pieces = re.split(r"(\w+)", modern_tones(run).lower())
        pieces[1::2] = self._decode(pieces[1::2])
        return "".join(pieces)

    def _options(self, typed: str) -> list[tuple[str, float]]:
        """(accented form, log share of the folded syllable's uses) — the typed form alone if it has marks
        or the corpus does not know it."""
        forms = self.unigrams.get(typed) if fold(typed) == typed else None
        if not forms:
            return [(typed, 0.0)]
        total = sum(forms.values())
        return [(form, math.log(n / total)) for form, n in forms.items()]

    def _decode(self, syls: list[str]) -> list[str]:
        """Viterbi over the syllables: node score log P(form | folded), edge score log P(pair | folded pair)
        for pairs the corpus has seen (0 otherwise)."""
        if not syls:
            return []
        folded = [fold(x) for x in syls]
        scores = dict(self._options(syls[0]))
        back: list[dict[str, str]] = []
        for i in range(1, len(syls)):
            seen = self.pairs.get((folded[i - 1], folded[i]))
            total = sum(seen.values()) if seen else 0
            step: dict[str, float] = {}
            came: dict[str, str] = {}
            for form, node in self._options(syls[i]):
                best_prev, best = "", -math.inf
                for prev, score in scores.items():
                    if seen:
                        score += math.log((seen.get((prev, form), 0) + _PAIR_ALPHA) / (total + _PAIR_ALPHA))
                    if score > best:
                        best_prev, best = prev, score
                step[form], came[form] = best + node, best_prev
            scores = step
            back.append(came)
        form = max(scores, key=scores.__getitem__)
        path = [form]
        for came in reversed(back):
            form = came[form]
            path.append(form)
        return path[::-1]
