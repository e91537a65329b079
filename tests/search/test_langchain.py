from langchain_core.documents import Document

from assistant.search.langchain import HybridRetriever


def test_langchain_retriever_returns_cited_documents(assistant):
    retriever = HybridRetriever(assistant=assistant, k=3)
    docs = retriever.invoke("Nghị định số 118/2025/NĐ-CP về số hóa hồ sơ")
    assert 0 < len(docs) <= 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0].metadata
    assert {"doc_id", "title", "locator", "start", "end", "score"} <= set(top)
    assert any("118/2025/NĐ-CP" in d.page_content for d in docs)


def test_langchain_retriever_filters_by_document(assistant):
    docs = HybridRetriever(assistant=assistant, k=5, doc_id="nam-gia-nghia-cchc-2026-2030").invoke("chuyển đổi số")
    assert docs and {d.metadata["doc_id"] for d in docs} == {"nam-gia-nghia-cchc-2026-2030"}
