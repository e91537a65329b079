"""Answer feedback: API round trip, concurrent writers, CSV export, backup, CLI. No IP addresses stored."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.serve.api import create_app
from assistant.serve.feedback import FeedbackStore

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?"


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "var" / "feedback.sqlite3"


@pytest.fixture
def client(assistant, db):
    a = copy.copy(assistant)
    a.settings = assistant.settings.model_copy(update={"feedback_db": db})
    return TestClient(create_app(a, with_ui=False))


def test_round_trip_via_the_api(client, db):
    assert not db.exists()  # created on the first rating, not at startup
    answer = client.post("/api/ask", json={"question": QUESTION, "conversation_id": "c-1"}).json()
    payload = {"question": QUESTION, "answer": answer["answer"], "citations": answer["citations"], "rating": 1,
               "comment": "Rất hữu ích 👍", "conversation_id": "c-1"}
    r = client.post("/api/feedback", json=payload)
    assert r.status_code == 201 and r.json()["id"] == 1 and r.headers["x-request-id"]
    r2 = client.post("/api/feedback", json={"question": "câu khác", "answer": "…", "rating": -1})
    assert r2.status_code == 201 and r2.json()["id"] == 2

    store = FeedbackStore(db)
    rows = list(store.rows())
    assert [r["rating"] for r in rows] == [1, -1]
    first = rows[0]
    assert first["question"] == QUESTION and first["answer"] == answer["answer"]
    assert first["comment"] == "Rất hữu ích 👍" and first["conversation_id"] == "c-1"
    assert json.loads(first["citations"]) == answer["citations"]
    assert first["created_at"].endswith("Z") and first["created_at"][:2] == "20"
    assert rows[1]["comment"] == "" and rows[1]["conversation_id"] is None
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(feedback)")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert columns == {"id", "created_at", "question", "answer", "citations", "rating", "comment", "conversation_id"}
    assert not any("ip" in c or "addr" in c or "client" in c for c in columns)
    assert b"testclient" not in db.read_bytes()  # the peer address is nowhere in the file


@pytest.mark.parametrize("change", [
    {"rating": 0}, {"rating": 2}, {"rating": True}, {"rating": "1"}, {"rating": 1.0}, {"rating": None},
    {"question": ""}, {"question": "x" * 2001}, {"answer": "x" * 20001}, {"comment": "x" * 2001},
    {"citations": [{}] * 51}, {"citations": "not a list"}, {"conversation_id": "x" * 101},
    {"question": "a\x00b"},
])
def test_invalid_feedback_is_a_422(client, change):
    payload = {"question": QUESTION, "answer": "trả lời", "citations": [], "rating": 1, **change}
    r = client.post("/api/feedback", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["error"] and "Traceback" not in r.text


def test_missing_fields_and_wrong_method(client):
    assert client.post("/api/feedback", json={"rating": 1}).status_code == 422
    assert client.get("/api/feedback").status_code == 405


def test_sixteen_threads_times_fifty_inserts(db):
    store = FeedbackStore(db)
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(50):
                store.add(f"câu hỏi {n}-{i}", "trả lời", 1 if i % 2 else -1, citations=[{"doc_id": "d", "n": i}])
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert store.count() == 800
    assert len({r["question"] for r in store.rows()}) == 800
    store.close()


def test_export_csv_parses_back(db, tmp_path):
    store = FeedbackStore(db)
    texts = ["Ai chủ trì?", 'Dấu "ngoặc", dấu phẩy\nvà xuống dòng', "=HYPERLINK(\"http://x\")", "-1+1", "@SUM(A1)"]
    for n, text in enumerate(texts):
        store.add(text, f"đáp {n}", 1 if n % 2 else -1, citations=[{"quote": "«trích»"}], comment=text)
    out = tmp_path / "out" / "feedback.csv"
    assert store.export_csv(out) == len(texts)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheet programs open Vietnamese correctly
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["question"] for r in rows[:2]] == texts[:2]
    assert rows[2]["question"] == "'" + texts[2] and rows[3]["comment"] == "'-1+1"  # no formula injection
    assert [int(r["rating"]) for r in rows] == [-1, 1, -1, 1, -1]
    assert rows[0]["citations"] == '[{"quote": "«trích»"}]'
    assert list(rows[0]) == ["id", "created_at", "rating", "question", "answer", "comment", "citations",
                             "conversation_id"]


def test_backup_is_a_consistent_copy(db, tmp_path):
    store = FeedbackStore(db)
    for i in range(20):
        store.add(f"q{i}", "a", 1)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            store.add("concurrent", "a", -1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        copy_path = store.backup(tmp_path / "backups" / "fb.sqlite3")
    finally:
        stop.set()
        writer.join()
    backup = FeedbackStore(copy_path)
    assert 20 <= backup.count() <= store.count()
    assert sqlite3.connect(copy_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_cli_export_and_backup(db, tmp_path):
    store = FeedbackStore(db)
    store.add("Ai chủ trì?", "Văn phòng", 1, comment="tốt")
    env = {**os.environ, "ASSISTANT_FEEDBACK_DB": str(db)}
    out = tmp_path / "export.csv"
    run = subprocess.run([sys.executable, "-m", "assistant", "feedback", "export", "--out", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Exported 1" in run.stderr
    assert list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))[0]["comment"] == "tốt"
    run = subprocess.run([sys.executable, "-m", "assistant", "feedback", "export"], cwd=ROOT, env=env,
                         capture_output=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith(b"\xef\xbb\xbfid,created_at")
    assert "Ai chủ trì?".encode() in run.stdout
    backup = tmp_path / "bk.sqlite3"
    run = subprocess.run([sys.executable, "-m", "assistant", "feedback", "backup", "--out", str(backup)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and FeedbackStore(backup).count() == 1
