"""Admin endpoints (only mounted when ``settings.admin_token`` is set): upload a document, rebuild the index.

``Authorization: Bearer <token>``: missing → 401, wrong → 403 (constant-time comparison).
A rebuild runs in a background thread, one at a time (409 while one runs); the old index keeps serving
until the new one is loaded, and stays if the build fails (the job's status carries the error).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ..admin import MAX_DOCUMENT_BYTES, MAX_UPLOAD_BODY, DocumentRejected, add_document, reindex

if TYPE_CHECKING:
    from .. import Assistant

log = logging.getLogger("assistant.admin")
KEEP_JOBS = 20


@dataclass
class Job:
    id: str
    status: str  # running | done | failed
    message: str
    started_at: str
    finished_at: str | None = None


class ReindexJobs:
    """Runs ``reindex`` in a daemon thread; at most one at a time; remembers the last ``KEEP_JOBS`` jobs."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._running: str | None = None

    def start(self) -> Job | None:
        """The new job, or None if one is already running."""
        with self._lock:
            if self._running:
                return None
            job = Job(uuid.uuid4().hex[:12], "running", "Đang xây dựng lại chỉ mục…", _now())
            self._jobs[job.id] = job
            self._running = job.id
            for old in list(self._jobs)[:-KEEP_JOBS]:
                del self._jobs[old]
        threading.Thread(target=self._run, args=(job,), name=f"reindex-{job.id}", daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            build = reindex(self.assistant)
            meta = self.assistant.index.meta
            status = "done"
            message = (f"Đã xây dựng và nạp chỉ mục mới ({meta['counts']['documents']} tài liệu, "
                       f"{meta['counts']['units']} đoạn) trong {time.perf_counter() - started:.1f} s: {build.name}")
        except Exception as exc:  # the old index keeps serving; the operator reads why here
            log.exception("reindex job %s failed", job.id)
            status, message = "failed", f"Xây dựng chỉ mục thất bại, chỉ mục cũ vẫn được dùng: {exc}"
        with self._lock:
            job.status, job.message, job.finished_at = status, message, _now()
            self._running = None

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float = 120.0) -> Job | None:
        """Block until the job ends (tests, CLI); returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.status != "running":
                return job
            time.sleep(0.05)
        return self.get(job_id)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def admin_router(assistant: Assistant) -> APIRouter:
    token = assistant.settings.admin_token.encode("utf-8")
    jobs = ReindexJobs(assistant)

    def authorized(authorization: str | None = Header(None)) -> None:
        if not authorization:
            raise HTTPException(401, "Cần xác thực: gửi header Authorization: Bearer <token>.",
                                headers={"WWW-Authenticate": "Bearer"})
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), token):
            raise HTTPException(403, "Token quản trị không đúng.")

    router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(authorized)],
                       max_body_size=MAX_UPLOAD_BODY)
    router.jobs = jobs  # type: ignore[attr-defined]  # reachable for tests and operators

    @router.post("/documents", status_code=201)
    async def upload(request: Request) -> JSONResponse:
        """multipart/form-data: ``file`` (.txt UTF-8, .docx, .pdf; ≤ 5 MB) + doc_id, title, issuer, locality,
        period, kind (plan|legal|procedure), province (optional). The token is checked before the body is read."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPException(415, "Gửi multipart/form-data gồm tệp (file) và các trường doc_id, title, "
                                     "issuer, locality, period, kind.")
        async with request.form(max_files=1, max_fields=20, max_part_size=4096) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "Thiếu tệp (trường file).")
            data = await upload.read(MAX_DOCUMENT_BYTES + 1)
            meta = {k: v for k, v in form.items() if isinstance(v, str)}
            filename = upload.filename or ""
        try:
            entry = await run_in_threadpool(add_document, assistant.settings, data, meta, filename)
        except DocumentRejected as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        log.info("document added doc_id=%s file=%s", entry["doc_id"], entry["file"])
        return JSONResponse(status_code=201, content={
            "document": entry, "message": "Đã thêm tài liệu. Gọi POST /api/admin/reindex để đưa vào chỉ mục."})

    @router.post("/reindex", status_code=202)
    def start_reindex() -> JSONResponse:
        job = jobs.start()
        if job is None:
            raise HTTPException(409, "Đang có một lần xây dựng chỉ mục chạy. Hãy đợi nó kết thúc.")
        return JSONResponse(status_code=202, content=asdict(job),
                            headers={"Location": f"/api/admin/reindex/{job.id}"})

    @router.get("/reindex/{job_id}")
    def reindex_status(job_id: str) -> dict[str, Any]:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"Không có tác vụ «{job_id[:40]}».")
        return asdict(job)

    return router
