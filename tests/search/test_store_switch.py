"""ASSISTANT_STORE=milvus answers like the embedded store (milvus-lite in a temporary directory)."""

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

QA = Path(__file__).resolve().parents[2] / "evals" / "qa.jsonl"


def test_switching_the_store_setting_gives_the_same_answers(assistant, tmp_path):
    settings = assistant.settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "m.db")})
    milvus = dataclasses.replace(assistant, settings=settings)
    questions = [json.loads(line)["question"] for line in QA.read_text(encoding="utf-8").splitlines()][::8]
    same = sum(milvus.ask(q).answer == assistant.ask(q).answer for q in questions)
    assert same >= 0.95 * len(questions), f"{same}/{len(questions)} identical answers"
    hits = milvus.search("Nghị định số 118/2025/NĐ-CP", top_k=3)
    assert any("118/2025/NĐ-CP" in h.text for h in hits)


def test_unreachable_milvus_server_is_a_clear_error(assistant):
    from assistant.search.store import StoreError, make_store

    settings = assistant.settings.model_copy(update={"store": "milvus", "milvus_uri": "http://127.0.0.1:9"})
    with pytest.raises(StoreError, match="127.0.0.1:9"):
        make_store(settings, assistant.index)
