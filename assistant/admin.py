"""Corpus administration shared by the CLI and the admin API: add a document, rebuild the index safely.

``add_document`` validates an uploaded .txt/.docx/.pdf (extension, magic bytes, size, non-empty text, unique
slug), stores its UTF-8 text as ``corpus/<doc_id>.txt`` and appends a manifest entry; the manifest is
rewritten atomically (temp file + ``os.replace``). ``rebuild`` builds the index under a cross-process lock
and clears what killed builds left behind; ``reindex`` then switches a running ``Assistant`` to it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .corpus import KINDS, MANIFEST, load_corpus, read_manifest
from .errors import AssistantError, IndexStateError

if TYPE_CHECKING:
    from . import Assistant
    from .search.embedder import Embedder
    from .search.index import Progress
    from .settings import Settings

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_BODY = MAX_DOCUMENT_BYTES + 64 * 1024  # the multipart envelope around the file and the form fields
EXTENSIONS = (".txt", ".docx", ".pdf")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PERIOD = re.compile(r"^(\d{4})(?:\s*-\s*(\d{4}))?$")
FIELDS = ("doc_id", "title", "issuer", "locality", "period", "kind")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_corpus_lock = threading.Lock()


class DocumentRejected(AssistantError):
    """An uploaded document that cannot be added; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- documents

def extract_text(data: bytes, filename: str) -> str:
    """UTF-8 text of a .txt/.docx/.pdf, checked against the extension by its magic bytes."""
    ext = Path(filename).suffix.lower()
    if ext not in EXTENSIONS:
        raise DocumentRejected(f"Định dạng «{ext or filename}» không được hỗ trợ: chỉ nhận {', '.join(EXTENSIONS)}.", 415)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(f"Tệp quá lớn ({len(data)} byte, tối đa {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB).", 413)
    is_zip, is_pdf = data.startswith(b"PK\x03\x04"), data.startswith(b"%PDF-")
    try:
        if ext == ".pdf":
            if not is_pdf:
                raise DocumentRejected("Tệp .pdf không phải PDF (thiếu chữ ký %PDF-).", 415)
            text = _pdf_text(data)
        elif ext == ".docx":
            if not is_zip:
                raise DocumentRejected("Tệp .docx không phải tài liệu Word (không phải tệp ZIP).", 415)
            text = _docx_text(data)
        else:
            if is_zip or is_pdf or b"\x00" in data:
                raise DocumentRejected("Tệp .txt chứa dữ liệu nhị phân (PDF/ZIP/NUL), không phải văn bản.", 415)
            text = data.decode("utf-8-sig")
    except DocumentRejected:
        raise
    except UnicodeDecodeError as exc:
        raise DocumentRejected(f"Tệp .txt không phải UTF-8 (byte {exc.start}). Hãy lưu lại dưới dạng UTF-8.", 422) from exc
    except Exception as exc:  # a malformed PDF/DOCX: the parser's own error, in one line
        raise DocumentRejected(f"Không đọc được tệp {ext}: {type(exc).__name__}: {str(exc)[:200]}", 422) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise DocumentRejected("Không trích xuất được văn bản nào từ tệp (tệp rỗng hoặc PDF dạng ảnh quét).", 422)
    return text if text.endswith("\n") else text + "\n"


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise DocumentRejected("Tệp PDF được mã hoá: hãy gỡ mật khẩu trước khi tải lên.", 422)
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def check_meta(meta: dict) -> dict:
    """The manifest entry fields, validated and normalised (raises DocumentRejected)."""
    out = {k: str(meta.get(k) or "").strip() for k in (*FIELDS, "province")}
    missing = [k for k in FIELDS if not out[k]]
    if missing:
        raise DocumentRejected(f"Thiếu trường: {', '.join(missing)}.")
    for key, value in out.items():
        if len(value) > 300 or _CONTROL.search(value):
            raise DocumentRejected(f"Trường {key} quá dài (tối đa 300 ký tự) hoặc chứa ký tự điều khiển.")
    if not SLUG.match(out["doc_id"]) or len(out["doc_id"]) > 80:
        raise DocumentRejected("doc_id phải là slug: chữ thường không dấu, số và dấu gạch ngang (vd. ha-noi-cchc-2025).")
    if out["kind"] not in KINDS:
        raise DocumentRejected(f"kind phải là một trong {', '.join(KINDS)}.")
    period = PERIOD.match(out["period"])
    if not period:
        raise DocumentRejected("period phải có dạng 2025 hoặc 2026-2030.")
    out["period"] = period.group(1) + (f"-{period.group(2)}" if period.group(2) else "")
    out["year_from"] = int(period.group(1))
    out["year_to"] = int(period.group(2) or period.group(1))
    if out["year_to"] < out["year_from"]:
        raise DocumentRejected("period: năm kết thúc trước năm bắt đầu.")
    return out


def add_document(settings: Settings, source: Path | bytes, meta: dict, filename: str | None = None) -> dict:
    """Store ``source`` (a path, or bytes with ``filename`` for its extension) in the corpus; return the entry.

    The index is not rebuilt: call ``rebuild``/``reindex`` (or ``python -m assistant index``) afterwards.
    """
    if isinstance(source, Path | str):
        path = Path(source)
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise DocumentRejected(f"Tệp quá lớn (tối đa {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB).", 413)
        data, filename = path.read_bytes(), filename or path.name
    else:
        data = bytes(source)
    entry = check_meta(meta)
    raw = extract_text(data, filename or "").encode("utf-8")
    corpus = settings.corpus_dir
    with _corpus_lock, _file_lock(settings.index_dir / ".corpus.lock"):  # not in corpus/: it is committed
        entries = read_manifest(corpus)
        target = corpus / f"{entry['doc_id']}.txt"
        if any(e.get("doc_id") == entry["doc_id"] for e in entries) or target.exists():
            raise DocumentRejected(f"doc_id «{entry['doc_id']}» đã có trong kho tài liệu.", 409)
        entry["file"] = target.name
        entry["sha256"] = hashlib.sha256(raw).hexdigest()
        if not entry["province"]:
            del entry["province"]
        manifest = corpus / MANIFEST
        old = manifest.read_text(encoding="utf-8")
        new = old.rstrip("\n") + "\n\n" + _toml_entry(entry)
        if tomllib.loads(new)["documents"][-1] != entry:
            raise DocumentRejected("Không ghi được mục manifest (dữ liệu không khớp sau khi mã hoá TOML).", 500)
        _atomic_write(target, raw, mode=0o444)
        try:
            _atomic_write(manifest, new.encode("utf-8"), mode=manifest.stat().st_mode & 0o777)
            load_corpus(corpus)  # the whole corpus must still validate, or nothing changes
        except BaseException:
            _atomic_write(manifest, old.encode("utf-8"), mode=manifest.stat().st_mode & 0o777)
            target.unlink(missing_ok=True)
            raise
    return entry


def _toml_entry(entry: dict) -> str:
    order = ("doc_id", "title", "issuer", "locality", "province", "period", "year_from", "year_to", "kind",
             "file", "sha256")
    lines = ["[[documents]]"]
    for key in order:
        if key in entry:
            value = entry[key]
            lines.append(f"{key} = {value}" if isinstance(value, int) else f"{key} = {_toml_str(value)}")
    return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- index

@contextmanager
def _file_lock(path: Path, wait: bool = True) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise IndexStateError(f"Another index build is running (lock {path}). Wait for it to finish.") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(index_dir: Path, max_age: float = 3600.0) -> list[Path]:
    """Remove what killed builds left: ``builds/.<id>.partial`` dirs and ``.current-<pid>`` links whose
    process is gone (or that are older than ``max_age`` seconds). Returns what was removed."""
    removed: list[Path] = []
    candidates = [(p, p.name[1:].split("-")[1:2]) for p in (index_dir / "builds").glob(".*.partial")]
    candidates += [(p, p.name.split("-")[1:2]) for p in index_dir.glob(".current-*")]
    now = time.time()
    for path, pid in candidates:
        try:
            own = bool(pid) and pid[0].isdigit() and int(pid[0]) == os.getpid()
            alive = own or (bool(pid) and pid[0].isdigit() and _pid_alive(int(pid[0])))
            if alive and now - path.lstat().st_mtime < max_age:
                continue
            if path.is_symlink() or path.is_file():
                path.unlink()
            else:
                shutil.rmtree(path)
            removed.append(path)
        except OSError:
            continue
    return removed


def rebuild(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None,
            wait: bool = True) -> Path:
    """Build the index (one build at a time across processes) after clearing leftovers of killed builds."""
    from .search.index import build_index

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(settings.index_dir / ".build.lock", wait=wait):
        clean_leftovers(settings.index_dir)
        return build_index(settings, embedder=embedder, progress=progress)


def reindex(assistant: Assistant, progress: Progress | None = None) -> Path:
    """Rebuild, then switch ``assistant`` to the new index. On any failure the old index keeps serving.

    With the packaged encoder (and ``settings.reindex_in_child``, the default) the build runs in a child process
    (``python -m assistant index``): a server under load keeps answering at full speed (a build in one of its
    threads would share its interpreter lock), and the torch passage encoder (~0.7 GB) loads in the child and
    leaves with it instead of staying in the server."""
    from . import _threads
    from .search.lazy import LazyEmbedder

    if assistant.settings.reindex_in_child and isinstance(assistant.embedder, LazyEmbedder):
        build = rebuild_in_child(assistant.settings, progress)
    else:
        try:
            build = rebuild(assistant.settings, embedder=assistant.embedder, progress=progress, wait=False)
        finally:
            if "torch" in sys.modules:  # a build sets torch to every core; serving uses torch_threads
                _threads(assistant.settings)
    assistant.reload()
    return build


_PROGRESS = re.compile(r"^\s*(\w+) \[[#.]*\] (\d+)/(\d+)$")


def rebuild_in_child(settings: Settings, progress: Progress | None = None) -> Path:
    """``rebuild`` in a child process with the same settings; its error message is raised here."""
    from .search.index import current_build

    env = {**os.environ, **settings_env(settings), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "assistant", "index", "--no-wait"], env=env, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    said: list[str] = []
    for line in child.stderr:  # "\r"-separated progress lines read as lines too (universal newlines)
        m = _PROGRESS.match(line.rstrip("\n"))
        if m and progress:
            progress(m.group(1), int(m.group(2)), int(m.group(3)))
        elif not m and line.strip():
            said = (said + [line.strip()])[-20:]
    if child.wait() != 0:
        errors = [x.removeprefix("error: ") for x in said if x.startswith("error: ")]
        raise IndexStateError(errors[-1] if errors else f"the index build failed: {' | '.join(said[-3:])}")
    build = current_build(settings.index_dir)
    if build is None:
        raise IndexStateError(f"the index build ended without an index in {settings.index_dir}")
    return build


def settings_env(settings: Settings) -> dict[str, str]:
    """``ASSISTANT_*`` variables that recreate ``settings`` in another process."""
    out = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        out[f"ASSISTANT_{name.upper()}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out
