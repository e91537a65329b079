"""``POST /api/feedback``: a rating (+1/-1) of one answer, with an optional comment. Stored without IPs."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from ..settings import Settings
from .feedback import LIMITS, FeedbackStore


class FeedbackRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=LIMITS["question"])
    answer: str = Field(..., max_length=LIMITS["answer"])
    citations: list[dict[str, Any] | str] = Field(default_factory=list, max_length=LIMITS["citations"])
    rating: int = Field(..., strict=True, description="1 (hữu ích) hoặc -1 (chưa tốt)")
    comment: str = Field("", max_length=LIMITS["comment"])
    conversation_id: str | None = Field(None, max_length=LIMITS["conversation_id"])

    @field_validator("rating")
    @classmethod
    def _rating(cls, v: int) -> int:
        if v not in (1, -1):
            raise ValueError("rating must be 1 or -1")
        return v

    @field_validator("question", "answer", "comment", "conversation_id")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("text contains invalid unicode (lone surrogates)") from exc
            if "\x00" in v:
                raise ValueError("text contains binary data")
        return v


def feedback_router(settings: Settings) -> APIRouter:
    """The store opens (and creates ``settings.feedback_db``) on the first feedback, not at startup."""
    router = APIRouter(tags=["feedback"])
    lock = threading.Lock()
    holder: list[FeedbackStore] = []

    def store() -> FeedbackStore:
        with lock:
            if not holder:
                holder.append(FeedbackStore(settings.feedback_db))
            return holder[0]

    router.store = store  # type: ignore[attr-defined]

    @router.post("/api/feedback", status_code=201, max_body_size=64 * 1024)
    def feedback(body: FeedbackRequest) -> JSONResponse:
        fid = store().add(body.question, body.answer, body.rating, citations=body.citations,
                          comment=body.comment, conversation_id=body.conversation_id)
        return JSONResponse(status_code=201, content={"id": fid, "message": "Cảm ơn bạn đã góp ý!"})

    return router
