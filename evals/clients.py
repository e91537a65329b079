"""How the runner talks to the assistant: in-process (``assistant.load()``) or over HTTP.

Both clients return plain dicts shaped like the HTTP API, so scoring does not care which one ran:
``ask`` → {"answer", "abstained", "kind", "citations": [{"doc_id", "title", "locator", "quote", "start", "end"}],
"items", "conflicts", "total"}; ``search`` → the hits' texts, best first; ``check_quote`` → is a citation verbatim.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, Protocol

from .metrics import collapse, quote_in_source, verbatim

ROOT = Path(__file__).resolve().parent.parent


class Client(Protocol):
    name: str
    embedder: Any  # has embed_passages(list[str]) / embed_query(str); None when unavailable (HTTP)

    def ask(self, question: str) -> dict[str, Any]: ...

    def search(self, question: str, top_k: int, mode: str) -> list[str]: ...

    def check_quote(self, citation: dict[str, Any]) -> bool: ...


def _plain(obj: Any) -> Any:
    """A dataclass / pydantic model / mapping as a plain dict (lists element-wise)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if hasattr(obj, "__dict__") and not isinstance(obj, type) and type(obj).__module__ == "types":
        return {k: _plain(v) for k, v in vars(obj).items()}  # SimpleNamespace
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def answer_dict(raw: Any) -> dict[str, Any]:
    """Normalise an Answer (object or API JSON) to the fields scoring uses, with safe defaults."""
    d = _plain(raw) if not isinstance(raw, dict) else raw
    if not isinstance(d, dict):
        d = {k: _plain(v) for k, v in vars(d).items()} if hasattr(d, "__dict__") else {}
    return {
        "answer": str(d.get("answer") or ""),
        "abstained": bool(d.get("abstained", False)),
        "kind": str(d.get("kind") or ""),
        "citations": [c for c in (_plain(c) for c in d.get("citations") or []) if isinstance(c, dict)],
        "items": [i for i in (_plain(i) for i in d.get("items") or []) if isinstance(i, dict)],
        "conflicts": [i for i in (_plain(i) for i in d.get("conflicts") or []) if isinstance(i, dict)],
        "total": d.get("total"),
    }


def load_sources(corpus_dir: Path) -> dict[str, str]:
    """doc_id → the corpus file's text, read through ``manifest.toml`` (empty if there is no manifest)."""
    manifest = corpus_dir / "manifest.toml"
    if not manifest.is_file():
        return {}
    entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("documents", [])
    out: dict[str, str] = {}
    for e in entries:
        path = corpus_dir / str(e.get("file", ""))
        if e.get("doc_id") and path.is_file():
            out[str(e["doc_id"])] = path.read_text(encoding="utf-8")
    return out


class InProcessClient:
    name = "in-process"

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.embedder = getattr(assistant, "embedder", None)
        settings = getattr(assistant, "settings", None)
        self.corpus_dir = Path(getattr(settings, "corpus_dir", ROOT / "corpus"))

    def ask(self, question: str) -> dict[str, Any]:
        return answer_dict(self.assistant.ask(question))

    def search(self, question: str, top_k: int, mode: str) -> list[str]:
        """Each hit as the source text it points to (its span, whitespace collapsed) and its own text: a hit
        "contains" the gold evidence when the passage of the document it cites does."""
        docs = self.assistant.index.docs
        out = []
        for h in self.assistant.search(question, top_k=top_k, mode=mode):
            doc, span = docs.get(getattr(h, "doc_id", None)), getattr(h, "span", None)
            source = collapse(doc.text[span[0]:span[1]]) if doc is not None and span else ""
            out.append(f"{source} {h.text}".strip())
        return out

    def check_quote(self, citation: dict[str, Any]) -> bool:
        doc = self.assistant.index.docs.get(citation.get("doc_id"))
        if doc is None:
            return False
        return verbatim(str(citation.get("quote", "")), doc.text, citation.get("start"), citation.get("end"))

    def sources(self) -> dict[str, str]:
        return load_sources(self.corpus_dir)


class HTTPClient:
    name = "http"

    def __init__(self, url: str, corpus_dir: Path, timeout: float = 120.0, transport: Any = None) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self.embedder = None
        self.corpus_dir = corpus_dir
        self._collapsed = {k: collapse(v) for k, v in load_sources(corpus_dir).items()}

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=payload)
        r.raise_for_status()
        return r.json()

    def ask(self, question: str) -> dict[str, Any]:
        return answer_dict(self._post("/api/ask", {"question": question}))

    def search(self, question: str, top_k: int, mode: str) -> list[str]:
        data = self._post("/api/search", {"question": question, "top_k": top_k, "mode": mode})
        sources = self._sources()
        out = []
        for h in data.get("hits", []):
            text = sources.get(str(h.get("doc_id")), "")
            span = text[h["start"]:h["end"]] if isinstance(h.get("start"), int) and isinstance(h.get("end"), int) else ""
            out.append(f"{collapse(span)} {h.get('text', '')}".strip())
        return out

    def _sources(self) -> dict[str, str]:
        if not hasattr(self, "_raw"):
            self._raw = load_sources(self.corpus_dir)
        return self._raw

    def check_quote(self, citation: dict[str, Any]) -> bool:
        source = self._collapsed.get(str(citation.get("doc_id")))
        return source is not None and quote_in_source(str(citation.get("quote", "")), source)

    def sources(self) -> dict[str, str]:
        return load_sources(self.corpus_dir)
