"""Per-document shards: a rebuild parses, tokenises and embeds only the documents (and texts) that changed, and
the index it assembles equals a build from scratch; stale, damaged and unused shards are handled."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.corpus import load_corpus
from assistant.search import shards as shards_mod
from assistant.search.embedder import HashingEmbedder
from assistant.search.index import build_index, current_build, load_index, unit_text
from assistant.search.shards import ShardCache, stream_shards
from assistant.settings import Settings
from assistant.text.segment import query_tokens

ROOT = Path(__file__).resolve().parents[2]
NGHIA_LO = "000_2382ca1575bb8014.txt"
QUESTIONS = ["Ai chủ trì số hóa hồ sơ thủ tục hành chính?", "Nghị định 118/2025/NĐ-CP", "chỉ số hài lòng"]


class CountingEmbedder(HashingEmbedder):
    """The hashing test double, recording every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        self.seen += list(texts)
        return super().embed_passages(texts, batch_size)


@pytest.fixture
def ws(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for f in corpus.iterdir():
        f.chmod(0o644)
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")


@pytest.fixture
def ingested(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The doc_ids parsed from now on."""
    calls: list[str] = []
    real = shards_mod.ingest
    monkeypatch.setattr(shards_mod, "ingest", lambda doc: calls.append(doc.doc_id) or real(doc))
    return calls


def edit_one_task(ws: Settings) -> None:
    """Change a few words inside one task of the Nghĩa Lộ plan (every later span moves; their texts do not)."""
    path = ws.corpus_dir / NGHIA_LO
    text = path.read_text("utf-8")
    at = text.index("Cơ quan chủ trì")
    path.write_text(text[:at] + "Cơ quan chủ trì chính" + text[at + len("Cơ quan chủ trì"):], encoding="utf-8")
    manifest = ws.corpus_dir / "manifest.toml"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest.write_text(re.sub(rf'(file = "{NGHIA_LO}"\nsha256 = )"[0-9a-f]+"', rf'\1"{digest}"',
                               manifest.read_text("utf-8")), encoding="utf-8")


def shard_files(ws: Settings, emb: HashingEmbedder) -> set[str]:
    return {p.name for p in (ws.cache_dir / "shards" / emb.model_id).iterdir()}


def assert_same_index(a: Settings, b: Settings) -> None:
    """Same records, same BM25 scores for a few questions, same vectors."""
    ia, ib = load_index(a), load_index(b)
    for name in ("units.json", "tasks.json", "legal.json"):
        assert (current_build(a.index_dir) / name).read_bytes() == (current_build(b.index_dir) / name).read_bytes()
    for q in QUESTIONS:
        assert np.array_equal(ia.lexical.scores(query_tokens(q)), ib.lexical.scores(query_tokens(q)))
    assert np.array_equal(ia.dense._matrix(), ib.dense._matrix())


def test_rebuild_of_an_unchanged_corpus_parses_and_embeds_nothing(ws, ingested):
    emb = CountingEmbedder()
    build_index(ws, embedder=emb)
    units = len(load_index(ws).units)
    assert len(emb.seen) <= units and len(ingested) == 2  # duplicate texts embedded once
    emb.seen.clear(), ingested.clear()
    build_index(ws, embedder=emb)
    assert emb.seen == [] and ingested == []
    assert len(load_index(ws).units) == units


def test_one_edited_document_is_the_only_one_parsed_and_only_its_new_texts_embedded(ws, ingested, tmp_path):
    emb = CountingEmbedder()
    build_index(ws, embedder=emb)
    before = {unit_text(u) for u in load_index(ws).units}
    edit_one_task(ws)
    emb.seen.clear(), ingested.clear()
    build_index(ws, embedder=emb)
    after = {unit_text(u) for u in load_index(ws).units}
    assert ingested == ["nghia-lo-cchc-2025"]
    assert 0 < len(emb.seen) == len(after - before) < 5 and set(emb.seen) == after - before
    scratch = Settings(corpus_dir=ws.corpus_dir, index_dir=tmp_path / "scratch-index", cache_dir=tmp_path / "cold")
    build_index(scratch, embedder=HashingEmbedder())
    assert_same_index(ws, scratch)


def test_replaced_shards_are_deleted_once_no_kept_build_uses_them(ws):
    emb = CountingEmbedder()
    build_index(ws, embedder=emb)
    first = shard_files(ws, emb)
    foreign = ws.cache_dir / "shards" / emb.model_id / "another-index-doc.0123456789abcdef0123.npz"
    foreign.write_bytes(b"a shard of a document this index never held")
    edit_one_task(ws)
    build_index(ws, embedder=emb)
    second = shard_files(ws, emb)
    assert first < second  # the previous build is kept as a spare: its shards too
    build_index(ws, embedder=emb)
    third = shard_files(ws, emb)
    (old,) = {f for f in first if f.startswith("nghia-lo")}
    assert old not in third and foreign.name in third and len(third) == 3
    meta = json.loads((current_build(ws.index_dir) / "meta.json").read_text("utf-8"))
    assert {f for f, _ in meta["shards"]} == third - {foreign.name}


def test_a_damaged_shard_is_made_again(ws, ingested):
    emb = CountingEmbedder()
    build_index(ws, embedder=emb)
    (victim,) = (ws.cache_dir / "shards" / emb.model_id).glob("nam-gia-nghia*")
    victim.write_bytes(victim.read_bytes()[:1000])
    ingested.clear(), emb.seen.clear()
    build_index(ws, embedder=emb)
    index = load_index(ws)
    theirs = {unit_text(u) for u in index.units if u.doc_id == "nam-gia-nghia-cchc-2026-2030"}
    assert ingested == ["nam-gia-nghia-cchc-2026-2030"] and set(emb.seen) == theirs  # no other copy of its vectors
    assert index.meta["counts"]["documents"] == 2


def test_changed_parsing_code_parses_again_but_reuses_the_vectors(ws, ingested, monkeypatch):
    emb = CountingEmbedder()
    build_index(ws, embedder=emb)
    ingested.clear(), emb.seen.clear()
    monkeypatch.setattr(shards_mod, "parser_version", lambda: "another-parser")
    build_index(ws, embedder=emb)
    assert sorted(ingested) == ["nam-gia-nghia-cchc-2026-2030", "nghia-lo-cchc-2025"] and emb.seen == []


def test_small_batches_keep_corpus_order_and_report_progress(ws, tmp_path):
    docs = load_corpus(ws.corpus_dir)
    seen: list[tuple[str, int, int]] = []
    out = list(stream_shards(docs, ShardCache(tmp_path / "s"), HashingEmbedder(), lambda *a: seen.append(a), batch=1))
    assert [s.doc_id for s in out] == [d.doc_id for d in docs]
    assert [a for a in seen if a[0] == "docs"] == [("docs", 1, 2), ("docs", 2, 2), ("docs", 2, 2)]
    assert all(len(s.chunks) == s.counts.units == len(s.vectors) == len(s.keys) for s in out)
    assert all(s.file for s in out)


def test_a_rebuild_extends_the_previous_graph_and_answers_as_a_fresh_build(ws, tmp_path, monkeypatch):
    from assistant import load
    from assistant.search import dense as dense_mod
    from assistant.search import index as index_mod

    for module in (dense_mod, index_mod):
        monkeypatch.setattr(module, "HNSW_FROM", 50)  # the seed corpus (198 units) as an HNSW graph
    monkeypatch.setattr(dense_mod, "COMPACT_ABOVE", 0.5)
    emb = HashingEmbedder()
    build_index(ws, embedder=emb)
    nghia_lo = sum(u.doc_id == "nghia-lo-cchc-2025" for u in load_index(ws).units)
    edit_one_task(ws)
    build_index(ws, embedder=emb)
    extended = load_index(ws)
    assert extended.dense.is_graph and extended.meta["dense_unused_rows"] == extended.dense.unused_rows == nghia_lo
    scratch = Settings(corpus_dir=ws.corpus_dir, index_dir=tmp_path / "scratch-index", cache_dir=tmp_path / "cold")
    build_index(scratch, embedder=emb)
    fresh = load_index(scratch)
    assert fresh.dense.unused_rows == 0 and np.array_equal(extended.dense.vectors(), fresh.dense.vectors())
    for q in QUESTIONS:
        v = emb.embed_query(q)
        assert extended.dense.search(v, 10)[0].tolist() == fresh.dense.search(v, 10)[0].tolist()
    a, b = load(ws, embedder=emb), load(scratch, embedder=emb)
    for q in QUESTIONS:
        assert a.ask(q).answer == b.ask(q).answer


def test_cached_shards_pass_through_at_once(ws, ingested, tmp_path):
    """A cached document with nothing waiting before it is yielded before the next document is even read (the
    stream does not hold the corpus)."""
    docs = load_corpus(ws.corpus_dir)
    cache = ShardCache(tmp_path / "s")
    list(stream_shards(docs[:1], cache, HashingEmbedder()))
    ingested.clear()
    stream = stream_shards(docs, cache, HashingEmbedder())
    first = next(stream)
    assert first.doc_id == docs[0].doc_id and ingested == []
    assert [s.doc_id for s in stream] == [docs[1].doc_id] and ingested == [docs[1].doc_id]


def test_another_model_never_reuses_the_previous_graphs_rows(ws, monkeypatch):
    from assistant.search import dense as dense_mod
    from assistant.search import index as index_mod

    class Flipped(HashingEmbedder):  # same dimension, other vectors, other model id
        def __init__(self) -> None:
            super().__init__()
            self.model_id = "flipped-hashing"

        def embed_passages(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
            return -super().embed_passages(texts, batch_size)

    for module in (dense_mod, index_mod):
        monkeypatch.setattr(module, "HNSW_FROM", 50)
    build_index(ws, embedder=HashingEmbedder())
    build_index(ws, embedder=Flipped())
    index = load_index(ws)
    texts = [unit_text(u) for u in index.units]
    assert index.dense.unused_rows == 0
    assert np.allclose(index.dense.vectors(), Flipped().embed_passages(texts), atol=1e-6)
