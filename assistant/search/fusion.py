"""Weighted reciprocal rank fusion of per-leg rankings (ranks in, fused ids out — scores never compared)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RRF_K = 60


@dataclass(frozen=True)
class Fused:
    id: str
    score: float  # Σ weight / (rrf_k + rank) over the legs that ranked the unit
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based rank per leg that ranked the unit


def fuse(legs: Mapping[str, Sequence[str]], weights: Mapping[str, float] | None = None, k: int = 10,
         rrf_k: int = RRF_K, tiebreak: Callable[[str], Any] | None = None) -> list[Fused]:
    """The k best ids by weighted RRF, best first; only ids with a positive fused score.

    ``weights`` defaults to 1 per leg (a leg missing from ``weights`` weighs 0 but still reports its ranks).
    Equal scores are ordered by ``tiebreak(id)`` if given (e.g. the unit's position in the index), else by
    first appearance (legs in order, then rank)."""
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, ids in legs.items():
        w = 1.0 if weights is None else float(weights.get(name, 0.0))
        for r, uid in enumerate(ids, 1):
            if name in ranks.get(uid, ()):
                continue  # a duplicate within one leg counts once, at its best rank
            scores[uid] = scores.get(uid, 0.0) + w / (rrf_k + r)
            ranks.setdefault(uid, {})[name] = r
    candidates = [u for u, s in scores.items() if s > 0]
    if tiebreak is None:
        candidates.sort(key=lambda u: -scores[u])  # stable: first appearance breaks ties
    else:
        candidates.sort(key=lambda u: (-scores[u], tiebreak(u)))
    return [Fused(u, scores[u], ranks[u]) for u in candidates[:k]]
