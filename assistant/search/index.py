"""Build the hybrid index from the corpus, save it atomically, load it and check it is current.

Layout: ``index/current`` is a symlink to ``index/builds/<build-id>/`` holding ``meta.json``, ``units.json``,
``tasks.json``, ``legal.json``, ``bm25/``, ``dense.faiss`` and ``terms.npz`` (every unit's term sets, which the
answer stage would otherwise extract at start-up: 0.3–0.6 ms a unit, minutes at a million units). A build is
written to a new build directory and the symlink is replaced atomically, so readers never see a half-written
index and a failed build changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..answer.termsets import TermSets, Vocab, load_term_sets, save_term_sets
from ..corpus import corpus_hash, load_corpus
from ..errors import IndexStateError
from ..ingest import Parsed, ingest
from ..models import Chunk, Document, LegalReference, TaskRecord
from ..settings import Settings
from ..text.segment import tokens
from .dense import Dense
from .embedder import Embedder, make_embedder
from .lexical import Lexical
from .records import chunk_from, dump, legal_from, task_from

FORMAT_VERSION = 1
Progress = Callable[[str, int, int], None]
T = TypeVar("T")


@dataclass
class Index:
    meta: dict
    docs: dict[str, Document]
    units: list[Chunk]
    tasks: list[TaskRecord]
    legal: list[LegalReference]
    lexical: Lexical
    dense: Dense
    unit_task: dict[int, int]  # unit position → task position

    @property
    def doc_ids(self) -> list[str]:
        return list(self.docs)


def unit_text(unit: Chunk) -> str:
    """What is indexed and embedded: the nearest headings give context, then the unit's own text."""
    context = " › ".join(h for h in unit.heading_path[-2:] if h)
    return f"{context}. {unit.text}" if context else unit.text


def derived(index: Index, name: str, compute: Callable[[], T]) -> T:
    """Data computed from a loaded index once and kept with it (per-unit term sets, units per document…); a
    synthetic index may supply it."""
    cache = index.__dict__.setdefault("_derived", {})
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def term_sets(index: Index, name: str, text: Callable[[int], str], extract: Callable[[str], Iterable[str]],
              count: int) -> TermSets:
    """``extract(text(p))`` for p in 0…count-1 as TermSets over the index's one vocabulary, computed once per
    index. At load, the rows stored with the build (``terms.npz``) are used when a sample of them extracts the
    same (code that changed how terms are drawn makes them stale: they are computed again). At build, rows whose
    text the previous build already held are carried over from it (one plan re-indexed: only its rows are
    extracted), keyed by a hash of the text."""
    def compute() -> TermSets:
        stored = index.__dict__.get("_stored_terms", {}).get(name)
        if stored is not None and len(stored) == count and all(
                stored[p] == frozenset(extract(text(p))) for p in _sample(count)):
            return stored
        texts = [text(p) for p in range(count)]
        keys = [text_key(t) for t in texts]
        before = index.__dict__.get("_previous_terms", {}).get(name)
        known: dict[int, int] = {}
        if before is not None and before.keys is not None:
            known = {k: i for i, k in enumerate(before.keys.tolist())}
            same = [p for p in range(count) if keys[p] in known]
            check = same[:: -(-len(same) // 32) or 1]  # ~32 carried rows extracted again: same terms?
            if not all(before[known[keys[p]]] == frozenset(extract(texts[p])) for p in check):
                known = {}  # drawn by other code: extract every row again
        rows = (before[known[k]] if k in known else extract(t) for t, k in zip(texts, keys, strict=True))
        out = TermSets.build(rows, vocab(index))
        out.keys = np.array(keys, dtype=np.int64)
        return out

    return derived(index, name, compute)


def text_key(text: str) -> int:
    """A stable 63-bit hash of a row's text (rows carried across builds are matched by it)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def vocab(index: Index) -> Vocab:
    """The vocabulary every TermSets of this index shares (the stored one when the build has term sets)."""
    stored = index.__dict__.get("_stored_terms")
    return derived(index, "vocab", lambda: next(iter(stored.values())).vocab if stored else Vocab())


def _sample(count: int, n: int = 32) -> list[int]:
    return sorted({round(i * (count - 1) / (n - 1)) for i in range(n)}) if count else []


def precompute(index: Index) -> dict[str, TermSets]:
    """Every term set the answer stage derives from an index, computed now (at build time, to be stored)."""
    # the stages that own these term sets, imported here: they import this module
    from ..answer.compose import unit_term_sets
    from .rescore import rescore_term_sets

    unit_term_sets(index), rescore_term_sets(index)
    return {k: v for k, v in index.__dict__["_derived"].items() if isinstance(v, TermSets)}


def _previous_term_sets(index_dir: Path) -> dict[str, TermSets]:
    """The current build's stored term sets, to carry unchanged rows into a new build (none if unreadable)."""
    build = current_build(index_dir)
    try:
        return load_term_sets(build / "terms.npz") if build and (build / "terms.npz").is_file() else {}
    except Exception:  # noqa: BLE001 - a damaged file only means every row is extracted again
        return {}


def units_by_doc(index: Index) -> dict[str, list[int]]:
    """Each document's unit positions, in index order."""
    def build() -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for pos, u in enumerate(index.units):
            out[u.doc_id].append(pos)
        return dict(out)

    return derived(index, "units_by_doc", build)


def _link_tasks(units: list[Chunk], tasks: list[TaskRecord]) -> dict[int, int]:
    by_key = {(t.doc_id, t.locator): i for i, t in enumerate(tasks)}
    return {u: by_key[(c.doc_id, c.locator)] for u, c in enumerate(units)
            if c.kind in ("task", "appendix_row") and (c.doc_id, c.locator) in by_key}


class EmbeddingCache:
    """Vectors by content hash, per model: a rebuild only embeds what changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        keys = np.array(list(self.vectors), dtype="U32")
        np.savez(tmp, keys=keys, vectors=np.stack(list(self.vectors.values())) if self.vectors else np.zeros((0, 1)))
        os.replace(tmp, self.path)


def _all_cores_for_torch() -> None:
    """Batch embedding wants every core (faiss's single-thread OpenMP setting otherwise applies to torch too)."""
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        pass


def embed_units(texts: list[str], embedder: Embedder, cache: EmbeddingCache, progress: Progress | None) -> np.ndarray:
    # by length, so a batch pads its texts to similar lengths (half the embedding time on the seed corpus)
    missing = sorted((t for t in dict.fromkeys(texts) if cache.key(t) not in cache.vectors), key=len)
    if missing:
        _all_cores_for_torch()
    batch = 16
    for i in range(0, len(missing), batch):
        part = missing[i : i + batch]
        for t, v in zip(part, embedder.embed_passages(part, batch_size=batch), strict=True):
            cache.vectors[cache.key(t)] = v
        if progress:
            progress("embed", min(i + batch, len(missing)), len(missing))
    if missing:
        cache.save()
    return np.stack([cache.vectors[cache.key(t)] for t in texts]).astype(np.float32)


def build_index(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None) -> Path:
    """Parse the corpus, index it and swap the result into ``settings.index_dir``. Returns the build dir."""
    started = time.time()
    docs = load_corpus(settings.corpus_dir)  # raises CorpusError before anything is written
    parsed: list[Parsed] = [ingest(d) for d in docs]
    units = [c for p in parsed for c in p.chunks]
    tasks = [t for p in parsed for t in p.tasks]
    legal = [r for p in parsed for r in p.legal_refs]
    if progress:
        progress("parse", len(units), len(units))
    embedder = embedder or make_embedder(settings.embedding_model, settings.cache_dir / "models")
    texts = [unit_text(u) for u in units]
    cache = EmbeddingCache(settings.cache_dir / "embeddings" / f"{_safe(embedder.model_id)}.npz")
    vectors = embed_units(texts, embedder, cache, progress)
    lexical = Lexical.build([tokens(t) for t in texts])
    dense = Dense.build(vectors)
    built = Index({}, {d.doc_id: d for d in docs}, units, tasks, legal, lexical, dense, _link_tasks(units, tasks))
    built.__dict__["_previous_terms"] = _previous_term_sets(settings.index_dir)
    term_sets_ = precompute(built)

    builds = settings.index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = builds / f".{build_id}.partial"
    tmp.mkdir()
    try:
        meta = {
            "format_version": FORMAT_VERSION,
            "corpus_hash": corpus_hash(docs),
            "model_id": embedder.model_id,
            "dim": int(vectors.shape[1]),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 2),
            "counts": {"documents": len(docs), "units": len(units), "tasks": len(tasks), "legal_refs": len(legal)},
        }
        _write_json(tmp / "docs.json", [d.meta() for d in docs])
        _write_json(tmp / "units.json", [dump(u) for u in units])
        _write_json(tmp / "tasks.json", [dump(t) for t in tasks])
        _write_json(tmp / "legal.json", [dump(r) for r in legal])
        lexical.save(tmp / "bm25")
        dense.save(tmp / "dense.faiss")
        save_term_sets(tmp / "terms.npz", term_sets_)
        _write_json(tmp / "meta.json", meta)  # written last: a build without meta.json is incomplete
        final = builds / build_id
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_current(settings.index_dir, final)
    _prune(builds, keep=final)
    return final


def _safe(model_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _swap_current(index_dir: Path, build: Path) -> None:
    link = index_dir / "current"
    tmp_link = index_dir / f".current-{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(build.relative_to(index_dir))
    os.replace(tmp_link, link)  # atomic on POSIX


def _prune(builds: Path, keep: Path, spare: int = 1) -> None:
    """Remove old builds, keeping the current one and ``spare`` previous ones (a reader may still use them)."""
    done = sorted((p for p in builds.iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[spare:]:
        shutil.rmtree(old, ignore_errors=True)


def current_build(index_dir: Path) -> Path | None:
    link = index_dir / "current"
    return link.resolve() if link.exists() and (link / "meta.json").is_file() else None


def check_index(settings: Settings, model_id: str | None = None) -> str | None:
    """None if the index is usable for the current corpus and model, else the reason it is not."""
    build = current_build(settings.index_dir)
    if build is None:
        return f"no index in {settings.index_dir}"
    try:
        meta = json.loads((build / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return f"{build}/meta.json is unreadable ({exc})"
    if meta.get("format_version") != FORMAT_VERSION:
        return f"index format {meta.get('format_version')} != {FORMAT_VERSION}"
    if meta.get("corpus_hash") != corpus_hash(load_corpus(settings.corpus_dir)):
        return "the corpus changed since the index was built"
    if model_id and meta.get("model_id") != model_id:
        return f"index built with model {meta.get('model_id')}, settings ask for {model_id}"
    return None


def load_index(settings: Settings) -> Index:
    build = current_build(settings.index_dir)
    if build is None:
        raise IndexStateError(f"No index in {settings.index_dir}. Build it with: python -m assistant index")
    try:
        meta = json.loads((build / "meta.json").read_text(encoding="utf-8"))
        docs = {d.doc_id: d for d in load_corpus(settings.corpus_dir)}
        if meta.get("corpus_hash") != corpus_hash(list(docs.values())):
            raise IndexStateError("The index is stale (the corpus changed). Rebuild: python -m assistant index")
        units = [chunk_from(d) for d in _read_json(build / "units.json")]
        tasks = [task_from(d) for d in _read_json(build / "tasks.json")]
        legal = [legal_from(d) for d in _read_json(build / "legal.json")]
        lexical = Lexical.load(build / "bm25")
        dense = Dense.load(build / "dense.faiss")
        stored = load_term_sets(build / "terms.npz") if (build / "terms.npz").is_file() else {}
    except IndexStateError:
        raise
    except Exception as exc:  # corrupt files of any kind
        raise IndexStateError(f"The index in {build} is corrupt ({exc}). Rebuild: python -m assistant index") from exc
    if lexical.size != len(units) or dense.size != len(units):
        raise IndexStateError(f"The index in {build} is inconsistent. Rebuild: python -m assistant index")
    index = Index(meta, docs, units, tasks, legal, lexical, dense, _link_tasks(units, tasks))
    index.__dict__["_stored_terms"] = stored
    return index


def _read_json(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))
