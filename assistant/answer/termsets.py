"""Many small sets of terms (one per unit of the index), stored compactly.

The answer and re-scoring stages ask "does unit p hold term t?" for the few dozen candidates of a question, but
need the terms of every unit at hand. As Python sets they cost ~13 KB per unit (4.5 GB of RSS at 100k units);
here each set is a run of int32 ids over one shared vocabulary (~4 bytes a term), and a set is rebuilt on access
(the most recent ones memoised). The inverted view (term → units) comes from the same arrays.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np


class Vocab:
    """Terms ↔ dense integer ids, shared by every TermSets of one index."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.words: list[str] = []

    def __len__(self) -> int:
        return len(self.words)

    def add(self, term: str) -> int:
        i = self.ids.get(term)
        if i is None:
            i = self.ids[term] = len(self.words)
            self.words.append(term)
        return i


class TermSets:
    def __init__(self, vocab: Vocab, offsets: np.ndarray, ids: np.ndarray, cache: int = 8192,
                 keys: np.ndarray | None = None) -> None:
        self.vocab, self.offsets, self.ids = vocab, offsets, ids
        self.keys = keys  # optional: a hash of each row's source text (``search.index.text_key``)
        self._get = lru_cache(maxsize=cache)(self._row)

    @classmethod
    def build(cls, sets: Iterable[Iterable[str]], vocab: Vocab | None = None) -> TermSets:
        """One row per set, in order (duplicates within a set are dropped)."""
        vocab = vocab if vocab is not None else Vocab()
        ids, offsets = array("i"), array("q", [0])
        for terms in sets:
            ids.extend(sorted({vocab.add(t) for t in terms}))
            offsets.append(len(ids))
        return cls(vocab, np.frombuffer(offsets, dtype=np.int64), np.frombuffer(ids, dtype=np.int32))

    @classmethod
    def carried(cls, before: TermSets, src: np.ndarray, extract: Callable[[int], Iterable[str]]) -> TermSets:
        """Rows over ``before``'s vocabulary: row p is ``before``'s row ``src[p]``, copied as arrays, or (where
        ``src[p]`` < 0) ``extract(p)`` — a rebuild's unchanged rows cost no per-term work."""
        vocab, src = before.vocab, np.asarray(src, dtype=np.int64)
        kept = src >= 0
        fresh = {p: sorted({vocab.add(t) for t in extract(p)}) for p in np.flatnonzero(~kept).tolist()}
        lengths = np.zeros(len(src), dtype=np.int64)
        b_starts = before.offsets[src[kept]]
        lengths[kept] = before.offsets[src[kept] + 1] - b_starts
        lengths[~kept] = [len(fresh[p]) for p in np.flatnonzero(~kept).tolist()]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.empty(int(offsets[-1]), dtype=np.int32)
        ids[_ranges(offsets[:-1][kept], lengths[kept])] = before.ids[_ranges(b_starts, lengths[kept])]
        for p, row in fresh.items():
            ids[offsets[p] : offsets[p + 1]] = row
        return cls(vocab, offsets, ids)

    def tile(self, copies: int) -> TermSets:
        """These rows repeated ``copies`` times (for synthetic corpora made of copies of one index)."""
        n = len(self.ids)
        offsets = np.concatenate([self.offsets[:-1] + j * n for j in range(copies)] + [[copies * n]])
        return TermSets(self.vocab, offsets.astype(np.int64), np.tile(self.ids, copies))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, pos: int) -> frozenset[str]:
        return self._get(pos)

    def _row(self, pos: int) -> frozenset[str]:
        words = self.vocab.words
        return frozenset(words[i] for i in self.ids[self.offsets[pos] : self.offsets[pos + 1]].tolist())

    def doc_freq(self) -> dict[str, int]:
        """Term → number of rows holding it."""
        counts = np.bincount(self.ids, minlength=len(self.vocab))
        words = self.vocab.words
        return {words[i]: int(c) for i, c in zip(np.flatnonzero(counts).tolist(), counts[counts > 0].tolist(),
                                                 strict=True)}

    def inverted(self) -> tuple[np.ndarray, np.ndarray]:
        """The term → rows view: rows holding the term of id i are ``rows[starts[i]:starts[i + 1]]``, ascending."""
        counts = np.bincount(self.ids, minlength=len(self.vocab))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rows = np.repeat(np.arange(len(self), dtype=np.int32), np.diff(self.offsets))
        return starts, rows[np.argsort(self.ids, kind="stable")]



def compacted(sets: dict[str, TermSets], slack: float = 1.5) -> dict[str, TermSets]:
    """The same rows over a vocabulary of only the terms they use, when the shared one holds more than ``slack``
    times that many (rebuilds carry rows over the previous build's vocabulary, which keeps removed rows' terms)."""
    if not sets:
        return sets
    vocab = next(iter(sets.values())).vocab
    used = np.zeros(len(vocab), dtype=bool)
    for s in sets.values():
        used[s.ids] = True
    if len(vocab) <= slack * max(int(used.sum()), 1):
        return sets
    new, remap = Vocab(), np.full(len(vocab), -1, dtype=np.int32)
    for i in np.flatnonzero(used).tolist():  # ascending: each row's ids stay sorted
        remap[i] = new.add(vocab.words[i])
    return {name: TermSets(new, s.offsets, remap[s.ids], keys=s.keys) for name, s in sets.items()}


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start..start+length-1 of every (start, length), concatenated."""
    total = int(lengths.sum())
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.repeat(starts.astype(np.int64) - before, lengths) + np.arange(total, dtype=np.int64)


def save_term_sets(path: Path, sets: dict[str, TermSets]) -> None:
    """Named TermSets over one shared vocabulary, in one ``.npz`` file (written aside, then renamed)."""
    vocabs = {id(s.vocab) for s in sets.values()}
    if len(vocabs) > 1:
        raise ValueError("term sets saved together must share one vocabulary")
    words = next(iter(sets.values())).vocab.words if sets else []
    if any(not w or "\n" in w for w in words):
        raise ValueError("a term is empty or holds a line break")
    arrays = {"vocab": np.frombuffer("\n".join(words).encode(), dtype=np.uint8)}
    for name, s in sets.items():
        arrays[f"{name}:offsets"], arrays[f"{name}:ids"] = s.offsets, s.ids
        if s.keys is not None:
            arrays[f"{name}:keys"] = s.keys
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.rename(path)


def load_term_sets(path: Path) -> dict[str, TermSets]:
    """What ``save_term_sets`` wrote: the named TermSets, sharing one Vocab."""
    with np.load(path) as data:
        vocab = Vocab()
        text = data["vocab"].tobytes().decode()
        for w in text.split("\n") if text else []:
            vocab.add(w)
        names = {k.rsplit(":", 1)[0] for k in data.files if k != "vocab"}
        return {n: TermSets(vocab, data[f"{n}:offsets"], data[f"{n}:ids"],
                            keys=data[f"{n}:keys"] if f"{n}:keys" in data.files else None) for n in sorted(names)}
