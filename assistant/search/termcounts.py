"""Units' tokens as BM25 needs them: counts per (unit, distinct term) over a vocabulary of their own.

A build caches one per document (``shards``) and assembles the corpus's BM25 matrix from them
(``Lexical.from_counts``), so this is part of the code a cached shard depends on: kept apart from the scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class TermCounts:
    """Some units' tokens as BM25 needs them: a vocabulary of their own and one entry per (unit, distinct term)."""

    vocab: list[str]
    unit: np.ndarray  # int32: the unit of each entry (0-based within these units), ascending
    term: np.ndarray  # int32: index into vocab
    tf: np.ndarray  # int32: how often the term occurs in the unit
    lengths: np.ndarray  # int32: each unit's token count (repeats counted), one per unit

    @classmethod
    def of(cls, token_lists: Sequence[Sequence[str]]) -> TermCounts:
        ids: dict[str, int] = {}
        flat = [ids.setdefault(t, len(ids)) for toks in token_lists for t in toks]
        lengths = np.array([len(toks) for toks in token_lists], dtype=np.int32)
        width = max(len(ids), 1)
        units = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
        pairs, tf = np.unique(units * width + np.array(flat, dtype=np.int64), return_counts=True)  # sorted by unit
        return cls(list(ids), (pairs // width).astype(np.int32), (pairs % width).astype(np.int32),
                   tf.astype(np.int32), lengths)

    @property
    def units(self) -> int:
        return len(self.lengths)
