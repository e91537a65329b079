"""BM25 over our own tokens (see ``text.segment``), via bm25s."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np


class Lexical:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._bm25 = retriever

    @classmethod
    def build(cls, corpus_tokens: list[list[str]]) -> Lexical:
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(corpus_tokens, show_progress=False)
        return cls(retriever)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every unit (0 where no token matches)."""
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def save(self, path: Path) -> None:
        self._bm25.save(str(path))

    @classmethod
    def load(cls, path: Path) -> Lexical:
        return cls(bm25s.BM25.load(str(path)))
