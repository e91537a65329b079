"""One store interface for retrieval: add units, delete a document, search → ranked ids per leg.

Two implementations: :class:`~assistant.search.embedded_store.EmbeddedStore` (bm25s + FAISS in-process, the
default) and :class:`~assistant.search.milvus_store.MilvusStore` (a province or the country). Only ranks cross
the interface — raw scores are not comparable across backends (milvus-lite returns BM25 scores negated, its IDF
is per segment) — and callers fuse the legs with :func:`assistant.search.fusion.fuse`.

Both stores take the *folded* tokens of ``text.segment.tokens`` (the same list bm25s indexes); a store that
needs another form (Milvus's ``standard`` analyzer) maps them itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import AssistantError

if TYPE_CHECKING:
    from ..settings import Settings
    from .index import Index

LEGS = ("bm25", "dense")
LegResults = dict[str, list[str]]  # leg name → unit ids, best first (a leg is present only if it was asked for)


class StoreError(AssistantError):
    """A store cannot be opened or written (unreachable server, bad settings, a field too long)."""


@dataclass(frozen=True)
class Filters:
    doc_id: str | None = None
    kinds: tuple[str, ...] | None = None  # passage | task | appendix_row | title | signature
    year: int | None = None  # documents whose period covers this year
    locality: str | None = None  # compared accent- and case-folded


@dataclass(frozen=True, eq=False)
class StoredUnit:
    """One retrievable unit as a store keeps it (metadata is the unit's document's, for filtering)."""

    id: str
    doc_id: str
    kind: str
    locality: str
    year_from: int
    year_to: int
    tokens: list[str] = field(repr=False)  # folded tokens (text.segment.tokens of index.unit_text)
    vector: np.ndarray = field(repr=False)  # normalised embedding
    text: str = field(repr=False, default="")  # the unit's original text


@runtime_checkable
class Store(Protocol):
    def add(self, units: list[StoredUnit]) -> None:
        """Insert units; a unit whose id is already stored replaces it."""

    def delete_document(self, doc_id: str) -> int:
        """Remove every unit of a document; returns how many were removed."""

    def search(self, tokens: list[str] | None, vector: np.ndarray | None, k: int,
               filters: Filters | None = None) -> LegResults:
        """Per leg, the ids of the k best allowed units, best first: "bm25" (only units matching at least one
        token) if ``tokens`` is given, "dense" (inner product) if ``vector`` is given."""

    def count(self) -> int: ...

    def close(self) -> None: ...


def units_from_index(index: Index, only: set[str] | None = None) -> list[StoredUnit]:
    """The index's units as StoredUnits: tokens recomputed exactly as ``build_index`` does, vectors read back
    from FAISS. ``only`` restricts to those unit ids (tokenising is the slow part)."""
    return [u for batch in unit_batches(index, only) for u in batch]


def unit_batches(index: Index, only: set[str] | None = None, size: int = 1000) -> Iterator[list[StoredUnit]]:
    """``units_from_index`` in batches of at most ``size`` units, reading ``size`` vectors at a time: filling a
    store this way holds one batch in memory, not the corpus."""
    from ..text.segment import tokens
    from .index import unit_text

    positions = [i for i, u in enumerate(index.units) if only is None or u.chunk_id in only]
    for start in range(0, len(positions), size):
        part = positions[start : start + size]
        vectors = index.dense.rows(part)
        batch = []
        for i, vector in zip(part, vectors, strict=True):
            u = index.units[i]
            doc = index.docs[u.doc_id]
            batch.append(StoredUnit(u.chunk_id, u.doc_id, u.kind, doc.locality, doc.year_from, doc.year_to,
                                    tokens(unit_text(u)), vector, u.text))
        yield batch


def make_store(settings: Settings, index: Index) -> Store:
    """The store ``settings.store`` names, holding ``index``'s units.

    "embedded" wraps the index's own bm25s + FAISS (nothing copied). "milvus" opens ``settings.milvus_uri``
    (a server URI, or a local ``*.db`` directory for milvus-lite) and brings its collection in line with the
    index: units missing there are added, units the index no longer has are deleted. The collection must have
    been filled with the same embedding model (use another collection for another model)."""
    if settings.store == "embedded":
        from .embedded_store import EmbeddedStore

        return EmbeddedStore.from_index(index)
    if settings.store == "milvus":
        if not settings.milvus_uri:
            raise StoreError("ASSISTANT_STORE=milvus needs ASSISTANT_MILVUS_URI (e.g. http://milvus:19530, "
                             "or a local path ending in .db for milvus-lite).")
        from .milvus_store import MilvusStore

        store = MilvusStore(settings.milvus_uri, dim=int(index.meta["dim"]))
        store.sync(index)
        return store
    raise StoreError(f"ASSISTANT_STORE={settings.store!r} is not a store: use 'embedded' or 'milvus'.")
