"""Sanity checks on the hand-written evaluation set evals/qa.jsonl.

The set is written from the corpus documents themselves (not from the parser), so these
checks only use the raw text files listed in corpus/manifest.toml.
"""

import json
import tomllib
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QA_PATH = ROOT / "evals" / "qa.jsonl"
MANIFEST = ROOT / "corpus" / "manifest.toml"

KINDS = {
    "lead", "partner", "deadline", "legal", "number", "signer",
    "product", "general", "list", "count", "conflict",
}
REQUIRED = {"id", "question", "kind", "doc_id", "answers", "evidence", "answerable", "no_diacritics"}


def collapse(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def fold(text: str) -> str:
    """Accent-folded, lower-cased form (đ -> d), used only as a fallback for answers."""
    text = unicodedata.normalize("NFD", collapse(text).lower()).replace("đ", "d")
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def load_docs() -> dict[str, str]:
    manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    docs = {}
    for entry in manifest["documents"]:
        raw = (MANIFEST.parent / entry["file"]).read_text(encoding="utf-8")
        docs[entry["doc_id"]] = collapse(raw)
    return docs


DOCS = load_docs()


def load_items() -> list[dict]:
    items = []
    for n, line in enumerate(QA_PATH.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:  # pragma: no cover - reported as a failure below
            pytest.fail(f"line {n} is not valid JSON: {e}")
    return items


ITEMS = load_items()


def texts_for(item: dict) -> list[str]:
    """The collapsed document text(s) an item may quote: its doc, or every doc when doc_id is null."""
    if item["doc_id"] is None:
        return list(DOCS.values())
    return [DOCS[item["doc_id"]]]


def in_docs(snippet: str, texts: list[str]) -> bool:
    s = collapse(snippet)
    return bool(s) and any(s in t for t in texts)


def as_list(x) -> list[str]:
    return x if isinstance(x, list) else [x]


def test_every_line_is_json_with_required_fields():
    assert ITEMS, "evals/qa.jsonl is empty"
    for it in ITEMS:
        missing = REQUIRED - it.keys()
        assert not missing, f"{it.get('id')}: missing {missing}"
        assert it["kind"] in KINDS, f"{it['id']}: bad kind {it['kind']!r}"
        assert it["doc_id"] is None or it["doc_id"] in DOCS, f"{it['id']}: unknown doc_id {it['doc_id']!r}"
        assert isinstance(it["answers"], list) and all(isinstance(a, str) for a in it["answers"]), it["id"]
        assert isinstance(it["evidence"], (str, list)), it["id"]
        assert isinstance(it["answerable"], bool) and isinstance(it["no_diacritics"], bool), it["id"]
        assert it["question"].strip(), it["id"]
        if it["kind"] in {"list", "count"} and it["answerable"]:
            assert isinstance(it.get("items"), list) and it["items"], f"{it['id']}: list/count needs items"
        if it["kind"] == "count" and it["answerable"]:
            assert isinstance(it.get("count"), int), f"{it['id']}: count item needs an integer count"
            assert it["count"] == len(it["items"]), f"{it['id']}: count != len(items)"
        if it["kind"] == "conflict":
            assert len(it["answers"]) >= 2, f"{it['id']}: conflict needs both values"


def test_ids_unique():
    ids = [it["id"] for it in ITEMS]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate ids: {sorted(dupes)}"


def test_questions_unique():
    seen = {}
    for it in ITEMS:
        key = fold(it["question"])
        assert key not in seen, f"{it['id']} repeats the question of {seen[key]}"
        seen[key] = it["id"]


def test_set_size_and_shares():
    n = len(ITEMS)
    assert n >= 120, n
    assert sum(it["no_diacritics"] for it in ITEMS) / n >= 0.20
    assert sum(not it["answerable"] for it in ITEMS) / n >= 0.10
    assert sum(it["kind"] in {"list", "count", "conflict"} for it in ITEMS) >= 20
    for doc_id in DOCS:
        assert sum(it["doc_id"] == doc_id for it in ITEMS) >= n // 4, f"too few items for {doc_id}"


def test_text_fields_are_nfc():
    for it in ITEMS:
        for field in ("question",):
            assert unicodedata.is_normalized("NFC", it[field]), f"{it['id']}: {field} not NFC"
        for s in it["answers"] + as_list(it["evidence"]) + it.get("items", []):
            assert unicodedata.is_normalized("NFC", s), f"{it['id']}: {s!r} not NFC"


def test_no_diacritics_questions_are_ascii():
    for it in ITEMS:
        if it["no_diacritics"]:
            q = unicodedata.normalize("NFC", it["question"])
            bad = sorted({c for c in q if ord(c) > 127})
            assert not bad, f"{it['id']}: flagged no_diacritics but contains {bad}"


def test_unanswerable_items_are_empty():
    for it in ITEMS:
        if not it["answerable"]:
            assert it["answers"] == [], it["id"]
            assert it["evidence"] in ("", []), it["id"]
            assert it["doc_id"] is None, it["id"]
            assert not it.get("items"), it["id"]


def test_evidence_is_verbatim():
    for it in ITEMS:
        if not it["answerable"]:
            continue
        texts = texts_for(it)
        evidence = as_list(it["evidence"])
        assert evidence, f"{it['id']}: no evidence"
        for ev in evidence:
            assert in_docs(ev, texts), f"{it['id']}: evidence not in document: {ev!r}"


def test_items_are_verbatim():
    for it in ITEMS:
        if not it["answerable"]:
            continue
        texts = texts_for(it)
        for s in it.get("items", []):
            assert in_docs(s, texts), f"{it['id']}: item not in document: {s!r}"


def test_answers_appear_in_document():
    for it in ITEMS:
        if not it["answerable"]:
            continue
        assert it["answers"], f"{it['id']}: answerable item without answers"
        if it["kind"] == "count":
            # the gold answer of a count question is the number itself
            assert it["answers"] == [str(it["count"])], f"{it['id']}: answers must be [str(count)]"
            continue
        texts = texts_for(it)
        lowered = [t.lower() for t in texts]
        folded = [fold(t) for t in texts]
        for a in it["answers"]:
            ok = any(collapse(a).lower() in t for t in lowered)
            ok = ok or any(fold(a) in t for t in folded)
            assert ok, f"{it['id']}: answer not in document: {a!r}"
