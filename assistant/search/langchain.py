"""The hybrid retriever as a LangChain ``BaseRetriever``, so it plugs into users' chains.

    from assistant import load
    from assistant.search.langchain import HybridRetriever
    retriever = HybridRetriever(assistant=load(), k=5)
    docs = retriever.invoke("ai chủ trì số hóa hồ sơ")   # list[langchain_core.documents.Document]
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class HybridRetriever(BaseRetriever):
    """Each hit becomes a ``Document`` whose metadata carries doc_id, title, locator, kind, span and score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Any
    k: int = 5
    mode: str = "hybrid"
    doc_id: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.assistant.search(query, top_k=self.k, mode=self.mode, doc_id=self.doc_id)
        docs = self.assistant.index.docs
        return [
            Document(
                page_content=h.text,
                metadata={"doc_id": h.doc_id, "title": docs[h.doc_id].title, "locator": h.locator, "kind": h.kind,
                          "start": h.span[0], "end": h.span[1], "score": h.score, "unit_id": h.unit_id},
            )
            for h in hits
        ]
