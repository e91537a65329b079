"""The Gradio UI (Vietnamese, kiosk- and phone-friendly), mounted at ``/ui`` of the FastAPI app.

Handlers call the plain library function ``Assistant.ask`` (sync, run by Gradio in a worker thread). Every piece of
per-visitor state (conversation id, last activity) lives in ``gr.State``, so sessions never share anything.
"""

from __future__ import annotations

import logging
import os
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
from .ui_render import (  # noqa: E402
    CSS,
    EMPTY_SOURCES,
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
# Pin the light theme (the page otherwise follows the device's dark mode), declare the page Vietnamese and
# translate the chat's built-in English screen-reader labels.
JS = """() => {
  document.documentElement.lang = 'vi';
  const labels = [[/^chatbot conversation$/, 'Cuộc trò chuyện'], [/^user's message: /, 'Câu hỏi: '],
                  [/^bot's message: /, 'Trả lời: ']];
  const fix = () => {
    if (document.body.classList.contains('dark')) document.body.classList.remove('dark');
    document.querySelectorAll('#chat [aria-label]').forEach(e => {
      const v = e.getAttribute('aria-label');
      for (const [re, vi] of labels) if (re.test(v)) e.setAttribute('aria-label', v.replace(re, vi));
    });
  };
  fix();
  new MutationObserver(fix).observe(document.body, {attributes: true, attributeFilter: ['class', 'aria-label'],
                                                    childList: true, subtree: true});
}"""


def _ask(assistant: Assistant, question: str, conversation_id: str) -> tuple[str, str]:
    """(chat text, sources HTML) for one question; never raises."""
    try:
        ans = assistant.ask(question, conversation_id=conversation_id)
    except BadQuestion as err:  # shown in the chat only: the sources panel goes back to its hint
        return f"⚠ {chat_text(str(err))}", EMPTY_SOURCES
    except Exception:  # a visitor never sees a traceback; the operator finds it in the log
        log.exception("ui: ask failed")
        return FAILED, error_html(FAILED)
    text = chat_text(ans.answer)
    if ans.abstained:
        text = "**Không tìm thấy trong tài liệu.** " + text
    return text, sources_html(ans, assistant.index.docs, CITIZEN_EXAMPLES)


def build_ui(assistant: Assistant) -> gr.Blocks:
    """The Blocks app. Theme, css and js are given to ``mount_gradio_app`` (Blocks drops them when mounted)."""
    kiosk = bool(getattr(assistant.settings, "kiosk", False))
    idle = max(10, int(getattr(assistant.settings, "kiosk_idle_seconds", 120)))

    def pending(question: str, history: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], str, str, float]:
        history = list(history or [])
        question = (question or "").strip()
        if question:
            history.append({"role": "user", "content": chat_text(question)})
        history.append({"role": "assistant", "content": PENDING})
        return history, "", question, time.monotonic()

    def answer(question: str, history: list[dict[str, Any]] | None,
               conversation_id: str | None) -> tuple[list[dict[str, Any]], str, str, float]:
        conversation_id = conversation_id or str(uuid.uuid4())
        text, sources = _ask(assistant, question, conversation_id)
        history = list(history or [])
        if history and history[-1].get("role") == "assistant":  # the "Đang tìm…" placeholder
            history.pop()
        history.append({"role": "assistant", "content": text})
        return history, sources, conversation_id, time.monotonic()

    def reset() -> tuple[list[dict[str, Any]], str, str, str, float]:
        return [], EMPTY_SOURCES, str(uuid.uuid4()), "", time.monotonic()

    def on_tick(last: float | None, history: list[dict[str, Any]] | None) -> Any:
        if not history or (last and time.monotonic() - last < idle):
            return (gr.skip(),) * 6
        return (*reset(), gr.Tabs(selected="qa"))

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
                "kèm đoạn trích nguyên văn để bạn kiểm tra.</p></header>")
        with gr.Tabs(selected="qa") as tabs:
            with gr.Tab("Hỏi đáp", id="qa"), gr.Row(elem_id="qa-row", equal_height=False):
                with gr.Column(scale=3, min_width=300, elem_id="chat-col"):
                    chat = gr.Chatbot(
                        show_label=False, elem_id="chat", height=400, buttons=[], feedback_options=None,
                        placeholder="Hãy gõ câu hỏi bên dưới hoặc chạm vào một câu hỏi mẫu.",
                        layout="panel", autoscroll=True)
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
        timer = gr.Timer(value=min(15, idle), active=kiosk)

        ask_out = [chat, sources, conv, last_activity]
        for trigger, source in [(send.click, question), (question.submit, question)] + [
                (b.click, b) for b in example_buttons]:
            trigger(pending, [source, chat], [chat, question, question_state, last_activity], queue=False,
                    show_progress="hidden").then(answer, [question_state, chat, conv], ask_out,
                                                 show_progress="hidden")
        new_chat.click(reset, None, [chat, sources, conv, question, last_activity], queue=False)
        timer.tick(on_tick, [last_activity, chat], [chat, sources, conv, question, last_activity, tabs],
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
