"""The Gradio UI (Vietnamese, kiosk- and phone-friendly), mounted at ``/ui`` of the FastAPI app.

Handlers call the plain library function ``Assistant.ask`` (sync, run by Gradio in a worker thread). Every piece of
per-visitor state (conversation id, last activity) lives in ``gr.State``, so sessions never share anything.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import FileResponse, JSONResponse  # noqa: E402

from ..errors import BadQuestion  # noqa: E402
from .feedback import LIMITS, FeedbackStore  # noqa: E402
from .ui_duties import build_duties_tab  # noqa: E402
from .ui_render import (  # noqa: E402
    CSS,
    EMPTY_SOURCES,
    JS,
    TASK_HEADERS,
    chat_text,
    docs_html,
    error_html,
    sources_html,
    task_rows,
    tasks_html,
)

if TYPE_CHECKING:
    from .. import Assistant

log = logging.getLogger(__name__)

UI_PATH = "/ui"
TITLE = "Trợ lý tra cứu kế hoạch cải cách hành chính"
CITIZEN_EXAMPLES = [
    "Ai chủ trì số hóa hồ sơ?",
    "ai chu tri so hoa ho so",
    "Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu?",
    "Ai ký kế hoạch của phường Nghĩa Lộ?",
]
OFFICIAL_EXAMPLES = [
    "Trung tâm Phục vụ hành chính công phải làm những việc gì?",
    "Phòng Văn hóa – Xã hội phối hợp bao nhiêu nhiệm vụ?",
    "Việc nào phải xong trong Quý III/2025?",
]
PENDING = "Đang tìm trong tài liệu…"
FAILED = "Xin lỗi, hệ thống đang gặp sự cố nên chưa trả lời được. Vui lòng thử lại sau ít phút."
THANKS = "Cảm ơn bạn đã góp ý!"
NO_ANSWER = "Chưa có câu trả lời nào để góp ý."
ALREADY_SENT = "Bạn đã góp ý cho câu trả lời này."
PICK_RATING = "Hãy bấm «Hữu ích» hoặc «Chưa đúng»: góp ý sẽ được gửi kèm đánh giá."
NOT_SAVED = "Chưa lưu được góp ý, vui lòng thử lại sau."
CONCURRENCY = 8
ALL_DOCS = ""
FAVICON = Path(gr.__file__).parent / "templates" / "frontend" / "favicon.png"

# Gradio's bundled SemiBold (600) fonts lack Vietnamese letters: load only 400 and 700 so 600 maps to the full 700.
THEME = gr.themes.Default(
    primary_hue="blue",
    neutral_hue="slate",
    text_size=gr.themes.Size(xxs="13px", xs="14px", sm="16px", md="18px", lg="20px", xl="26px", xxl="32px"),
    spacing_size="md",
    radius_size="md",
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "DejaVu Sans", "Noto Sans", "Arial",
          "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "DejaVu Sans Mono", "monospace"],
).set(block_title_text_size="*text_md", block_title_text_weight="700", block_label_text_size="*text_md",
      block_label_text_weight="700", block_title_text_color="*neutral_800", block_label_text_color="*neutral_800")


def _answer(assistant: Assistant, question: str, conversation_id: str) -> tuple[str, str, dict[str, Any] | None]:
    """(chat text, sources HTML, feedback record) for one question; never raises. The record (what a rating
    stores) is None when there is no answer to rate (empty question, failure)."""
    try:
        ans = assistant.ask(question, conversation_id=conversation_id)
    except BadQuestion as err:  # shown in the chat only: the sources panel goes back to its hint
        return f"⚠ {chat_text(str(err))}", EMPTY_SOURCES, None
    except Exception:  # a visitor never sees a traceback; the operator finds it in the log
        log.exception("ui: ask failed")
        return FAILED, error_html(FAILED), None
    text = chat_text(ans.answer)
    if ans.abstained:
        text = "**Không tìm thấy trong tài liệu.** " + text
    record = {"question": question, "answer": ans.answer, "conversation_id": conversation_id, "sent": False,
              "citations": [dataclasses.asdict(c) for c in ans.citations[:LIMITS["citations"]]]}
    return text, sources_html(ans, assistant.index.docs, CITIZEN_EXAMPLES), record


def _ask(assistant: Assistant, question: str, conversation_id: str) -> tuple[str, str]:
    """(chat text, sources HTML) for one question; never raises."""
    return _answer(assistant, question, conversation_id)[:2]


def _clip(text: str | None, limit: int) -> str:
    """Text a browser sent, safe for the store: valid UTF-8, no NUL, within the store's limit."""
    text = (text or "").encode("utf-8", "ignore").decode("utf-8").replace("\x00", "").strip()
    return text[:limit]


def submit_feedback(store: FeedbackStore | Any, record: dict[str, Any] | None, rating: int,
                    comment: str | None = "") -> tuple[str, bool]:
    """Store one rating of the answer in ``record``; (message for the visitor, stored?). No IP address is kept."""
    if not record:
        return NO_ANSWER, False
    if record.get("sent"):
        return ALREADY_SENT, False
    if isinstance(rating, bool) or rating not in (1, -1):
        return PICK_RATING, False
    try:
        (store() if callable(store) else store).add(
            _clip(record["question"], LIMITS["question"]), _clip(record["answer"], LIMITS["answer"]), rating,
            citations=record.get("citations", [])[:LIMITS["citations"]],
            comment=_clip(comment, LIMITS["comment"]),
            conversation_id=_clip(record.get("conversation_id"), LIMITS["conversation_id"]) or None)
    except Exception:
        log.exception("ui: feedback not stored")
        return NOT_SAVED, False
    return THANKS, True


class _LazyStore:
    """One FeedbackStore per app, opened (creating the file) on the first rating, not at start-up."""

    def __init__(self, path: Path) -> None:
        self.path, self._store, self._lock = path, None, threading.Lock()

    def __call__(self) -> FeedbackStore:
        with self._lock:
            if self._store is None:
                self._store = FeedbackStore(self.path)
            return self._store


def _home_line(assistant: Assistant) -> str:
    """The kiosk's ward (ASSISTANT_HOME_LOCALITY), named in the header: questions without a place go to it."""
    from ..answer.catalog import ward_name

    answerer = getattr(assistant, "answerer", None)  # a test double may have none
    home = [assistant.index.docs[d] for d in getattr(answerer, "home_docs", [])]
    return f" Câu hỏi không nêu địa phương được trả lời theo tài liệu của {html.escape(ward_name(home[0]))}." if home else ""


def build_ui(assistant: Assistant) -> gr.Blocks:
    """The Blocks app. Theme, css and js are given to ``mount_gradio_app`` (Blocks drops them when mounted)."""
    kiosk = bool(getattr(assistant.settings, "kiosk", False))
    idle = max(10, int(getattr(assistant.settings, "kiosk_idle_seconds", 120)))

    store = _LazyStore(assistant.settings.feedback_db)

    def panel(record: dict[str, Any] | None, status: str = "", clear: bool = True) -> tuple[Any, ...]:
        """The feedback panel: hidden without an answer, disabled once this answer is rated."""
        open_ = bool(record) and not record.get("sent")
        comment = gr.Textbox(value="", interactive=open_) if clear else gr.Textbox(interactive=open_)
        return (gr.Column(visible=bool(record)), gr.Button(interactive=open_), gr.Button(interactive=open_), comment,
                gr.Button(interactive=open_), status, record)

    def rate(rating: int, record: dict[str, Any] | None, comment: str) -> tuple[Any, ...]:
        message, stored = submit_feedback(store, record, rating, comment)
        if stored and record:
            record = {**record, "sent": True}
        return (*panel(record, message, clear=False)[1:], time.monotonic())

    def pending(question: str, history: list[dict[str, Any]] | None) -> tuple[Any, ...]:
        history = list(history or [])
        question = (question or "").strip()
        if question:
            history.append({"role": "user", "content": chat_text(question)})
        history.append({"role": "assistant", "content": PENDING})
        return history, "", question, time.monotonic(), *panel(None)

    def answer(question: str, history: list[dict[str, Any]] | None, conversation_id: str | None) -> tuple[Any, ...]:
        conversation_id = conversation_id or str(uuid.uuid4())
        text, sources, record = _answer(assistant, question, conversation_id)
        history = list(history or [])
        if history and history[-1].get("role") == "assistant":  # the "Đang tìm…" placeholder
            history.pop()
        history.append({"role": "assistant", "content": text})
        return history, sources, conversation_id, time.monotonic(), *panel(record)

    def reset() -> tuple[Any, ...]:
        return [], EMPTY_SOURCES, str(uuid.uuid4()), "", time.monotonic(), *panel(None)

    def on_tick(last: float | None, history: list[dict[str, Any]] | None, duty_agency: str | None) -> Any:
        if not (history or duty_agency) or (last and time.monotonic() - last < idle):
            return (gr.skip(),) * (len(reset_out) + 1 + len(duty_inputs))
        return (*reset(), gr.Tabs(selected="qa"), *duty_defaults)

    def filter_tasks(doc_id: str | None, agency: str, deadline: str) -> tuple[dict[str, Any], str, str, float]:
        """The task table (wide screens) and the same rows as cards (phones, see CSS) for the filters."""
        rows = task_rows(assistant.index.tasks, doc_id or None, agency or "", deadline or "")
        note = f"**{len(rows)}** nhiệm vụ phù hợp." if rows else "Không có nhiệm vụ nào khớp bộ lọc."
        table = {"data": rows or [[""] * len(TASK_HEADERS)], "headers": TASK_HEADERS}
        return table, tasks_html(rows), note, time.monotonic()

    docs = assistant.index.docs
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        conv = gr.State(None)  # per-session conversation id, created on the first question
        last_activity = gr.State(None)
        question_state = gr.State("")
        gr.HTML(f'<header class="app-head"><h1>{TITLE}</h1><p>Câu trả lời lấy từ các kế hoạch đã ban hành, '
                f"kèm đoạn trích nguyên văn để bạn kiểm tra.{_home_line(assistant)}</p></header>")
        with gr.Tabs(selected="qa", overflow_behavior="wrap") as tabs:
            with gr.Tab("Hỏi đáp", id="qa"), gr.Row(elem_id="qa-row", equal_height=False):
                with gr.Column(scale=3, min_width=300, elem_id="chat-col"):
                    chat = gr.Chatbot(
                        show_label=False, elem_id="chat", height=400, buttons=[], feedback_options=None,
                        placeholder="Hãy gõ câu hỏi bên dưới hoặc chạm vào một câu hỏi mẫu.",
                        layout="panel", autoscroll=False)  # JS in ui_render scrolls
                    with gr.Column(visible=False, elem_id="feedback") as fb_box:
                        with gr.Row(elem_id="fb-rate", equal_height=True):
                            gr.HTML('<span class="fb-q">Câu trả lời này có hữu ích không?</span>', elem_id="fb-q")
                            fb_up = gr.Button("Hữu ích", size="md", scale=0, min_width=130, elem_id="fb-up")
                            fb_down = gr.Button("Chưa đúng", size="md", scale=0, min_width=130, elem_id="fb-down")
                            fb_comment = gr.Textbox(
                                label="Góp ý thêm (không bắt buộc)", show_label=False, container=False, scale=5,
                                placeholder="Góp ý thêm (không bắt buộc)", max_lines=3, max_length=LIMITS["comment"],
                                min_width=180, elem_id="fb-comment")
                            fb_send = gr.Button("Gửi góp ý", size="md", scale=1, min_width=120, elem_id="fb-send")
                        fb_status = gr.Markdown("", elem_id="fb-status")
                    fb_state = gr.State(None)  # what a rating of the latest answer stores
                    with gr.Row(elem_id="ask-row", equal_height=True):
                        question = gr.Textbox(
                            label="Câu hỏi", show_label=False, placeholder="Nhập câu hỏi của bạn…", lines=1, max_lines=4,
                            scale=5, min_width=180, elem_id="question", container=False)
                        send = gr.Button("Gửi", variant="primary", scale=1, min_width=80, elem_id="send")
                    example_buttons = []
                    with gr.Column(elem_id="examples"):
                        for title, items in (("Người dân thường hỏi", CITIZEN_EXAMPLES),
                                             ("Dành cho cán bộ", OFFICIAL_EXAMPLES)):
                            gr.HTML(f'<h3 class="ex-title">{title}</h3>')
                            with gr.Row(elem_classes="ex-row"):
                                example_buttons += [gr.Button(q, size="md", scale=0, elem_classes="example")
                                                    for q in items]
                        new_chat = gr.Button("Bắt đầu cuộc hỏi mới", variant="secondary", size="md", scale=0,
                                             elem_id="new-chat")
                with gr.Column(scale=2, min_width=300, elem_id="src-col"):
                    sources = gr.HTML(EMPTY_SOURCES, elem_id="sources")
            with gr.Tab("Tài liệu", id="docs"):
                gr.HTML(docs_html(docs.values()), elem_id="doc-list")
                doc_pick = gr.Radio([("Tất cả tài liệu", ALL_DOCS)] + [(d.title, d.doc_id) for d in docs.values()],
                                    value=ALL_DOCS, label="Xem nhiệm vụ của tài liệu", elem_id="doc-pick")
                with gr.Row():
                    agency = gr.Textbox(label="Lọc theo cơ quan (chủ trì, phối hợp, theo dõi)", min_width=260,
                                        placeholder="ví dụ: van hoa xa hoi", elem_id="agency-filter")
                    deadline = gr.Textbox(label="Lọc theo thời hạn", placeholder="ví dụ: Quý III/2025",
                                          min_width=260, elem_id="deadline-filter")
                first, first_cards, first_note, _ = filter_tasks(ALL_DOCS, "", "")
                count = gr.Markdown(first_note, elem_id="task-count")
                table = gr.Dataframe(value=first["data"], headers=TASK_HEADERS, interactive=False, wrap=True,
                                     label="Bảng nhiệm vụ", show_label=False, max_height=640, buttons=[],
                                     elem_id="task-table",
                                     column_widths=["34%", "16%", "16%", "14%", "10%", "10%"])
                cards = gr.HTML(first_cards, elem_id="task-cards")
            duty_inputs, duty_defaults = zip(*build_duties_tab(assistant, last_activity), strict=True)
        timer = gr.Timer(value=min(15, idle), active=kiosk)

        fb_out = [fb_box, fb_up, fb_down, fb_comment, fb_send, fb_status, fb_state]
        ask_out = [chat, sources, conv, last_activity, *fb_out]
        for trigger, source in [(send.click, question), (question.submit, question)] + [
                (b.click, b) for b in example_buttons]:
            trigger(pending, [source, chat], [chat, question, question_state, last_activity, *fb_out], queue=False,
                    show_progress="hidden").then(answer, [question_state, chat, conv], ask_out,
                                                 show_progress="hidden")
        for trigger, rating in ((fb_up.click, 1), (fb_down.click, -1), (fb_send.click, 0), (fb_comment.submit, 0)):
            trigger(functools.partial(rate, rating), [fb_state, fb_comment], [*fb_out[1:], last_activity],
                    show_progress="hidden")
        reset_out = [chat, sources, conv, question, last_activity, *fb_out]
        new_chat.click(reset, None, reset_out, queue=False)
        timer.tick(on_tick, [last_activity, chat, duty_inputs[0]], [*reset_out, tabs, *duty_inputs],
                   queue=False, show_progress="hidden")
        for comp in (doc_pick, agency, deadline):
            comp.change(filter_tasks, [doc_pick, agency, deadline], [table, cards, count, last_activity], queue=False,
                        show_progress="hidden")
    blocks.queue(default_concurrency_limit=CONCURRENCY)
    return blocks


def _has_route(app: FastAPI, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in app.router.routes)


def _add_root_routes(app: FastAPI) -> None:
    """The page links /manifest.json and /favicon.ico at the root even when mounted under /ui."""
    if not _has_route(app, "/manifest.json"):
        @app.get("/manifest.json", include_in_schema=False)
        def manifest() -> JSONResponse:
            return JSONResponse({"name": TITLE, "short_name": "Trợ lý CCHC", "lang": "vi", "start_url": UI_PATH + "/",
                                 "display": "standalone", "background_color": "#ffffff", "theme_color": "#2563eb",
                                 "icons": [{"src": "/favicon.ico", "sizes": "any", "type": "image/png"}]})
    if not _has_route(app, "/favicon.ico"):
        @app.get("/favicon.ico", include_in_schema=False)
        def favicon() -> FileResponse:
            return FileResponse(FAVICON, media_type="image/png")


def mount_ui(app: FastAPI, assistant: Assistant) -> None:
    """Mount the UI at /ui (theme, css and js must be given here: Blocks drops its own when mounted)."""
    _add_root_routes(app)
    gr.mount_gradio_app(
        app, build_ui(assistant), path=UI_PATH, theme=THEME, css=CSS, js=JS, footer_links=[],
        run_history=False, ssr_mode=False, pwa=False, mcp_server=False,
        enable_monitoring=False, show_error=False)
