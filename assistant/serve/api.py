"""The HTTP API (FastAPI app factory). A thin layer: it validates input and formats the library's results.

Contract (stable): GET /api/health · POST /api/ask {"question"} · POST /api/search {"question", "top_k"}.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AssistantError, BadQuestion
from ..text.normalize import collapse_ws

if TYPE_CHECKING:
    from .. import Assistant

log = logging.getLogger("assistant.api")
MAX_BODY = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class AskRequest(BaseModel):
    question: str = Field(..., description="Câu hỏi tiếng Việt (có hoặc không dấu)")
    conversation_id: str | None = Field(None, max_length=100)

    @field_validator("question")
    @classmethod
    def _printable(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("question contains binary data")
        return _no_surrogates(v)


def _no_surrogates(v: str) -> str:
    if not v.isascii() and any("\ud800" <= ch <= "\udfff" for ch in v):
        raise ValueError("question contains invalid unicode (lone surrogates)")
    return v


class SearchRequest(BaseModel):
    question: str
    top_k: int = Field(10, ge=1, le=100)
    mode: str = Field("hybrid", pattern="^(hybrid|lexical|bm25|dense|reranked)$")
    doc_id: str | None = None

    @field_validator("question")
    @classmethod
    def _valid(cls, v: str) -> str:
        return _no_surrogates(v)


def _error(status: int, message: str, request_id: str | None = None, headers: dict | None = None) -> JSONResponse:
    response = JSONResponse(status_code=status, content={"error": message, "detail": message, "request_id": request_id},
                            headers=headers)
    if request_id:
        response.headers["x-request-id"] = request_id
    return response


def create_app(assistant: Assistant, with_ui: bool = True) -> FastAPI:
    from ..admin import MAX_UPLOAD_BODY
    from .duties import router as duties_router
    from .limits import RateLimitMiddleware

    app = FastAPI(title="Trợ lý hỏi đáp kế hoạch CCHC", version="0.1.0",
                  description="Vietnamese Q&A over government plans with verbatim citations.")
    app.state.assistant = assistant
    # added before ``guard`` so that it runs inside it: a 429 gets a request id and a log line
    app.add_middleware(RateLimitMiddleware, per_minute=assistant.settings.rate_limit_per_minute)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        rid = request.headers.get("x-request-id", "")
        rid = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex[:12]
        request.state.request_id = rid
        length = request.headers.get("content-length")
        limit = MAX_UPLOAD_BODY if request.url.path.startswith("/api/admin/") else MAX_BODY
        if length and length.isdigit() and int(length) > limit:
            return _error(413, f"Yêu cầu quá lớn (tối đa {limit // 1024} KB).", rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # never a stack trace to the client
            log.exception("request_id=%s path=%s failed", rid, request.url.path)
            return _error(500, "Lỗi máy chủ. Vui lòng thử lại sau.", rid)
        response.headers["x-request-id"] = rid
        log.info("request_id=%s method=%s path=%s status=%s ms=%.1f", rid, request.method, request.url.path,
                 response.status_code, (time.perf_counter() - started) * 1000)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}"
                             for e in exc.errors())
        return _error(422, f"Yêu cầu không hợp lệ — {problems}. Gửi JSON dạng {{\"question\": \"...\"}}.",
                      getattr(request.state, "request_id", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = "Yêu cầu quá lớn." if exc.detail == "Content Too Large" else str(exc.detail)
        return _error(exc.status_code, detail, getattr(request.state, "request_id", None), exc.headers)

    @app.exception_handler(BadQuestion)
    async def bad_question(request: Request, exc: BadQuestion) -> JSONResponse:
        return _error(exc.status, str(exc), getattr(request.state, "request_id", None))

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return _error(400, str(exc), getattr(request.state, "request_id", None))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/" if with_ui else "/docs")

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        a = app.state.assistant
        meta = a.index.meta
        return {"status": "ok", "documents": len(a.index.docs), "chunks": len(a.index.units),
                "tasks": len(a.index.tasks), "model": meta.get("model_id"), "built_at": meta.get("built_at")}

    @app.post("/api/ask", max_body_size=MAX_BODY)  # also counts bodies sent without content-length
    def ask(body: AskRequest) -> dict[str, Any]:
        answer = app.state.assistant.ask(body.question, conversation_id=body.conversation_id)
        out = asdict(answer)
        out.pop("debug", None)
        return out

    @app.post("/api/search", max_body_size=MAX_BODY)
    def search(body: SearchRequest) -> dict[str, Any]:
        text = collapse_ws(body.question)
        if not text:
            raise BadQuestion("Câu hỏi đang trống.", 422)
        if len(text) > app.state.assistant.settings.max_question_chars:
            raise BadQuestion("Câu hỏi quá dài.", 413)
        hits = app.state.assistant.search(text, top_k=body.top_k, mode=body.mode, doc_id=body.doc_id)
        return {"hits": [{"doc_id": h.doc_id, "locator": h.locator, "text": h.text, "score": h.score,
                          "kind": h.kind, "start": h.span[0], "end": h.span[1], "ranks": h.ranks} for h in hits]}

    @app.get("/api/documents")
    def documents() -> dict[str, Any]:
        return {"documents": [d.meta() for d in app.state.assistant.index.docs.values()]}

    @app.get("/api/documents/{doc_id}/text")
    def document_text(doc_id: str, start: int = Query(0, ge=0), end: int | None = Query(None, ge=0),
                      context: int = Query(0, ge=0, le=5000)) -> dict[str, Any]:
        doc = app.state.assistant.index.docs.get(doc_id)
        if doc is None:
            raise StarletteHTTPException(404, f"Không có tài liệu «{doc_id}».")
        end = len(doc.text) if end is None else min(end, len(doc.text))
        if start > end:
            raise StarletteHTTPException(400, "start phải nhỏ hơn hoặc bằng end.")
        lo, hi = max(0, start - context), min(len(doc.text), end + context)
        return {"doc_id": doc_id, "start": start, "end": end, "text": doc.text[start:end],
                "before": doc.text[lo:start], "after": doc.text[end:hi]}

    app.include_router(duties_router)
    from .feedback_api import feedback_router

    app.include_router(feedback_router(assistant.settings))
    if assistant.settings.admin_token:
        from .admin import admin_router

        app.include_router(admin_router(assistant))
    if with_ui:
        try:
            from .ui import mount_ui
        except ImportError:  # UI module not available: the API still serves
            log.warning("UI not mounted (assistant.serve.ui missing)")
        else:
            mount_ui(app, assistant)
    return app
