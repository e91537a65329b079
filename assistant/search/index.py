"""Build the hybrid index from the corpus, save it atomically, load it and check it is current.

Layout: ``index/current`` is a symlink to ``index/builds/<build-id>/`` holding ``meta.json`` (which also names
the per-document shards — ``shards`` — the build was assembled from), ``units.json``,
``tasks.json``, ``legal.json``, ``bm25/``, ``dense.faiss`` and ``terms.npz`` (every unit's term sets, which the
answer stage would otherwise extract at start-up: 0.3–0.6 ms a unit, minutes at a million units). A build is
written to a new build directory and the symlink is replaced atomically, so readers never see a half-written
index and a failed build changes nothing.
"""

from __future__ import annotations

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

from ..answer.termsets import TermSets, Vocab, compacted, load_term_sets, save_term_sets
from ..corpus import corpus_hash, load_corpus
from ..errors import IndexStateError
from ..models import Chunk, Document, LegalReference, TaskRecord
from ..settings import Settings
from .dense import HNSW_FROM, Dense
from .embedder import Embedder
from .lazy import settings_embedder
from .lexical import Lexical
from .records import chunk_from, legal_from, task_from
from .shards import Progress, ShardCache, stream_shards, text_key, unit_text
from .termcounts import TermCounts

__all__ = ["Index", "build_index", "load_index", "check_index", "term_sets", "text_key", "unit_text", "units_by_doc"]

FORMAT_VERSION = 1
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
        if before is not None and before.keys is not None and before.vocab is vocab(index):
            known = {k: i for i, k in enumerate(before.keys.tolist())}
            src = np.array([known.get(k, -1) for k in keys], dtype=np.int64)
            check = np.flatnonzero(src >= 0)
            check = check[:: -(-len(check) // 32) or 1]  # ~32 carried rows extracted again: same terms?
            if all(before[src[p]] == frozenset(extract(texts[p])) for p in check.tolist()):
                out = TermSets.carried(before, src, lambda p: extract(texts[p]))
                out.keys = np.array(keys, dtype=np.int64)
                return out
        out = TermSets.build((extract(t) for t in texts), vocab(index))  # drawn by other code, or no previous
        out.keys = np.array(keys, dtype=np.int64)
        return out

    return derived(index, name, compute)


def vocab(index: Index) -> Vocab:
    """The vocabulary every TermSets of this index shares: the stored one when the build has term sets, during a
    build the previous build's (so its rows carry over as arrays; terms only it held stay, unused)."""
    stored = index.__dict__.get("_stored_terms") or index.__dict__.get("_previous_terms")
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


def build_index(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None) -> Path:
    """Index the corpus and swap the result into ``settings.index_dir``. Returns the build dir.

    Documents stream through the shard cache (``shards``): only new or changed documents are parsed, tokenised
    and embedded, a batch at a time; BM25 and FAISS are then assembled from every document's term counts and
    vectors, and term sets carried over from the previous build where a unit's text is unchanged."""
    started = time.time()
    docs = load_corpus(settings.corpus_dir)  # raises CorpusError before anything is written
    embedder = embedder or settings_embedder(settings.embedding_model, settings.cache_dir / "models")
    cache = ShardCache(settings.cache_dir / "shards" / _safe(embedder.model_id))
    builds = settings.index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = builds / f".{build_id}.partial"
    tmp.mkdir()
    try:
        units: list[Chunk] = []
        tasks: list[TaskRecord] = []
        legal: list[LegalReference] = []
        counts: list[TermCounts] = []
        vectors: list[np.ndarray] = []
        files: list[tuple[str, int]] = []
        # each document's records go straight from its shard's JSON into the index files (no dump, no corpus copy)
        with _JsonLists(tmp, {"chunks": "units.json", "tasks": "tasks.json", "legal": "legal.json"}) as out:
            for shard in stream_shards(docs, cache, embedder, progress):
                units += shard.chunks
                tasks += shard.tasks
                legal += shard.legal
                counts.append(shard.counts)
                vectors.append(shard.vectors)
                files.append((shard.file, len(shard.chunks)))
                out.write(shard.raw)
        lexical = Lexical.from_counts(counts)
        del counts
        dense = _dense(settings.index_dir, files, vectors, embedder.model_id)
        del vectors
        built = Index({}, {d.doc_id: d for d in docs}, units, tasks, legal, lexical, dense, _link_tasks(units, tasks))
        built.__dict__["_previous_terms"] = _previous_term_sets(settings.index_dir)
        term_sets_ = compacted(precompute(built))
        meta = {
            "format_version": FORMAT_VERSION,
            "corpus_hash": corpus_hash(docs),
            "model_id": embedder.model_id,
            "dim": dense.dim,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 2),
            "counts": {"documents": len(docs), "units": len(units), "tasks": len(tasks), "legal_refs": len(legal)},
            "shards": files,  # [file, units] per document, in unit order
            "dense_unused_rows": dense.unused_rows,
        }
        _write_json(tmp / "docs.json", [d.meta() for d in docs])
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
    before = _shards_in_use(builds)
    _prune(builds, keep=final)
    kept = _shards_in_use(builds)
    cache.prune(docs, dropped=before - kept, keep=kept)
    return final


class _JsonLists:
    """JSON list files written piece by piece: each ``write`` appends the items of one JSON list per file."""

    def __init__(self, folder: Path, names: dict[str, str]) -> None:
        self.files = {key: open(folder / name, "wb") for key, name in names.items()}  # noqa: SIM115 - closed in __exit__
        self.empty = dict.fromkeys(names, True)

    def __enter__(self) -> _JsonLists:
        for f in self.files.values():
            f.write(b"[")
        return self

    def write(self, lists: dict[str, bytes]) -> None:
        for key, f in self.files.items():
            items = lists[key].strip()[1:-1]  # the list's items, without its brackets
            if items.strip():
                f.write(items if self.empty[key] else b", " + items)
                self.empty[key] = False

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.write(b"]")
            f.close()


def _dense(index_dir: Path, files: list[tuple[str, int]], vectors: list[np.ndarray], model_id: str) -> Dense:
    """FAISS over the units of ``files`` (shard file, unit count) in order. A graph index (HNSW) is extended from
    the current build's — its documents that are unchanged (same shard file) keep their rows — rather than built
    again (minutes at a million units); a flat index is built afresh (a copy of the vectors)."""
    if sum(n for _, n in files) < HNSW_FROM:
        return Dense.build(vectors)
    build = current_build(index_dir)
    try:
        meta = json.loads((build / "meta.json").read_text(encoding="utf-8")) if build else {}
        before = [(str(f), int(n)) for f, n in meta.get("shards", [])]
        # shard files are named alike for every model (each model has its own folder): same model only
        if meta.get("counts", {}).get("units", 0) < HNSW_FROM or not before or meta.get("model_id") != model_id:
            return Dense.build(vectors)
        previous = Dense.load(build / "dense.faiss")
    except Exception:  # noqa: BLE001 - an unreadable previous build: build the graph again
        return Dense.build(vectors)
    where, at = {}, 0
    for f, n in before:
        where[f] = np.arange(at, at + n)
        at += n
    if at != previous.size or previous.dim != next((v.shape[1] for v in vectors if len(v)), previous.dim):
        return Dense.build(vectors)
    reuse = [where[f] if f in where and len(where[f]) == n else None for f, n in files]
    return Dense.extend(previous, reuse, vectors)


def _shards_in_use(builds: Path) -> set[str]:
    """The shard files the builds still on disk were made from (a spare build may be swapped back in)."""
    used: set[str] = set()
    for build in builds.iterdir():
        try:
            used.update(f for f, _ in json.loads((build / "meta.json").read_text(encoding="utf-8")).get("shards", []))
        except (OSError, ValueError, TypeError):
            continue
    return used


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
