"""Safe re-indexing: rebuilds under load, failed and killed builds, stale/corrupt/mismatched indexes.

Every test works on a private copy of corpus/ and its own index dir. The cache dir is private too but
reuses the project's converted model (symlink) and a copy of its per-document shards (parsed records, term
counts, vectors), so builds take ~1 s and nothing a test embeds lands in the project's cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import load
from assistant.admin import add_document, clean_leftovers, rebuild, reindex
from assistant.errors import IndexStateError
from assistant.search.index import check_index, current_build, load_index
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines()[:40:3]]
NEW_DOC = """KẾ HOẠCH
Cải cách hành chính năm 2025 của UBND xã Thử Nghiệm

I. MỤC ĐÍCH, YÊU CẦU
1. Nâng cao chất lượng giải quyết thủ tục hành chính cho người dân và doanh nghiệp.

II. NHIỆM VỤ
1. Rà soát, đơn giản hoá thủ tục hành chính trên địa bàn xã.
- Cơ quan chủ trì thực hiện: Văn phòng HĐND và UBND xã Thử Nghiệm.
- Thời gian hoàn thành: Quý III năm 2025.
"""
META = {"doc_id": "thu-nghiem-cchc-2025", "title": "Kế hoạch CCHC năm 2025 của xã Thử Nghiệm",
        "issuer": "UBND xã Thử Nghiệm", "locality": "Thử Nghiệm", "period": "2025", "kind": "plan"}


def make_cache(path: Path, shards: bool = True) -> Path:
    path.mkdir(parents=True)
    (path / "models").symlink_to(ROOT / ".cache" / "models", target_is_directory=True)
    if shards and (ROOT / ".cache" / "shards").is_dir():
        shutil.copytree(ROOT / ".cache" / "shards", path / "shards")
    return path


@pytest.fixture
def ws(tmp_path) -> Settings:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for f in corpus.iterdir():
        f.chmod(0o644)
    # builds in the test's process (they patch it to fail); the child-process path has tests of its own
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=make_cache(tmp_path / "cache"),
                    feedback_db=tmp_path / "feedback.sqlite3", reindex_in_child=False)


@pytest.fixture(scope="module")
def embedder(assistant):
    return assistant.embedder


def snapshot(index_dir: Path) -> tuple[str, dict[str, str]]:
    """Where ``current`` points and the sha256 of every file of that build."""
    build = current_build(index_dir)
    assert build is not None
    files = {str(p.relative_to(build)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(build.rglob("*")) if p.is_file()}
    return os.readlink(index_dir / "current"), files


def assert_serves(a) -> None:
    answer = a.ask("Ai chủ trì số hóa hồ sơ và kết quả giải quyết TTHC ở phường Nghĩa Lộ?")
    assert answer.citations and not answer.abstained


# ---------------------------------------------------------------- (a) questions during rebuild + reload

def test_questions_keep_working_during_rebuild_and_reload(ws, embedder):
    a = load(ws, embedder=embedder)
    errors: list[BaseException] = []
    answered = []
    stop = threading.Event()

    def asker() -> None:
        i = 0
        while not stop.is_set():
            try:
                answer = a.ask(QUESTIONS[i % len(QUESTIONS)])
                assert answer.citations or answer.abstained, answer
                answered.append(len(a.index.docs))
            except BaseException as exc:  # noqa: BLE001 - collected, asserted below
                errors.append(exc)
            i += 1
            # a breath between questions, as between requests: a loop that never lets go of the GIL starves the
            # build's imports and file reads (each waits out the 5 ms switch interval) and the test takes minutes
            time.sleep(0.002)

    thread = threading.Thread(target=asker)
    thread.start()
    try:
        time.sleep(0.3)
        add_document(ws, NEW_DOC.encode(), META, filename="thu-nghiem.txt")
        builds = [reindex(a)]
        for _ in range(2):
            time.sleep(0.2)
            builds.append(reindex(a))
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors[:3]
    assert len(answered) > 10 and answered[0] == 2 and answered[-1] == 3
    assert len(set(builds)) == 3 and current_build(ws.index_dir) == builds[-1].resolve()
    answer = a.ask("Ai chủ trì rà soát, đơn giản hoá thủ tục hành chính trên địa bàn xã Thử Nghiệm?")
    assert any(c.doc_id == META["doc_id"] for c in answer.citations), answer
    assert_serves(a)


# ---------------------------------------------------------------- (b) a build that fails midway

class FailingEmbedder:
    """Real dimension, a model id of its own (so nothing comes from the cache): fails in the 3rd batch."""

    def __init__(self, inner, fail_at: int = 3) -> None:
        self.inner, self.dim, self.model_id = inner, inner.dim, "failing-test-model@1"
        self.calls, self.fail_at = 0, fail_at

    def embed_passages(self, texts, batch_size=16):
        self.calls += 1
        if self.calls >= self.fail_at:
            raise RuntimeError(f"embedding failed in batch {self.calls}")
        v = np.random.default_rng(self.calls).standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.mark.parametrize("where", ["embedding", "writing"])
def test_failed_build_changes_nothing_and_old_index_keeps_serving(ws, embedder, monkeypatch, where):
    a = load(ws, embedder=embedder)
    before = snapshot(ws.index_dir)
    if where == "embedding":
        failing = FailingEmbedder(embedder)
        monkeypatch.setattr(a, "embedder", failing)
        expected = "embedding failed in batch 3"
    else:  # the build directory exists when this fails: it must be removed
        from assistant.search import index as index_mod

        def disk_full(self, path):
            Path(path).write_bytes(b"half")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(index_mod.Dense, "save", disk_full)
        expected = "No space left"
    with pytest.raises((RuntimeError, OSError), match=expected):
        reindex(a)
    if where == "embedding":
        assert failing.calls == 3
    assert snapshot(ws.index_dir) == before
    assert not list((ws.index_dir / "builds").glob(".*"))  # no .partial left behind
    assert_serves(a)
    monkeypatch.undo()
    a.reload()  # the untouched index still loads
    assert_serves(a)


# ---------------------------------------------------------------- (c) a build process killed midway

def test_killed_build_leaves_old_index_and_leftovers_are_cleaned(ws, embedder, tmp_path):
    a = load(ws, embedder=embedder)
    before = snapshot(ws.index_dir)
    # no cached shards: the child embeds every unit (~30 s), so it is surely killed mid-build
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(ws.index_dir), "ASSISTANT_CORPUS_DIR": str(ws.corpus_dir),
           "ASSISTANT_CACHE_DIR": str(make_cache(tmp_path / "cold-cache", shards=False)),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "assistant", "index"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = bytearray()

    def read() -> None:
        while chunk := child.stderr.read1(4096):
            stderr.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while b"embed" not in stderr and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child.poll() is None, f"the build ended before it could be killed: {stderr.decode(errors='replace')}"
    assert b"embed" in stderr, "the child never reached the embedding stage"
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    reader.join(5)

    assert snapshot(ws.index_dir) == before
    assert check_index(ws, embedder.model_id) is None
    # what a kill during the write phase leaves: a half-written build dir and a temporary symlink
    partial = ws.index_dir / "builds" / f".20260101T000000-{child.pid}-1.partial"
    partial.mkdir()
    (partial / "units.json").write_text('[{"doc_id": "nghia', encoding="utf-8")
    (ws.index_dir / f".current-{child.pid}").symlink_to(partial.relative_to(ws.index_dir))
    load_index(ws)  # ignored
    a.reload()
    assert_serves(a)

    build = rebuild(ws, embedder=embedder)
    assert not partial.exists() and not (ws.index_dir / f".current-{child.pid}").is_symlink()
    assert current_build(ws.index_dir) == build.resolve() and check_index(ws, embedder.model_id) is None
    a.reload()
    assert_serves(a)


def test_cli_add_document_then_index(ws, tmp_path):
    source = tmp_path / "thu-nghiem.txt"
    source.write_text(NEW_DOC, encoding="utf-8")
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(ws.index_dir), "ASSISTANT_CORPUS_DIR": str(ws.corpus_dir),
           "ASSISTANT_CACHE_DIR": str(ws.cache_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    args = ["--doc-id", META["doc_id"], "--title", META["title"], "--issuer", META["issuer"],
            "--locality", META["locality"], "--period", META["period"]]
    cli = [sys.executable, "-m", "assistant"]
    run = subprocess.run([*cli, "add-document", str(source), *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "python -m assistant index" in run.stdout, run.stderr
    again = subprocess.run([*cli, "add-document", str(source), *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and "đã có" in again.stderr and "Traceback" not in again.stderr
    run = subprocess.run([*cli, "index"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "3 documents" in run.stdout, run.stderr
    assert check_index(ws) is None


def test_leftovers_of_a_live_build_are_kept(ws):
    live = ws.index_dir / "builds" / f".20260101T000000-{os.getpid()}-1.partial"
    live.mkdir(parents=True)
    assert clean_leftovers(ws.index_dir) == [] and live.is_dir()


# ---------------------------------------------------------------- (d) stale, corrupt, other model

def _replace_file(ws: Settings, name: str, text: str) -> None:
    path = ws.corpus_dir / name
    path.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = ws.corpus_dir / "manifest.toml"
    body = manifest.read_text(encoding="utf-8")
    new = re.sub(rf'(file = "{re.escape(name)}"\nsha256 = )"[0-9a-f]+"', rf'\1"{digest}"', body)
    assert new != body
    manifest.write_text(new, encoding="utf-8")


def test_changed_corpus_is_stale_and_load_rebuilds(ws, embedder):
    load(ws, embedder=embedder)
    old = current_build(ws.index_dir)
    name = "000_2382ca1575bb8014.txt"
    _replace_file(ws, name, (ws.corpus_dir / name).read_text("utf-8") + "\nPhụ lục bổ sung: kiểm tra chỉ mục cũ.\n")
    assert check_index(ws, embedder.model_id) == "the corpus changed since the index was built"
    with pytest.raises(IndexStateError, match="stale.*python -m assistant index"):
        load_index(ws)
    a = load(ws, embedder=embedder)
    assert current_build(ws.index_dir) != old and check_index(ws, embedder.model_id) is None
    assert_serves(a)


def test_corrupt_faiss_file_is_reported_with_the_fix(ws, embedder):
    load(ws, embedder=embedder)
    dense = current_build(ws.index_dir) / "dense.faiss"
    dense.write_bytes(b"this is not a faiss index" * 10)
    with pytest.raises(IndexStateError, match=r"corrupt.*Rebuild: python -m assistant index"):
        load_index(ws)


def test_truncated_faiss_file_is_reported(ws, embedder):
    load(ws, embedder=embedder)
    dense = current_build(ws.index_dir) / "dense.faiss"
    dense.write_bytes(dense.read_bytes()[: dense.stat().st_size // 2])
    with pytest.raises(IndexStateError, match="python -m assistant index"):
        load_index(ws)


def test_index_of_another_model_is_reported_and_rebuilt(ws, embedder):
    load(ws, embedder=embedder)
    meta_path = current_build(ws.index_dir) / "meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["model_id"] = "some-other-model@123"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    problem = check_index(ws, embedder.model_id)
    assert problem and "some-other-model@123" in problem and embedder.model_id in problem
    load(ws, embedder=embedder)
    assert check_index(ws, embedder.model_id) is None


def test_missing_index_is_reported_with_the_fix(ws):
    assert check_index(ws) == f"no index in {ws.index_dir}"
    with pytest.raises(IndexStateError, match="python -m assistant index"):
        load_index(ws)


# ---------------------------------------------------------------- the admin API drives the same functions

def wait_job(client, auth: dict, job: str, during=None) -> dict:
    deadline = time.monotonic() + 120
    while (status := client.get(f"/api/admin/reindex/{job}", headers=auth).json())["status"] == "running":
        if during:
            during()
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    return status


def test_admin_upload_then_reindex_job(ws, embedder):
    from fastapi.testclient import TestClient

    from assistant.serve.api import create_app

    token = "t" * 32
    a = load(ws.model_copy(update={"admin_token": token}), embedder=embedder)
    client = TestClient(create_app(a, with_ui=False))
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/admin/documents", headers=auth, data=META,
                    files={"file": ("thu-nghiem.txt", NEW_DOC.encode(), "text/plain")})
    assert r.status_code == 201, r.text
    assert r.json()["document"]["file"] == "thu-nghiem-cchc-2025.txt"
    assert client.get("/api/health").json()["documents"] == 2  # not indexed yet; the old index serves

    r = client.post("/api/admin/reindex", headers=auth)
    assert r.status_code == 202 and r.json()["status"] == "running"
    job = r.json()["id"]
    busy = client.post("/api/admin/reindex", headers=auth)
    assert busy.status_code in (202, 409)  # 409 unless the first job already finished
    status = wait_job(client, auth, job,
                      during=lambda: client.post("/api/ask", json={"question": QUESTIONS[0]}).raise_for_status())
    assert status["status"] == "done" and "3 tài liệu" in status["message"], status
    if busy.status_code == 202:  # the first job had already finished: a second one ran
        assert wait_job(client, auth, busy.json()["id"])["status"] == "done"
    else:
        assert "Đang có" in busy.json()["error"]
    assert client.get("/api/health").json()["documents"] == 3
    assert client.get("/api/admin/reindex/nope", headers=auth).status_code == 404


def test_admin_reindex_job_failure_keeps_old_index(ws, embedder, monkeypatch):
    from fastapi.testclient import TestClient

    from assistant.serve.api import create_app

    token = "u" * 32
    a = load(ws.model_copy(update={"admin_token": token}), embedder=embedder)
    before = snapshot(ws.index_dir)
    monkeypatch.setattr(a, "embedder", FailingEmbedder(embedder, fail_at=2))
    client = TestClient(create_app(a, with_ui=False))
    auth = {"Authorization": f"Bearer {token}"}
    job = client.post("/api/admin/reindex", headers=auth).json()["id"]
    status = wait_job(client, auth, job)
    assert status["status"] == "failed" and "embedding failed in batch 2" in status["message"]
    assert snapshot(ws.index_dir) == before
    body = client.post("/api/ask", json={"question": "Ai chủ trì số hóa hồ sơ ở phường Nghĩa Lộ?"}).json()
    assert body["citations"]


# ---------------------------------------------------------------- the build in a child process (the default)

def test_reindex_builds_in_a_child_process_and_the_server_never_loads_the_passage_encoder(assistant, ws):
    # ``assistant`` first: the session's build fills the project's shard cache that ``ws`` copies
    settings = ws.model_copy(update={"reindex_in_child": True})
    a = load(settings)  # the packaged encoder, loaded lazily: the copied shards leave nothing to embed
    assert not a.embedder.loaded
    add_document(settings, NEW_DOC.encode(), META, filename="thu-nghiem.txt")
    seen: list[tuple[str, int, int]] = []
    build = reindex(a, progress=lambda *p: seen.append(p))
    assert current_build(ws.index_dir) == build and len(a.index.docs) == 3
    assert not a.embedder.loaded  # the new plan was embedded in the child
    assert ("docs", 3, 3) in seen and any(stage == "embed" for stage, _, _ in seen)
    answer = a.ask("Ai chủ trì rà soát, đơn giản hoá thủ tục hành chính trên địa bàn xã Thử Nghiệm?")
    assert any(c.doc_id == META["doc_id"] for c in answer.citations), answer


def test_a_failed_child_build_reports_its_error_and_the_old_index_keeps_serving(assistant, ws):
    settings = ws.model_copy(update={"reindex_in_child": True})
    a = load(settings)
    before = snapshot(ws.index_dir)
    manifest = ws.corpus_dir / "manifest.toml"
    manifest.write_text(re.sub(r'sha256 = "0c2b[0-9a-f]+"', 'sha256 = "' + "0" * 64 + '"',
                               manifest.read_text("utf-8")), encoding="utf-8")
    with pytest.raises(IndexStateError, match="sha256 is 0c2bc628.*update its sha256"):
        reindex(a)
    assert snapshot(ws.index_dir) == before
    assert_serves(a)
