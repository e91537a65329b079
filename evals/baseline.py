"""The LangChain baseline a user would build in ten lines, with the assistant's own embedder.

RecursiveCharacterTextSplitter(800, 100) over the raw corpus files → FAISS (langchain_community) → top-k chunks.
"Answer" = the top chunk's text (it never abstains), scored with the same metrics as the assistant.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from .metrics import answer_correct, evidence_rank, mean, mrr, percentile, recall_at

CHUNK_SIZE = 800
CHUNK_OVERLAP = 100
TOP_K = 4  # LangChain's default k
FETCH_K = 5  # one more, for recall@5


class AssistantEmbeddings(Embeddings):
    """LangChain view of the assistant's embedder (E5 'passage:' / 'query:' prefixes are the embedder's job)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self.embedder.embed_passages(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.embedder.embed_query(text)))


def build_store(sources: dict[str, str], embedder: Any) -> tuple[Any, int]:
    """(FAISS vector store, number of chunks) over the raw texts."""
    with warnings.catch_warnings():  # langchain-community announces its sunset on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    docs = splitter.split_documents(
        [Document(page_content=text, metadata={"doc_id": doc_id}) for doc_id, text in sources.items()]
    )
    return FAISS.from_documents(docs, AssistantEmbeddings(embedder)), len(docs)


def run_baseline(items: list[dict[str, Any]], sources: dict[str, str], embedder: Any) -> dict[str, Any]:
    """Per-item rows and a summary: recall@1/4/5 + MRR of the gold evidence, and top-chunk answer accuracy."""
    t0 = time.perf_counter()
    store, n_chunks = build_store(sources, embedder)
    build_s = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    for item in items:
        start = time.perf_counter()
        try:
            docs = store.similarity_search(str(item["question"]), k=FETCH_K)
            error = None
        except Exception as exc:  # a failing query is a miss, not a crash
            docs, error = [], f"{type(exc).__name__}: {exc}"
        texts = [d.page_content for d in docs]
        answerable = bool(item.get("answerable", True))
        top = texts[0] if texts else ""
        evidence = item.get("evidence") or ""
        rows.append(
            {
                "id": item.get("id"),
                "answerable": answerable,
                "no_diacritics": bool(item.get("no_diacritics", False)),
                "rank": evidence_rank(texts[:FETCH_K], evidence) if answerable and evidence else None,
                "has_evidence": bool(answerable and evidence),
                "correct": answerable and answer_correct(top, item.get("answers") or []),
                "top_doc": docs[0].metadata.get("doc_id") if docs else None,
                "latency_ms": round((time.perf_counter() - start) * 1000, 1),
                "error": error,
            }
        )
    return {"summary": summarize_baseline(rows, n_chunks, build_s), "items": rows}


def summarize_baseline(rows: list[dict[str, Any]], n_chunks: int, build_s: float = 0.0) -> dict[str, Any]:
    ranked = [r["rank"] for r in rows if r["has_evidence"]]
    nd = [r["rank"] for r in rows if r["has_evidence"] and r["no_diacritics"]]
    answerable = [r for r in rows if r["answerable"]]
    return {
        "n_chunks": n_chunks,
        "chunk_size": CHUNK_SIZE,
        "chunk_overlap": CHUNK_OVERLAP,
        "top_k": TOP_K,
        "build_s": round(build_s, 2),
        "n": len(ranked),
        "recall@1": recall_at(ranked, 1),
        "recall@4": recall_at(ranked, TOP_K),
        "recall@5": recall_at(ranked, 5),
        "mrr": mrr(ranked),
        "no_diacritics": {"n": len(nd), "recall@1": recall_at(nd, 1), "recall@5": recall_at(nd, 5), "mrr": mrr(nd)},
        "accuracy_answerable": mean(1.0 if r["correct"] else 0.0 for r in answerable),
        "accuracy_overall": mean(1.0 if r["correct"] else 0.0 for r in rows),  # unanswerable: always wrong
        "abstention_recall": 0.0 if any(not r["answerable"] for r in rows) else 1.0,
        "latency_p50_ms": percentile([r["latency_ms"] for r in rows], 50),
        "latency_p95_ms": percentile([r["latency_ms"] for r in rows], 95),
    }
