"""The Gradio UI: fast checks (TestClient, handlers) and an end-to-end run in headless Chromium (Playwright).

The browser test drives the real app (``assistant.serve.api.create_app(load())``, feedback stored in a temporary
database) served by uvicorn on a free loopback port, asks a question without diacritics, checks the answer and the
highlighted quote, rates it, opens an agency's duty sheet, and saves screenshots at kiosk (1920×1080) and phone
(390×844) sizes to docs/screenshots/.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from assistant.errors import BadQuestion  # noqa: E402
from assistant.models import Answer, Citation, Document, FieldValue, TaskRecord  # noqa: E402
from assistant.serve import ui  # noqa: E402
from assistant.serve.duties import CSV_COLUMNS  # noqa: E402
from assistant.serve.feedback import FeedbackStore  # noqa: E402
from assistant.serve.ui import FAILED, _ask, mount_ui  # noqa: E402
from assistant.serve.ui_duties import PICK_HINT, agency_names, duty_view  # noqa: E402
from assistant.serve.ui_render import EMPTY_SOURCES, context_html, sources_html, task_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "ai chu tri so hoa ho so"
AGENCY = "Phòng Kinh tế, Hạ tầng và Đô thị"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

SOURCE = ("KẾ HOẠCH\n\nI. MỤC ĐÍCH\n- Nâng cao chất lượng phục vụ người dân. \n"
          "a) Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính\n"
          "- Cơ quan chủ trì thực hiện: Văn phòng HĐND và UBND phường\n"
          "- Cơ quan phối hợp: Phòng Văn hoá - Xã hội phường\n- Thời gian hoàn thành: Quý III năm 2025 <b>\n")


def _span(text: str, part: str) -> tuple[int, int]:
    start = SOURCE.index(part)
    return start, start + len(part)


@dataclass
class FakeAssistant:
    """Same attributes as assistant.Assistant, for tests that must not need the index."""

    settings: Any = field(default_factory=lambda: SimpleNamespace(
        kiosk=True, kiosk_idle_seconds=60,  # the store opens (creates the file) only on a rating
        feedback_db=Path(tempfile.gettempdir()) / "assistant-ui-test" / "feedback.sqlite3"))
    index: Any = None

    def __post_init__(self) -> None:
        doc = Document("d1", "Kế hoạch cải cách hành chính năm 2025", "UBND phường Nghĩa Lộ", "Nghĩa Lộ", "Quảng Ngãi",
                       "2025", 2025, 2025, "plan", "d1.txt", "0" * 64, SOURCE)
        fields = tuple(FieldValue(label, role, value, (_span(SOURCE, value),)) for label, role, value in [
            ("", "task", "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính"),
            ("Cơ quan chủ trì thực hiện", "lead", "Văn phòng HĐND và UBND phường"),
            ("Cơ quan phối hợp", "partners", "Phòng Văn hoá - Xã hội phường"),
            ("Thời gian hoàn thành", "deadline", "Quý III năm 2025")])
        task = TaskRecord("t1", "d1", "Mục I › a", ("I. MỤC ĐÍCH",), fields, (0, len(SOURCE)))
        self.index = SimpleNamespace(docs={"d1": doc}, tasks=[task])

    def ask(self, question: str, conversation_id: str | None = None) -> Answer:
        if not question.strip():
            raise BadQuestion("Câu hỏi đang trống. Hãy nhập câu hỏi.")
        if "so hoa" not in question and "số hóa" not in question.lower():
            return Answer("Xin lỗi, tài liệu hiện có không nêu thông tin này.", abstained=True)
        s, e = _span(SOURCE, "Văn phòng HĐND và UBND phường")
        cite = Citation("d1", self.index.docs["d1"].title, "Mục I › a", SOURCE[s:e], s, e)
        return Answer("Cơ quan chủ trì: Văn phòng HĐND và UBND phường.", abstained=False, citations=[cite],
                      conversation_id=conversation_id)


# ----------------------------------------------------------------------------- fast checks (no browser)
def test_mount_ui_serves_ui_manifest_and_favicon() -> None:
    app = FastAPI()
    mount_ui(app, FakeAssistant())
    with TestClient(app) as client:
        page = client.get("/ui")
        assert page.status_code == 200
        assert "Trợ lý tra cứu" in page.text
        assert client.get("/ui/").status_code == 200
        assert client.get("/manifest.json").json()["lang"] == "vi"
        assert client.get("/favicon.ico").status_code == 200


def test_mount_ui_keeps_existing_root_routes() -> None:
    app = FastAPI()

    @app.get("/favicon.ico")
    def own_icon() -> dict[str, str]:
        return {"icon": "own"}

    mount_ui(app, FakeAssistant())
    with TestClient(app) as client:
        assert client.get("/favicon.ico").json() == {"icon": "own"}


def test_context_highlights_the_span_escaped_and_cut_at_words() -> None:
    text = "chữ " * 100 + "Văn phòng <HĐND> & UBND" + " đuôi" * 100
    start = text.index("Văn")
    end = start + len("Văn phòng <HĐND> & UBND")
    out = context_html(text, start, end, radius=50)
    assert "<mark>Văn phòng &lt;HĐND&gt; &amp; UBND</mark>" in out
    assert out.startswith("… chữ") and out.endswith("đuôi …")
    assert "  " not in out


def test_sources_panel_states() -> None:
    fake = FakeAssistant()
    ok = fake.ask(QUESTION)
    html = sources_html(ok, fake.index.docs)
    assert "<mark>Văn phòng HĐND và UBND phường</mark>" in html and "Mục I › a" in html
    none = sources_html(Answer("x", abstained=True), fake.index.docs, ["Ai ký kế hoạch?"])
    assert "Không tìm thấy trong tài liệu" in none and "Ai ký kế hoạch?" in none
    conflict = Answer("x", abstained=False, conflicts=[{"metric": "ty le", "values": [
        {"value": "98%", "locator": "Mục II", "quote": "đạt 98%"}, {"value": "100%", "locator": "Mục III",
                                                                   "quote": "đạt 100%"}]}])
    assert "src-warn" in sources_html(conflict, fake.index.docs) and "100%" in sources_html(conflict, {})


def test_bad_question_and_failure_show_a_message_not_a_traceback() -> None:
    fake = FakeAssistant()
    text, panel = _ask(fake, "   ", "c1")
    assert text.startswith("⚠ Câu hỏi đang trống") and panel == EMPTY_SOURCES

    def broken(question: str, conversation_id: str | None = None) -> Answer:
        raise RuntimeError("index exploded")

    fake.ask = broken  # type: ignore[method-assign]
    text, panel = _ask(fake, "ai chu tri", "c1")
    assert text == FAILED and "exploded" not in panel


def test_task_filters_are_accent_insensitive() -> None:
    tasks = FakeAssistant().index.tasks
    assert len(task_rows(tasks, "d1", agency="phong van hoa xa hoi")) == 1
    assert len(task_rows(tasks, "d1", agency="Văn phòng HĐND")) == 1
    assert len(task_rows(tasks, None, deadline="quy iii/2025")) == 1
    assert task_rows(tasks, None, deadline="Quý II") == []
    assert task_rows(tasks, "other") == []


def test_feedback_is_stored_once_and_only_for_an_answer(tmp_path: Path) -> None:
    fake = FakeAssistant()
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    assert ui._answer(fake, "   ", "c1")[2] is None  # an empty question gives nothing to rate
    assert ui.submit_feedback(store, None, 1) == (ui.NO_ANSWER, False)
    _, _, record = ui._answer(fake, QUESTION, "c1")
    assert record is not None and record["sent"] is False
    for bad in (0, 2, True, -2):
        assert ui.submit_feedback(store, record, bad, "x") == (ui.PICK_RATING, False)
    assert store.count() == 0
    assert ui.submit_feedback(lambda: store, record, -1, "  Sai cơ quan\x00 chủ trì ") == (ui.THANKS, True)
    [row] = list(store.rows())
    assert (row["question"], row["rating"], row["comment"], row["conversation_id"]) == (
        QUESTION, -1, "Sai cơ quan chủ trì", "c1")
    assert row["answer"] == fake.ask(QUESTION).answer
    [cite] = json.loads(row["citations"])
    assert cite["quote"] == "Văn phòng HĐND và UBND phường" and cite["locator"] == "Mục I › a"
    assert "ip" not in {k.lower() for k in row}
    assert ui.submit_feedback(store, {**record, "sent": True}, 1) == (ui.ALREADY_SENT, False)
    assert store.count() == 1


def test_kiosk_idle_reset_clears_feedback_and_duties() -> None:
    import gradio as gr

    from assistant.serve.ui import build_ui

    blocks = build_ui(FakeAssistant())
    [tick] = [f.fn for f in blocks.fns.values() if getattr(f.fn, "__name__", "") == "on_tick"]
    history = [{"role": "assistant", "content": "x"}]
    assert all(v == gr.skip() for v in tick(time.monotonic(), history, None))  # an active visitor: untouched
    out = tick(time.monotonic() - 3600, history, "Công an phường")
    chat, box, up, state = out[0], out[5], out[6], out[11]
    assert chat == [] and state is None and box.visible is False and up.interactive is False
    assert out[13:] == (None, "lead", "", "", "")  # after the selected tab: the duty filters, back to start


@pytest.fixture(scope="module")
def registry() -> Any:
    from assistant.answer.duties import registry_for
    from assistant.errors import IndexStateError
    from assistant.search.index import load_index
    from assistant.settings import get_settings

    try:
        return registry_for(load_index(get_settings()))
    except IndexStateError:
        pytest.skip("no built index (python -m assistant build)")


def test_duty_sheet_gives_table_csv_and_ics(registry: Any, tmp_path: Path) -> None:
    from icalendar import Calendar

    names = agency_names(registry)
    assert AGENCY in names and "Công an phường" in names and names == sorted(names, key=lambda n: n.lower())
    assert not any(n.lower().startswith("các ") for n in names)
    view = duty_view(registry, "Công an phường", "lead", "", "", "", tmp_path)
    assert len(view.rows) == 1 and "**1** nhiệm vụ" in view.note
    assert view.csv and view.ics and Path(view.csv).name.isascii() and Path(view.ics).name.endswith(".ics")
    with open(view.csv, encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert tuple(header) == CSV_COLUMNS and len(rows) == 1 and rows[0][0] == view.rows[0][0]
    events = Calendar.from_ical(Path(view.ics).read_bytes()).walk("VEVENT")
    assert len(events) >= 1 and all(str(e["summary"]) for e in events)
    many = duty_view(registry, AGENCY, "lead", "", "", "", tmp_path)
    assert len(many.rows) >= 5 and "Ngoài ra" in many.note and "giao chung cho các cơ quan, đơn vị" in many.note


def test_duty_sheet_explains_bad_input(registry: Any, tmp_path: Path) -> None:
    empty = duty_view(registry, None, "lead", "", "", "", tmp_path)
    assert (empty.rows, empty.note, empty.csv, empty.ics) == ([], PICK_HINT, None, None)
    bad_day = duty_view(registry, AGENCY, "lead", "2025-13-01", "", "", tmp_path)
    assert bad_day.note.startswith("⚠ Ngày không hợp lệ «2025-13-01» (Từ ngày)") and bad_day.csv is None
    backwards = duty_view(registry, AGENCY, "lead", "2025-12-31", "2025-01-01", "", tmp_path)
    assert "Khoảng thời gian không hợp lệ" in backwards.note and backwards.rows == []
    unknown = duty_view(registry, "Phòng Tài nguyen", "lead", "", "", "", tmp_path)
    assert unknown.note.startswith("⚠ Không tìm thấy cơ quan") and "Gợi ý" in unknown.note
    window = duty_view(registry, AGENCY, "lead", "2025-07-01", "30/09/2025", "", tmp_path)
    assert window.rows and "từ 01/07/2025 đến 30/09/2025" in window.note
    assert duty_view(registry, AGENCY, "lead", "31/02/2025", "", "", tmp_path).note.startswith(
        "⚠ Ngày không hợp lệ «31/02/2025»")


# ----------------------------------------------------------------------------- end to end in Chromium
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_app(feedback_db: Path) -> tuple[FastAPI, Any]:
    """The real app, its feedback written to ``feedback_db`` (never to the project's database)."""
    try:
        from assistant.serve.api import create_app
    except ImportError:  # the API layer is not written yet: mount the UI alone over a fake assistant
        fake = FakeAssistant()
        fake.settings.feedback_db = feedback_db
        app = FastAPI()
        mount_ui(app, fake)
        return app, fake
    from assistant import load

    assistant = load()
    assistant.settings = assistant.settings.model_copy(update={"feedback_db": feedback_db})
    return create_app(assistant), assistant


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    import uvicorn

    app, assistant = _make_app(tmp_path_factory.mktemp("ui") / "feedback.sqlite3")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", assistant
    srv.should_exit = True
    thread.join(timeout=10)


def _ask_and_check(page: Any, base: str, expected: Answer) -> None:
    page.goto(f"{base}/ui/?__theme=light")
    page.wait_for_selector("#question textarea", timeout=20_000)
    page.fill("#question textarea", QUESTION)
    page.click("#send")
    mark = page.locator("#sources mark").first
    mark.wait_for(state="visible", timeout=20_000)
    answer = page.locator("#chat .message").last
    head = expected.answer.split("\n")[0][:40]
    page.wait_for_function("t => document.querySelector('#chat').innerText.includes(t)", arg=head, timeout=10_000)
    assert answer.is_visible()
    assert mark.inner_text().strip() == expected.citations[0].quote
    assert "Nguồn trích dẫn" in page.inner_text("body")


def _rate(page: Any) -> None:
    """Rate the answer "Hữu ích": thanks shown, rating buttons disabled."""
    page.click("#fb-up")
    page.wait_for_function("t => document.querySelector('#fb-status').innerText.includes(t)", arg=ui.THANKS,
                           timeout=10_000)
    assert page.is_disabled("#fb-up") and page.is_disabled("#fb-down")


def _open_duties(page: Any, first_task: str) -> None:
    page.get_by_role("tab", name="Nhiệm vụ của đơn vị").click()
    page.click("#duty-agency input")
    page.get_by_role("option", name=AGENCY, exact=True).click()
    page.wait_for_function("t => document.querySelector('#duty-note').innerText.includes(t)", arg=AGENCY,
                           timeout=10_000)
    shown = "#duty-table" if page.is_visible("#duty-table") else "#duty-cards"
    page.wait_for_function("([sel, t]) => document.querySelector(sel).innerText.includes(t)",
                           arg=[shown, first_task[:60]], timeout=10_000)
    assert "Ngoài ra" in page.inner_text("#duty-note")
    with page.expect_download(timeout=10_000) as download:
        page.click("#duty-csv")
    assert download.value.suggested_filename.startswith("nhiem-vu_phong-kinh-te")
    head = Path(download.value.path()).read_bytes()[:40].decode("utf-8")
    assert head.startswith("\ufeffNhiệm vụ,")


@pytest.mark.e2e
@pytest.mark.slow
def test_ui_in_headless_chromium(server: tuple[str, Any], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium fonts-dejavu-core)")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, assistant = server
    expected = assistant.ask(QUESTION)
    assert not expected.abstained and expected.citations, "the assistant should answer the test question"
    from assistant.answer.duties import registry_for

    first_task = registry_for(assistant.index).duty_sheet(AGENCY)["tasks"][0]["task"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            for name, options in [
                ("ui-kiosk.png", {"viewport": {"width": 1920, "height": 1080}}),
                ("ui-phone.png", {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                                  "is_mobile": True, "has_touch": True, "color_scheme": "dark"}),
            ]:
                context = browser.new_context(locale="vi-VN", **options)
                page = context.new_page()
                page.on("request", lambda r: r.url.startswith(base) or r.url.startswith("data:")
                        or outside.append(r.url))
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                _ask_and_check(page, base, expected)
                _rate(page)
                page.wait_for_timeout(300)  # let the chat finish scrolling
                assert page.evaluate("document.body.classList.contains('dark')") is False, "light theme not pinned"
                width = options["viewport"]["width"]
                assert page.evaluate("document.documentElement.scrollWidth") <= width, "page wider than screen"
                top = page.evaluate("document.querySelector('#sources').getBoundingClientRect().top")
                assert top < options["viewport"]["height"], "the sources panel starts below the first screen"
                page.screenshot(path=str(tmp_path / name))
                shutil.copyfile(tmp_path / name, SHOTS / name)
                _open_duties(page, first_task)
                page.wait_for_timeout(300)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, "duties wider than screen"
                if width >= 1920:
                    page.screenshot(path=str(SHOTS / "ui-duties.png"))
                context.close()
        finally:
            browser.close()
    assert FeedbackStore(assistant.settings.feedback_db).count() == 2, "one rating per viewport"
    assert outside == [], f"the page reached outside the server: {outside}"
    assert problems == [], f"browser console errors: {problems}"
