import shutil
from pathlib import Path

import pytest

from assistant.corpus import corpus_hash, load_corpus
from assistant.errors import CorpusError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def corpus_copy(tmp_path):
    for f in (ROOT / "corpus").iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_corpus_is_byte_for_byte_the_shared_source():
    shared = ROOT.parent / "shared" / "corpus"
    if not shared.is_dir():
        pytest.skip("../shared/corpus not present")
    for src in shared.glob("*.txt"):
        assert (ROOT / "corpus" / src.name).read_bytes() == src.read_bytes()


def test_manifest_loads_both_plans():
    docs = load_corpus(ROOT / "corpus")
    assert {d.doc_id for d in docs} == {"nghia-lo-cchc-2025", "nam-gia-nghia-cchc-2026-2030"}
    assert all(d.kind == "plan" and d.text for d in docs)
    assert len(corpus_hash(docs)) == 64


def test_missing_file_names_the_file(corpus_copy):
    (corpus_copy / "000_2382ca1575bb8014.txt").unlink()
    with pytest.raises(CorpusError, match="000_2382ca1575bb8014.txt.*missing"):
        load_corpus(corpus_copy)


def test_hash_mismatch_names_the_file(corpus_copy):
    p = corpus_copy / "002_b46a2d4e4a7a80e8.txt"
    p.write_bytes(p.read_bytes() + b"x")
    with pytest.raises(CorpusError, match="002_b46a2d4e4a7a80e8.txt: sha256"):
        load_corpus(corpus_copy)


def _rehash(corpus_copy: Path, name: str) -> None:
    import hashlib

    digest = hashlib.sha256((corpus_copy / name).read_bytes()).hexdigest()
    m = corpus_copy / "manifest.toml"
    text = m.read_text(encoding="utf-8")
    start = text.index(f'file = "{name}"')
    line_start = text.index("sha256 = ", start)
    line_end = text.index("\n", line_start)
    m.write_text(text[:line_start] + f'sha256 = "{digest}"' + text[line_end:], encoding="utf-8")


def test_non_utf8_is_refused(corpus_copy):
    name = "000_2382ca1575bb8014.txt"
    (corpus_copy / name).write_bytes("Kế hoạch".encode("utf-16"))
    _rehash(corpus_copy, name)
    with pytest.raises(CorpusError, match=f"{name}: not UTF-8"):
        load_corpus(corpus_copy)


def test_empty_file_is_refused(corpus_copy):
    name = "000_2382ca1575bb8014.txt"
    (corpus_copy / name).write_bytes(b"  \n\n ")
    _rehash(corpus_copy, name)
    with pytest.raises(CorpusError, match=f"{name}: the file is empty"):
        load_corpus(corpus_copy)


def test_missing_manifest(tmp_path):
    with pytest.raises(CorpusError, match="manifest not found"):
        load_corpus(tmp_path)
