"""Load the corpus folder: text files + ``manifest.toml``, validated before anything is built."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from .errors import CorpusError
from .models import Document

MANIFEST = "manifest.toml"
REQUIRED = ("doc_id", "title", "issuer", "locality", "period", "kind", "file", "sha256")
KINDS = ("plan", "legal", "procedure")


def read_manifest(corpus_dir: Path) -> list[dict]:
    path = corpus_dir / MANIFEST
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found. Create it with one [[documents]] entry per text file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc}).") from exc
    entries = data.get("documents")
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path}: no [[documents]] entries.")
    return entries


def _check_entry(entry: dict, n: int, manifest: Path) -> None:
    missing = [k for k in REQUIRED if not str(entry.get(k, "")).strip()]
    if missing:
        raise CorpusError(f"{manifest}: entry {n} lacks {', '.join(missing)}.")
    if entry["kind"] not in KINDS:
        raise CorpusError(f"{manifest}: entry {entry['doc_id']}: kind must be one of {KINDS}, not {entry['kind']!r}.")


def load_document(corpus_dir: Path, entry: dict) -> Document:
    path = corpus_dir / entry["file"]
    if not path.is_file():
        raise CorpusError(f"{path}: listed in the manifest as {entry['doc_id']!r} but the file is missing.")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"].lower():
        raise CorpusError(
            f"{path}: sha256 is {digest}, the manifest says {entry['sha256']}. "
            "If the file was replaced on purpose, update its sha256 in manifest.toml."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte {exc.start}). Convert it to UTF-8.") from exc
    if not text.strip():
        raise CorpusError(f"{path}: the file is empty.")
    year_from = int(entry.get("year_from") or str(entry["period"])[:4])
    return Document(
        doc_id=entry["doc_id"],
        title=entry["title"],
        issuer=entry["issuer"],
        locality=entry["locality"],
        province=entry.get("province", ""),
        period=str(entry["period"]),
        year_from=year_from,
        year_to=int(entry.get("year_to") or year_from),
        kind=entry["kind"],
        file=entry["file"],
        sha256=digest,
        text=text,
    )


def load_corpus(corpus_dir: Path) -> list[Document]:
    """All documents of the manifest, or a CorpusError naming the first bad file. Never a partial list."""
    entries = read_manifest(corpus_dir)
    manifest = corpus_dir / MANIFEST
    seen: set[str] = set()
    docs = []
    for n, entry in enumerate(entries, 1):
        _check_entry(entry, n, manifest)
        if entry["doc_id"] in seen:
            raise CorpusError(f"{manifest}: doc_id {entry['doc_id']!r} appears twice.")
        seen.add(entry["doc_id"])
        docs.append(load_document(corpus_dir, entry))
    return docs


def corpus_hash(docs: list[Document]) -> str:
    """One hash over every document's id and content: changes when any document changes."""
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.doc_id):
        h.update(f"{d.doc_id}\x1f{d.sha256}\x1f{d.title}\n".encode())
    return h.hexdigest()
