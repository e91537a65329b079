"""Hostile or odd input never gives a 500 or a traceback; rate limiting; the admin endpoints' gate.

Against the real index and model (session fixture). Every response must carry ``x-request-id``.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
import threading
import unicodedata
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from assistant.serve.api import create_app
from assistant.serve.limits import TokenBucketLimiter
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?"


def app_for(assistant, **settings):
    """The same loaded index behind other settings (a shallow copy: nothing is rebuilt)."""
    a = copy.copy(assistant)
    a.settings = assistant.settings.model_copy(update=settings)
    return create_app(a, with_ui=False)


@pytest.fixture(scope="module")
def client(assistant):
    return TestClient(create_app(assistant, with_ui=False), raise_server_exceptions=False)


def check(r, allowed=(200,)) -> dict:
    assert r.status_code in allowed or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.status_code != 500 and "Traceback" not in r.text and 'File "' not in r.text
    assert r.headers.get("x-request-id")
    body = r.json()
    if r.status_code == 200 and "answer" in body:
        assert body["citations"] or body["abstained"], body
    elif r.status_code >= 400:
        assert body["error"] and body["request_id"] == r.headers["x-request-id"]
    return body


ODD_QUESTIONS = {
    "control characters": "\x01\x02Ai chủ trì\x07 số hóa\x1b hồ sơ\x7f?\x0b\x0c",
    "zero-width": "Ai\u200b chủ\u200d trì\ufeff số\u2060 hóa hồ sơ?",
    "emoji": "🙏 Ai chủ trì số hóa hồ sơ? 🇻🇳👍🏽👨‍👩‍👧",
    "NFD": unicodedata.normalize("NFD", QUESTION),
    "right-to-left override": "\u202eAi chủ trì số hóa hồ sơ?\u202c",
    "only symbols": "😀😀😀 ??? !!!",
    "combining marks pile": "a" + "\u0301" * 500,
    "very long unicode": "Ệ" * 20_000,
    "just over the limit": "ệ" * 1001,
    "lone surrogate": "\ud800 Ai chủ trì?",
    "NUL": "Ai chủ trì\x00?",
}


@pytest.mark.parametrize("path", ["/api/ask", "/api/search"])
@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_odd_questions_get_an_answer_or_a_clear_4xx(client, path, name):
    payload = json.dumps({"question": ODD_QUESTIONS[name]})  # ASCII-escaped: lone surrogates survive
    body = check(client.post(path, content=payload, headers={"content-type": "application/json"}))
    if name in ("control characters", "zero-width", "emoji", "NFD") and path == "/api/ask":
        assert "Các cơ quan giải quyết TTHC" in body["answer"]


def test_lone_surrogate_is_a_422_with_a_reason(client):
    r = client.post("/api/ask", content=b'{"question": "\\udc80abc"}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "unicode" in r.json()["error"]


@pytest.mark.parametrize("depth", [50, 5_000, 30_000])
def test_deeply_nested_json(client, depth):
    for doc in ("[" * depth + "]" * depth, '{"question": ' + "[" * depth + "]" * depth + "}",
                '{"question": "x", "conversation_id": ' + '{"a":' * depth + "1" + "}" * depth + "}"):
        check(client.post("/api/ask", content=doc.encode(), headers={"content-type": "application/json"}))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", None])
def test_wrong_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/api/ask", content=json.dumps({"question": QUESTION}), headers=headers)
    check(r)
    assert r.status_code in (400, 415, 422)


@pytest.mark.parametrize("path", ["/api/ask", "/api/search", "/api/feedback"])
def test_get_on_post_routes(client, path):
    r = client.get(path)
    check(r)
    assert r.status_code == 405 and "POST" in r.headers.get("allow", "")


def test_one_megabyte_body_is_refused(client):
    big = json.dumps({"question": "a" * (1 << 20)}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    check(r)
    assert r.status_code == 413

    def chunked():  # no content-length: the streamed body is counted and cut off
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    for path in ("/api/ask", "/api/search", "/api/feedback"):
        r = client.post(path, content=chunked(), headers={"content-type": "application/json"})
        check(r)
        assert r.status_code == 413 and "quá lớn" in r.json()["error"], r.text


def test_invalid_utf8_and_broken_json(client):
    for raw in (b'{"question": "\xff\xfe"}', b'{"question": ', b"\xef\xbb\xbf{}", b"null", b"1e999999"):
        check(client.post("/api/ask", content=raw, headers={"content-type": "application/json"}))


def test_an_unexpected_error_is_a_500_without_details(assistant):
    a = copy.copy(assistant)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")

    a.ask = broken
    r = TestClient(create_app(a, with_ui=False), raise_server_exceptions=False).post(
        "/api/ask", json={"question": QUESTION})
    assert r.status_code == 500 and r.headers.get("x-request-id")
    assert "secret" not in r.text and "Traceback" not in r.text and r.json()["error"]


def test_request_id_echoed_only_when_well_formed(client):
    assert client.get("/api/health", headers={"x-request-id": "abc-123.X_y"}).headers["x-request-id"] == "abc-123.X_y"
    for bad in ("a" * 65, "abc def", "id status=200", "ä"):
        rid = client.get("/api/health", headers={"x-request-id": bad.encode()}).headers["x-request-id"]
        assert rid != bad and len(rid) == 12


def test_logs_carry_the_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="assistant.api")
    for r in (client.post("/api/ask", json={"question": QUESTION}), client.post("/api/ask", json={"question": ""}),
              client.get("/api/nope")):
        rid = r.headers["x-request-id"]
        assert any(rid in rec.getMessage() for rec in caplog.records), (rid, caplog.text[-500:])


# ---------------------------------------------------------------- rate limiting

def test_rate_limit_429_with_retry_after(assistant, caplog):
    caplog.set_level(logging.INFO, logger="assistant.api")
    client = TestClient(app_for(assistant, rate_limit_per_minute=3))
    codes = [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(2)]
    codes.append(client.post("/api/search", json={"question": QUESTION}).status_code)  # same budget
    assert codes == [200, 200, 200]
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 20
    assert "quá nhiều yêu cầu" in r.json()["error"] and r.headers["x-request-id"]
    assert any("status=429" in rec.getMessage() for rec in caplog.records)
    for path in ("/api/health", "/api/documents"):  # not limited
        assert client.get(path).status_code == 200


def test_rate_limit_off_by_default(client):
    assert all(client.post("/api/search", json={"question": "số hóa"}).status_code == 200 for _ in range(30))


def test_limiter_refills_and_separates_clients():
    now = [0.0]
    limiter = TokenBucketLimiter(per_minute=60, clock=lambda: now[0])  # one token a second, burst 60
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0
    now[0] += 2.5
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0 and limiter.acquire("a") > 0


def test_limiter_memory_is_bounded():
    now = [0.0]
    limiter = TokenBucketLimiter(per_minute=10, max_clients=100, clock=lambda: now[0])
    for i in range(1000):
        limiter.acquire(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100  # least recently seen dropped
    now[0] += limiter.idle_seconds + 1
    limiter.acquire("late")
    assert len(limiter) == 1  # idle clients swept


def test_limiter_is_thread_safe():
    limiter = TokenBucketLimiter(per_minute=500, clock=lambda: 0.0)
    allowed = []

    def hammer():
        allowed.append(sum(limiter.acquire("same") == 0 for _ in range(100)))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 500


# ---------------------------------------------------------------- admin gate

def test_admin_endpoints_do_not_exist_without_a_token(client):
    assert client.post("/api/admin/reindex").status_code == 404
    assert client.post("/api/admin/documents").status_code == 404


def test_admin_needs_the_right_token(assistant, tmp_path):
    token = "s3cret-" + "x" * 20
    client = TestClient(app_for(assistant, admin_token=token, corpus_dir=tmp_path))
    r = client.post("/api/admin/reindex")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and r.headers["x-request-id"]
    for value in ("Bearer wrong-token-of-some-length", f"Basic {token}", token, f"Bearer {token}x", "Bearer ",
                  "Bearer tôken-ünicode-ñ"):
        assert client.post("/api/admin/reindex", headers={"Authorization": value.encode()}).status_code == 403
    big = {"file": ("a.txt", b"x" * (2 << 20), "text/plain")}
    assert client.post("/api/admin/documents", files=big, data={"doc_id": "a"}).status_code == 401


def test_short_admin_token_refuses_to_start():
    with pytest.raises(ValidationError, match="at least 16.*secrets"):
        Settings(admin_token="short")
    assert Settings(admin_token="x" * 16).admin_token == "x" * 16
    env = {**os.environ, "ASSISTANT_ADMIN_TOKEN": "too-short"}
    run = subprocess.run([sys.executable, "-m", "assistant", "serve", "--port", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "at least 16" in run.stderr and "Traceback" not in run.stderr


@pytest.fixture
def admin(assistant, tmp_path):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    token = "t" * 24
    client = TestClient(app_for(assistant, admin_token=token, corpus_dir=corpus), raise_server_exceptions=False)
    return client, {"Authorization": f"Bearer {token}"}, corpus


META = {"doc_id": "xa-moi-cchc-2025", "title": "Kế hoạch CCHC 2025 xã Mới", "issuer": "UBND xã Mới",
        "locality": "Mới", "period": "2025", "kind": "plan"}


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(text: str) -> bytes:
    """A minimal one-page PDF (Helvetica, ASCII text) with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("kind", ["txt", "docx", "pdf"])
def test_upload_each_format(admin, kind):
    client, auth, corpus = admin
    text = "Ke hoach cai cach hanh chinh nam 2025 cua xa Moi. Nhiem vu: so hoa ho so."
    data = {"txt": ("\ufeff" + text).encode(), "docx": docx_bytes(text), "pdf": pdf_bytes(text)}[kind]
    r = client.post("/api/admin/documents", headers=auth, data=META, files={"file": (f"x.{kind}", data)})
    assert r.status_code == 201, r.text
    stored = (corpus / "xa-moi-cchc-2025.txt").read_text("utf-8")
    assert "so hoa ho so" in stored and not stored.startswith("\ufeff")
    from assistant.corpus import load_corpus

    assert [d.doc_id for d in load_corpus(corpus)][-1] == "xa-moi-cchc-2025"
    again = client.post("/api/admin/documents", headers=auth, data=META, files={"file": (f"x.{kind}", data)})
    assert again.status_code == 409


def _zip(name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, "hello")
    return out.getvalue()


@pytest.mark.parametrize("filename,data,meta,status", [
    ("x.exe", b"MZ\x90\x00", {}, 415),
    ("x.pdf", b"plain text pretending", {}, 415),
    ("x.docx", b"%PDF-1.4 not a zip", {}, 415),
    ("x.txt", b"%PDF-1.4\n...", {}, 415),
    ("x.txt", b"\x00\x01\x02", {}, 415),
    ("x.txt", "Kế hoạch".encode("utf-16"), {}, 415),  # NUL bytes
    ("x.txt", "Kế hoạch".encode()[:-1] + b"\xe1\xba", {}, 422),  # truncated UTF-8
    ("x.docx", _zip("hello.txt"), {}, 422),
    ("x.pdf", b"%PDF-1.4 broken", {}, 422),
    ("x.txt", b"   \n\n  ", {}, 422),
    ("x.txt", b"ok text", {"doc_id": "Bad Slug!"}, 422),
    ("x.txt", b"ok text", {"doc_id": "../etc/passwd"}, 422),
    ("x.txt", b"ok text", {"kind": "poem"}, 422),
    ("x.txt", b"ok text", {"period": "năm ngoái"}, 422),
    ("x.txt", b"ok text", {"title": ""}, 422),
    ("x.txt", b"ok text", {"title": "a\x00b"}, 422),
    ("x.txt", b"ok text", {"doc_id": "nghia-lo-cchc-2025"}, 409),
    ("x.txt", b"a" * (5 * 1024 * 1024 + 1), {}, 413),
])
def test_upload_rejections(admin, filename, data, meta, status):
    client, auth, corpus = admin
    manifest = (corpus / "manifest.toml").read_bytes()
    r = client.post("/api/admin/documents", headers=auth, data={**META, **meta}, files={"file": (filename, data)})
    check(r)
    assert r.status_code == status, r.text
    assert (corpus / "manifest.toml").read_bytes() == manifest
    assert sorted(p.name for p in corpus.iterdir()) == sorted(p.name for p in (ROOT / "corpus").iterdir())


def test_upload_body_over_the_limit_is_refused_before_parsing(admin):
    client, auth, _ = admin
    r = client.post("/api/admin/documents", headers=auth, data=META,
                    files={"file": ("x.txt", b"a" * (6 * 1024 * 1024))})
    check(r)
    assert r.status_code == 413
