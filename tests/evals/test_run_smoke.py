"""Fast tests of the runner's pure parts: item scoring, report building, rendering, and a tiny run against a
fake assistant (no model, no index)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `pytest` without `python -m`

from evals import run as runner  # noqa: E402
from evals.clients import HTTPClient, answer_dict  # noqa: E402
from evals.report import build_report, check_gate, render_md, render_text  # noqa: E402
from evals.scoring import score_item  # noqa: E402

SOURCE = ("a) Xây dựng Kế hoạch tuyên truyền cải cách hành chính năm 2025 của phường.\n"
          "- Cơ quan chủ trì thực hiện: Phòng Văn hoá - Xã hội phường.\n"
          "- Thời gian thực hiện: Quý IV năm 2025.\n"
          "b) Tổ chức kiểm tra công tác cải cách hành chính năm 2025.\n"
          "- Cơ quan chủ trì thực hiện: Phòng Văn hoá - Xã hội phường.\n")


def cite(phrase: str, quote: str | None = None) -> dict[str, Any]:
    start = SOURCE.index(phrase)
    return {"doc_id": "d1", "title": "T", "locator": "II.1", "quote": quote or " ".join(phrase.split()),
            "start": start, "end": start + len(phrase)}


LEAD = {"id": "q-lead", "question": "Ai chủ trì kế hoạch tuyên truyền?", "kind": "lead", "doc_id": "d1",
        "answers": ["Phòng Văn hóa – Xã hội"], "evidence": "Cơ quan chủ trì thực hiện: Phòng Văn hoá - Xã hội phường",
        "answerable": True, "no_diacritics": False}
NEG = {"id": "q-neg", "question": "thoi tiet hom nay", "kind": "general", "doc_id": None, "answers": [],
       "evidence": "", "answerable": False, "no_diacritics": True}
LIST = {"id": "q-list", "question": "phong van hoa xa hoi chu tri nhung viec nao", "kind": "list", "doc_id": "d1",
        "answers": ["Kế hoạch tuyên truyền", "kiểm tra công tác cải cách hành chính"],
        "evidence": ["Kế hoạch tuyên truyền", "kiểm tra công tác cải cách hành chính"],
        "items": ["Kế hoạch tuyên truyền", "kiểm tra công tác cải cách hành chính"],
        "answerable": True, "no_diacritics": True}
COUNT = dict(LIST, id="q-count", kind="count", count=2, answers=["2"], question="bao nhieu nhiem vu")
CONFLICT = {"id": "q-conf", "question": "Tỷ lệ bao nhiêu?", "kind": "conflict", "doc_id": "d1",
            "answers": ["98%", "90%"], "evidence": ["đạt tối thiểu 98%", "đạt tối thiểu 90%"],
            "answerable": True, "no_diacritics": False}


def resp(answer: str = "", abstained: bool = False, citations: list | None = None, **kw: Any) -> dict[str, Any]:
    return answer_dict({"answer": answer, "abstained": abstained, "citations": citations or [], **kw})


# --- scoring ----------------------------------------------------------------------------------------------

def test_score_lead_correct_and_supported() -> None:
    row = score_item(LEAD, resp("Phòng Văn hoá - Xã hội phường chủ trì.", citations=[cite("Phòng Văn hoá - Xã hội")]),
                     12.0, quote_ok=[True])
    assert row["correct"] and row["citation_supported"] and row["n_verbatim"] == 1 and not row["reasons"]


def test_score_wrong_agency_and_bad_quote() -> None:
    row = score_item(LEAD, resp("Văn phòng HĐND và UBND phường.", citations=[cite("Quý IV năm 2025")]), 5.0,
                     quote_ok=[False])
    assert not row["correct"] and row["citation_supported"] is False
    assert row["bad_quotes"] and "gold answer not in the answer" in row["reasons"]


def test_score_abstention_both_ways() -> None:
    assert score_item(NEG, resp("", abstained=True), 1.0)["correct"]
    assert not score_item(NEG, resp("Trời nắng."), 1.0)["correct"]
    wrong = score_item(LEAD, resp("Không tìm thấy.", abstained=True), 1.0)
    assert not wrong["correct"] and wrong["reasons"] == ["abstained wrongly"]


def test_score_list_uses_item_quotes_then_task() -> None:
    items = [{"task": "x", "quote": "a) Xây dựng Kế hoạch tuyên truyền cải cách hành chính năm 2025"},
             {"task": "Tổ chức kiểm tra công tác cải cách hành chính năm 2025", "quote": ""}]
    row = score_item(LIST, resp("2 nhiệm vụ", items=items), 1.0)
    assert row["correct"] and (row["set_precision"], row["set_recall"]) == (1.0, 1.0)
    half = score_item(LIST, resp("1 nhiệm vụ", items=items[:1]), 1.0)
    assert not half["correct"] and half["set_recall"] == 0.5 and "list incomplete" in half["reasons"][0]


def test_score_count_by_total_or_text() -> None:
    assert score_item(COUNT, resp("Có 2 nhiệm vụ.", total=2), 1.0)["correct"]
    assert not score_item(COUNT, resp("Có 3 nhiệm vụ.", total=3), 1.0)["correct"]
    assert score_item(COUNT, resp("Có 2 nhiệm vụ."), 1.0)["correct"]  # no total: the number in the text
    assert not score_item(COUNT, resp("Năm 2025 có nhiều nhiệm vụ."), 1.0)["correct"]


def test_score_conflict_needs_both_sides() -> None:
    both = resp("Mục tiêu ghi 98% nhưng phụ lục ghi 90%.", citations=[{"doc_id": "d1", "quote": "đạt tối thiểu 98%"}])
    assert score_item(CONFLICT, both, 1.0)["correct"]
    one = score_item(CONFLICT, resp("Tối thiểu 98%."), 1.0)
    assert not one["correct"] and one["reasons"][0].startswith("conflict side missing")


def test_score_error_row() -> None:
    row = score_item(LEAD, None, 3.0, error="RuntimeError: boom")
    assert not row["correct"] and row["reasons"] == ["error: RuntimeError: boom"]


# --- report -----------------------------------------------------------------------------------------------

def _rows() -> list[dict[str, Any]]:
    good = resp("Phòng Văn hoá - Xã hội", citations=[cite("Phòng Văn hoá - Xã hội")])
    return [
        score_item(LEAD, good, 10.0, quote_ok=[True]),
        score_item(dict(LEAD, id="q-lead2", no_diacritics=True), resp("Phòng Tư pháp", citations=[cite("b)")]),
                   30.0, quote_ok=[False]),
        score_item(NEG, resp("", abstained=True), 20.0),
        score_item(dict(NEG, id="q-neg2"), None, 40.0, error="TimeoutError: slow"),
    ]


def test_build_report_numbers() -> None:
    retrieval = [{"id": "q-lead", "no_diacritics": False, "ranks": {"bm25": 1, "dense": None, "hybrid": 2}},
                 {"id": "q-lead2", "no_diacritics": True, "ranks": {"bm25": 3, "dense": 1, "hybrid": 1}}]
    rep = build_report(_rows(), retrieval, None, {"set": "x.jsonl"})
    a = rep["answers"]
    assert a["n"] == 4 and a["n_errors"] == 1 and a["accuracy"] == pytest.approx(2 / 4)
    assert a["accuracy_answerable"] == pytest.approx(1 / 2)
    assert a["verbatim"] == {"n_quotes": 2, "n_verbatim": 1, "rate": 0.5}
    assert a["citation_support"]["rate"] == pytest.approx(0.5)
    assert a["abstention"] == {"precision": 1.0, "recall": 1.0}  # the errored item is left out of P/R
    assert a["no_diacritics"]["n"] == 3 and a["no_diacritics"]["accuracy"] == pytest.approx(1 / 3)
    assert a["no_diacritics"]["n_answerable"] == 1 and a["no_diacritics"]["accuracy_answerable"] == 0.0
    assert a["latency_ms"]["p50"] == pytest.approx(25.0)
    assert rep["retrieval"]["hybrid"]["overall"]["recall@1"] == pytest.approx(0.5)
    assert rep["retrieval"]["dense"]["no_diacritics"]["mrr"] == pytest.approx(1.0)
    assert rep["failures"][:2] == ["q-lead2", "q-neg2"]
    assert not rep["gate"]["passed"]
    failed = {c["name"] for c in rep["gate"]["checks"] if not c["passed"]}
    assert failed == {"answer accuracy (answerable)", "citation support (answerable)", "verbatim rate (every quote)"}
    json.dumps(rep)  # serialisable


def test_gate_passes_on_perfect_answers() -> None:
    rows = [_rows()[0], _rows()[2]]
    assert check_gate(build_report(rows)["answers"])["passed"]


def test_render_md_and_text() -> None:
    baseline = {"summary": {"top_k": 4, "recall@1": 0.25, "recall@4": 0.5, "recall@5": 0.5, "mrr": 0.3,
                            "no_diacritics": {"n": 0, "recall@1": 0.0, "recall@5": 0.0, "mrr": 0.0},
                            "accuracy_answerable": 0.4, "accuracy_overall": 0.3, "n_chunks": 7, "chunk_size": 800,
                            "chunk_overlap": 100}, "items": []}
    retrieval = [{"id": "q-lead", "no_diacritics": False, "ranks": {m: 1 for m in ("bm25", "dense", "hybrid")}}]
    rep = build_report(_rows(), retrieval, baseline, {"set": "x.jsonl", "client": "fake"})
    md = render_md(rep)
    assert "## Gate: FAILED" in md and "| LangChain baseline (top-4) | 25.0% |" in md
    assert "| hybrid | 100.0% |" in md and "### No-diacritic parity" in md
    assert "q-lead2" in md and "Phòng Tư pháp" in md and "(error)" in md
    text = render_text(rep)
    assert "gate: FAILED" in text and "[q-neg2]" in text and "LangChain baseline" in text


# --- a tiny end-to-end run with a fake assistant ------------------------------------------------------------

class FakeEmbedder:
    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(64, dtype=np.float32)
        for w in text.lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1
        return v / (np.linalg.norm(v) or 1.0)

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


class FakeAssistant:
    def __init__(self) -> None:
        self.index = SimpleNamespace(docs={"d1": SimpleNamespace(text=SOURCE)})
        self.embedder = FakeEmbedder()
        self.settings = SimpleNamespace(corpus_dir=Path("/nonexistent"))

    def ask(self, question: str) -> SimpleNamespace:
        if "boom" in question:
            raise RuntimeError("boom")
        if "thoi tiet" in question:
            return SimpleNamespace(answer="", abstained=True, citations=[], items=[], total=None, kind="general")
        c = cite("Phòng Văn hoá - Xã hội")
        return SimpleNamespace(answer="Phòng Văn hoá - Xã hội phường", abstained=False, kind="lead",
                               citations=[SimpleNamespace(**c)], items=[], total=None)

    def search(self, question: str, top_k: int = 10, mode: str = "hybrid") -> list[SimpleNamespace]:
        lines = [ln for ln in SOURCE.splitlines() if ln]
        order = lines if mode != "dense" else lines[::-1]
        return [SimpleNamespace(text=t) for t in order[:top_k]]


def test_main_runs_on_fake_assistant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = tmp_path / "qa.jsonl"
    boom = dict(LEAD, id="q-boom", question="boom?")
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (LEAD, NEG, boom)) + "\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "d1.txt").write_text(SOURCE, encoding="utf-8")
    (corpus / "manifest.toml").write_text('[[documents]]\ndoc_id = "d1"\nfile = "d1.txt"\n', encoding="utf-8")
    out = tmp_path / "out" / "report.json"

    rc = runner.main(["--set", str(qa), "--out", str(out), "--corpus", str(corpus), "--gate"], assistant=FakeAssistant())
    assert rc == 1  # the erroring item fails the accuracy gate, but the run completes
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rep["answers"]["n"] == 3 and rep["answers"]["n_errors"] == 1
    assert rep["answers"]["verbatim"]["rate"] == 1.0
    assert rep["retrieval"]["bm25"]["overall"]["recall@1"] == 0.0  # evidence is on the 2nd line
    assert rep["retrieval"]["bm25"]["overall"]["recall@5"] == 1.0
    assert rep["baseline"]["n_chunks"] == 1 and rep["baseline"]["recall@1"] == 1.0
    assert out.with_suffix(".md").is_file()
    assert "[q-boom]" in capsys.readouterr().out

    rc = runner.main(["--set", str(qa), "--out", str(out), "--quick"], assistant=FakeAssistant())
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rc == 0 and rep["retrieval"] is None and rep["baseline"] is None


def test_http_client_against_a_mock_service(tmp_path: Path) -> None:
    import httpx

    (tmp_path / "d1.txt").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[[documents]]\ndoc_id = "d1"\nfile = "d1.txt"\n', encoding="utf-8")

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/api/search":
            assert body["mode"] == "bm25" and body["top_k"] == 3
            return httpx.Response(200, json={"hits": [{"doc_id": "d1", "text": "hit one"}]})
        return httpx.Response(200, json={"answer": "Phòng Văn hoá - Xã hội", "abstained": False, "citations": [
            {"doc_id": "d1", "quote": "Phòng Văn hoá - Xã hội phường. - Thời gian"},
            {"doc_id": "d1", "quote": "Phòng Văn hóa - Xã hội"}]})

    client = HTTPClient("http://svc/", tmp_path, transport=httpx.MockTransport(handler))
    assert client.search("q", 3, "bm25") == ["hit one"]
    ans = client.ask("q")
    assert [client.check_quote(c) for c in ans["citations"]] == [True, False]  # the 2nd is retoned
    assert client.check_quote({"doc_id": "nope", "quote": "Phòng"}) is False
