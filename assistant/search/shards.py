"""Per-document build artifacts ("shards"), cached on disk by content.

What one document contributes to the index — its parsed records (chunks, tasks, legal references), its units'
BM25 term counts, their vectors and text keys — is computed once per version of the document and of the code
that parses and tokenises it, and kept as one file in ``<cache>/shards/<model>/``. A build streams the corpus
through :func:`stream_shards` in bounded batches: a document whose shard is current costs a file read; the others
are parsed, tokenised and embedded a batch (``BATCH_UNITS`` units) at a time, vectors reused for any text an
older shard of the same document (or a document earlier in this build) already had. So re-indexing after one
plan changed parses, tokenises and embeds that plan's units only, and a build holds compact term counts, never
the corpus's token lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import ChainMap
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..ingest import Parsed, ingest
from ..models import Chunk, Document, LegalReference, TaskRecord
from ..text.segment import tokens
from .embedder import Embedder
from .records import chunk_from, dump, legal_from, task_from
from .termcounts import TermCounts

Progress = Callable[[str, int, int], None]
RECORDS = ("chunks", "tasks", "legal")  # a shard's records, each a JSON list (units.json, tasks.json, legal.json)
BATCH_UNITS = 2048  # units parsed and tokenised but not yet embedded and saved, at most (plus one document's)
QUEUE_DOCS = 64  # documents held back behind one still to embed, at most
MEMO_VECTORS = 200_000  # vectors remembered across documents of one build (identical boilerplate is embedded once)
# the code whose output a shard holds: a change to any of it makes every shard stale
PARSER_SOURCES = ("ingest", "text", "models.py", "search/records.py", "search/termcounts.py",
                  "search/shards.py")


def unit_text(unit: Chunk) -> str:
    """What is indexed and embedded: the nearest headings give context, then the unit's own text."""
    context = " › ".join(h for h in unit.heading_path[-2:] if h)
    return f"{context}. {unit.text}" if context else unit.text


def text_key(text: str) -> int:
    """A stable 63-bit hash of a text (vectors and term-set rows carried across builds are matched by it)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


@lru_cache(maxsize=1)
def parser_version() -> str:
    """A hash of the parsing and tokenising code (and the pyvi version): part of every shard's key."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for name in PARSER_SOURCES:
        path = root / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    with suppress(PackageNotFoundError):  # pyvi is a dependency; its version changes its tokens
        h.update(version("pyvi").encode())
    return h.hexdigest()[:16]


def doc_key(doc: Document) -> str:
    """Changes when the document's content or metadata, or the parsing code, changes."""
    meta = json.dumps(doc.meta(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{meta}\0{parser_version()}".encode()).hexdigest()[:20]


@dataclass
class Shard:
    doc_id: str
    chunks: list[Chunk]
    tasks: list[TaskRecord]
    legal: list[LegalReference]
    counts: TermCounts
    vectors: np.ndarray  # float32 (units, dim)
    keys: np.ndarray  # int64: text_key of each unit's indexed text
    file: str = ""  # the cache file it was read from or written to
    raw: dict[str, bytes] = field(default_factory=dict)  # RECORDS as JSON lists (what the index files concatenate)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


class ShardCache:
    """Shards of one embedding model, one ``<doc>.<key>.npz`` file per document version."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, doc: Document) -> Path:
        return self.root / f"{_safe(doc.doc_id)}.{doc_key(doc)}.npz"

    def get(self, doc: Document) -> Shard | None:
        path = self.path(doc)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                raw = {name: z[name].tobytes() for name in RECORDS}
                counts = TermCounts(json.loads(z["vocab"].tobytes()), z["unit"], z["term"], z["tf"], z["lengths"])
                records = {name: json.loads(raw[name]) for name in RECORDS}
                return Shard(doc.doc_id, [chunk_from(c) for c in records["chunks"]],
                             [task_from(t) for t in records["tasks"]], [legal_from(r) for r in records["legal"]],
                             counts, z["vectors"], z["keys"], path.name, raw)
        except Exception:  # noqa: BLE001 - a damaged cache file is computed again
            path.unlink(missing_ok=True)
            return None

    def put(self, doc: Document, shard: Shard) -> None:
        path = self.path(doc)
        shard.raw = {name: json.dumps([dump(r) for r in getattr(shard, name)], ensure_ascii=False).encode()
                     for name in RECORDS}
        arrays = {name: np.frombuffer(shard.raw[name], dtype=np.uint8) for name in RECORDS}
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, vocab=np.frombuffer(json.dumps(shard.counts.vocab, ensure_ascii=False).encode(),
                                                      dtype=np.uint8),
                     unit=shard.counts.unit, term=shard.counts.term, tf=shard.counts.tf,
                     lengths=shard.counts.lengths, vectors=shard.vectors, keys=shard.keys)
        os.replace(tmp, path)
        shard.file = path.name

    def older_vectors(self, doc: Document) -> dict[int, np.ndarray]:
        """Vectors by text key from this document's other shards (an earlier version, or older parsing code)."""
        out: dict[int, np.ndarray] = {}
        current = self.path(doc).name
        for path in self.root.glob(f"{_safe(doc.doc_id)}.*.npz"):
            if path.name == current or path.name.rsplit(".", 2)[0] != _safe(doc.doc_id):
                continue
            try:
                with np.load(path, allow_pickle=False) as z:
                    out.update(zip(z["keys"].tolist(), z["vectors"], strict=True))
            except Exception:  # noqa: BLE001 - only a lost chance to reuse vectors
                continue
        return out

    def prune(self, docs: Sequence[Document], dropped: set[str], keep: set[str]) -> None:
        """Delete the other versions of ``docs``' shards and the shards of ``dropped`` (files builds no longer
        on disk used), except those in ``keep`` (files the builds still on disk use). Shards of documents
        this index never held are left alone: another index may share the cache directory."""
        ours = {_safe(d.doc_id) for d in docs}
        for path in self.root.iterdir():
            name = path.name
            stale = name in dropped or (name.endswith(".npz") and name.rsplit(".", 2)[0] in ours)
            leftover = name.startswith(".") and ".tmp-" in name and time.time() - path.stat().st_mtime > 3600
            if (stale and name not in keep) or leftover:
                path.unlink(missing_ok=True)


def stream_shards(docs: Sequence[Document], cache: ShardCache, embedder: Embedder,
                  progress: Progress | None = None, batch: int = BATCH_UNITS) -> Iterator[Shard]:
    """Each document's shard, in order: read from the cache, or made (and saved) a batch at a time."""
    memo: dict[int, np.ndarray] = {}
    queue: list[tuple[Document, Parsed | Shard]] = []  # in corpus order: parsed (to finish) or cached
    waiting = done = 0
    for doc in docs:
        shard = cache.get(doc)
        if shard is not None and not queue:  # nothing waits before it: on its way at once
            yield shard
            done += 1
            if progress and done % 100 == 0:
                progress("docs", done, len(docs))
            continue
        if shard is None:
            parsed = ingest(doc)
            queue.append((doc, parsed))
            waiting += len(parsed.chunks)
        else:
            queue.append((doc, shard))
        if waiting >= batch or len(queue) >= QUEUE_DOCS:
            yield from _flush(queue, cache, embedder, memo, progress)
            done += len(queue)
            queue, waiting = [], 0
            if progress:
                progress("docs", done, len(docs))
    yield from _flush(queue, cache, embedder, memo, progress)
    if progress:
        progress("docs", len(docs), len(docs))


def _flush(queue: list[tuple[Document, Parsed | Shard]], cache: ShardCache, embedder: Embedder, memo: dict[int, np.ndarray],
           progress: Progress | None) -> Iterator[Shard]:
    new = [(doc, parsed, [unit_text(c) for c in parsed.chunks]) for doc, parsed in queue if isinstance(parsed, Parsed)]
    older: dict[int, np.ndarray] = {}
    for doc, _, _ in new:
        older.update(cache.older_vectors(doc))
    known = ChainMap(older, memo)  # looked through, not copied: the memo holds up to MEMO_VECTORS
    missing = {k: t for _, _, texts in new for t in texts if (k := text_key(t)) not in known}
    known = known.new_child(_embed(list(missing.items()), embedder, progress))
    made: dict[str, Shard] = {}
    for doc, parsed, texts in new:
        keys = np.array([text_key(t) for t in texts], dtype=np.int64)
        vectors = np.stack([known[k] for k in keys.tolist()]).astype(np.float32) if texts else np.zeros((0, 0), np.float32)
        shard = Shard(doc.doc_id, parsed.chunks, parsed.tasks, parsed.legal_refs,
                      TermCounts.of([tokens(t) for t in texts]), vectors, keys)
        cache.put(doc, shard)
        made[doc.doc_id] = shard
    if len(memo) > MEMO_VECTORS:  # forget earlier batches (after the lookups above, which read through it)
        memo.clear()
    for shard in made.values():
        memo.update(zip(shard.keys.tolist(), shard.vectors, strict=True))
    for doc, item in queue:
        yield made[doc.doc_id] if isinstance(item, Parsed) else item


def _embed(items: list[tuple[int, str]], embedder: Embedder, progress: Progress | None) -> dict[int, np.ndarray]:
    """Vectors of the texts, by key. By length, so a batch pads its texts to similar lengths (half the embedding
    time on the seed corpus)."""
    out: dict[int, np.ndarray] = {}
    if not items:
        return out
    _all_cores_for_torch()
    items = sorted(items, key=lambda kv: len(kv[1]))
    size = 16
    for i in range(0, len(items), size):
        part = items[i : i + size]
        vectors = embedder.embed_passages([t for _, t in part], batch_size=size)
        out.update(zip((k for k, _ in part), np.asarray(vectors, dtype=np.float32), strict=True))
        if progress:
            progress("embed", min(i + size, len(items)), len(items))
    return out


def _all_cores_for_torch() -> None:
    """Batch embedding wants every core (faiss's single-thread OpenMP setting otherwise applies to torch too)."""
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        pass
