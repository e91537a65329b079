"""One conformance suite for both stores (EmbeddedStore; MilvusStore on milvus-lite in a fresh tmp dir per test),
plus: Retriever.search gives exactly what the pre-Store code gave, and both backends agree on the seed corpus."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.search.embedded_store import EmbeddedStore
from assistant.search.fusion import fuse
from assistant.search.store import Filters, Store, StoredUnit, StoreError, make_store, units_from_index
from assistant.text.normalize import clean, fold, has_diacritics
from assistant.text.segment import query_tokens, tokens

try:
    import milvus_lite  # noqa: F401
    import pymilvus  # noqa: F401

    WHY_NOT = ""
except ImportError as exc:
    WHY_NOT = f"pymilvus / milvus-lite cannot be imported ({exc}); pip install -e '.[milvus]'"
needs_milvus = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-")

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines()]
DIM = 8
# id, doc_id, kind, locality, year_from, year_to, text — unit i's vector is the i-th basis vector
ROWS = [
    ("u0", "d1", "task", "Nghĩa Lộ", 2025, 2025, "Số hoá hồ sơ thủ tục hành chính tại bộ phận một cửa"),
    ("u1", "d1", "passage", "Nghĩa Lộ", 2025, 2025, "Tuyên truyền cải cách hành chính trên đài truyền thanh phường"),
    ("u2", "d1", "appendix_row", "Nghĩa Lộ", 2025, 2025, "Rà soát văn bản theo Nghị định 118/2025/NĐ-CP, đạt 100%"),
    ("u3", "d2", "task", "Nam Gia Nghĩa", 2026, 2030, "Nâng cao chỉ số hài lòng về dịch vụ công trực tuyến"),
    ("u4", "d2", "passage", "Nam Gia Nghĩa", 2026, 2030, "Số hoá kết quả giải quyết thủ tục còn hiệu lực"),
    ("u5", "d2", "task", "Nam Gia Nghĩa", 2026, 2030, "Kiểm tra công tác cải cách hành chính hằng năm"),
    ("u6", 'd"3\\', "passage", "Thử Nghiệm", 2024, 2026, "Đào tạo cán bộ về chuyển đổi số"),
]


def unit(i: int, row: tuple = (), vector: np.ndarray | None = None) -> StoredUnit:
    uid, doc, kind, loc, y0, y1, text = row or ROWS[i]
    return StoredUnit(uid, doc, kind, loc, y0, y1, tokens(text), np.eye(DIM, dtype=np.float32)[i]
                      if vector is None else vector, text)


UNITS = [unit(i) for i in range(len(ROWS))]


class Backend:
    def __init__(self, name: str, tmp: Path, dim: int = DIM) -> None:
        self.name, self.tmp, self.dim = name, tmp, dim
        self.store = self.open()

    def open(self):
        if self.name == "embedded":
            return EmbeddedStore(self.tmp / "store", dim=self.dim)
        from assistant.search.milvus_store import MilvusStore

        return MilvusStore(str(self.tmp / "milvus.db"), dim=self.dim)

    def reopen(self):
        self.store.close()
        self.store = self.open()
        return self.store


@pytest.fixture(params=["embedded", pytest.param("milvus", marks=needs_milvus)])
def backend(request, tmp_path):
    b = Backend(request.param, tmp_path)
    yield b
    b.store.close()


@pytest.fixture
def full(backend):
    backend.store.add(UNITS)
    return backend.store


def q(text: str) -> list[str]:
    return query_tokens(text)


def test_add_count_and_upsert(backend):
    s = backend.store
    assert isinstance(s, Store)
    assert s.count() == 0
    assert s.search(q("hồ sơ"), np.eye(DIM, dtype=np.float32)[0], 5) == {"bm25": [], "dense": []}
    s.add(UNITS[:4])
    s.add(UNITS[4:])
    assert s.count() == len(UNITS)
    s.add([UNITS[0]])  # same id: replaces, does not duplicate
    assert s.count() == len(UNITS)
    assert s.search(None, np.eye(DIM, dtype=np.float32)[0], 100)["dense"].count("u0") == 1


def test_delete_document(full):
    assert full.delete_document("d1") == 3
    assert full.count() == len(UNITS) - 3
    legs = full.search(q("số hoá hồ sơ hành chính"), np.eye(DIM, dtype=np.float32)[0], 100)
    assert not {"u0", "u1", "u2"} & set(legs["bm25"] + legs["dense"])
    assert full.delete_document("no-such-doc") == 0
    assert full.delete_document('d"3\\') == 1  # quotes and backslashes in ids are escaped


FILTER_CASES = [
    (Filters(doc_id="d1"), {"u0", "u1", "u2"}),
    (Filters(doc_id='d"3\\'), {"u6"}),
    (Filters(kinds=("task",)), {"u0", "u3", "u5"}),
    (Filters(kinds=("task", "appendix_row")), {"u0", "u2", "u3", "u5"}),
    (Filters(locality="nam gia nghia"), {"u3", "u4", "u5"}),  # compared folded
    (Filters(locality="NGHĨA LỘ"), {"u0", "u1", "u2"}),
    (Filters(year=2025), {"u0", "u1", "u2", "u6"}),
    (Filters(year=2027), {"u3", "u4", "u5"}),
    (Filters(year=2031), set()),
    (Filters(doc_id="d2", kinds=("task",), year=2030, locality="Nam Gia Nghĩa"), {"u3", "u5"}),
    (Filters(doc_id="no-such-doc"), set()),
    (Filters(), {r[0] for r in ROWS}),
    (None, {r[0] for r in ROWS}),
]


def test_filters(full):
    vec = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    for filters, allowed in FILTER_CASES:
        legs = full.search(q("cải cách hành chính đào tạo"), vec, 100, filters)
        assert set(legs["dense"]) == allowed, filters  # k ≥ count: every allowed unit, nothing else
        assert set(legs["bm25"]) == allowed & {"u0", "u1", "u5", "u6"}, filters  # the units matching a token


def test_k_and_rank_order(full):
    vec = np.array([0.9, 0.4, 0.1, 0, 0, 0, 0, 0], dtype=np.float32)
    legs = full.search(None, vec / np.linalg.norm(vec), 3)
    assert legs == {"dense": ["u0", "u1", "u2"]}  # only the legs asked for
    assert full.search(None, vec, 1)["dense"] == ["u0"]
    bm25 = full.search(q("số hoá hồ sơ"), None, 10)
    assert list(bm25) == ["bm25"]
    assert bm25["bm25"][:2] == ["u0", "u4"]  # u0 has "số hoá" and "hồ sơ", u4 only "số hoá"
    assert full.search(q("số hoá hồ sơ"), None, 1)["bm25"] == ["u0"]


def test_bm25_on_folded_tokens(full):
    assert full.search(q("so hoa ho so"), None, 3)["bm25"][0] == "u0"  # unaccented finds accented
    assert full.search(q("DAO TAO CAN BO"), None, 3)["bm25"][0] == "u6"
    assert full.search(q("NĐ 118/2025"), None, 3)["bm25"][0] == "u2"  # legal key "§nd-118-2025"
    assert full.search(q("đạt 100%"), None, 3)["bm25"][0] == "u2"
    assert full.search(q("xyzzy quux"), None, 5)["bm25"] == []  # only units matching a token
    assert full.search([], None, 5)["bm25"] == []


def test_dense_nearest_neighbour(full):
    rng = np.random.default_rng(0)
    for i, u in enumerate(UNITS):
        v = np.eye(DIM, dtype=np.float32)[i] + rng.normal(0, 0.05, DIM).astype(np.float32)
        assert full.search(None, v / np.linalg.norm(v), 1)["dense"] == [u.id]


def test_reopen_after_close(backend):
    backend.store.add(UNITS)
    before = backend.store.search(q("cải cách hành chính"), np.eye(DIM, dtype=np.float32)[3], 5)
    s = backend.reopen()
    assert s.count() == len(UNITS)
    assert s.search(q("cải cách hành chính"), np.eye(DIM, dtype=np.float32)[3], 5) == before
    assert s.delete_document("d2") == 3
    s = backend.reopen()
    assert s.count() == len(UNITS) - 3


def test_fuse():
    fused = fuse({"bm25": ["a", "b", "c"], "dense": ["b", "d"]}, {"bm25": 1.0, "dense": 0.5}, k=3)
    assert [f.id for f in fused] == ["b", "a", "c"]
    assert fused[0].ranks == {"bm25": 2, "dense": 1}
    assert fused[0].score == pytest.approx(1 / 62 + 0.5 / 61)
    assert [f.id for f in fuse({"x": ["p", "q"], "y": ["q", "p"]}, k=2, tiebreak=lambda u: u)] == ["p", "q"]
    assert fuse({"bm25": ["a"], "dense": ["b"]}, {"bm25": 1.0}, k=5)[1:] == []  # weight 0: not a result


@needs_milvus
def test_milvus_unreachable_too_long_and_partition_key(tmp_path):
    from assistant.search.milvus_store import MilvusStore

    srv = socket.socket()  # accepts connections and never answers
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    threading.Thread(target=lambda: [srv.accept() for _ in range(8)], daemon=True).start()
    uri = f"http://127.0.0.1:{srv.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(StoreError, match="127.0.0.1"):
        MilvusStore(uri, dim=DIM, connect_timeout=2)
    assert time.monotonic() - started < 10
    srv.close()
    store = MilvusStore(str(tmp_path / "m.db"), dim=DIM, partition_key=True)  # as on a server
    try:
        store.add(UNITS)
        vec = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
        for filters, allowed in FILTER_CASES:
            assert set(store.search(None, vec, 100, filters)["dense"]) == allowed, filters
        with pytest.raises(StoreError, match="bytes"):  # 30,000 characters = 90,000 UTF-8 bytes
            store.add([unit(0, ("long", "d", "passage", "x", 2025, 2025, "ấ" * 30_000))])
        with pytest.raises(StoreError, match="dimension"):
            store.add([unit(0, vector=np.ones(DIM + 1, np.float32))])
    finally:
        store.close()


@pytest.fixture(scope="module")
def seed(assistant):
    return units_from_index(assistant.index)


@needs_milvus
def test_backends_agree_on_seed_corpus(assistant, seed, tmp_path):
    """Same top-5 per leg on both backends: dense identical; BM25 equal up to near-ties (Milvus keeps the
    (k1+1) factor and computes IDF/avgdl a little differently from bm25s: ranks of close scores may swap)."""
    from assistant.search.retrieve import Retriever

    settings = assistant.settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "m.db")})
    milvus = make_store(settings, assistant.index)  # fills the collection from the index (sync)
    emb = EmbeddedStore()
    emb.add(seed)
    try:
        assert milvus.count() == emb.count() == len(assistant.index.units)
        milvus.add([StoredUnit("stale", "gone", "passage", "x", 2025, 2025, ["x"], np.ones(384, np.float32), "x")])
        milvus.sync(assistant.index)  # units the index no longer has are deleted
        assert milvus.count() == len(assistant.index.units)
        embed = assistant.retriever._query_vector
        for question in QUESTIONS[::3]:
            toks, vec = query_tokens(question), embed(clean(question))
            e, m = emb.search(toks, vec, 5), milvus.search(toks, vec, 5)
            assert m["dense"] == e["dense"], question
            scores = emb._lexical.scores(toks)
            pos = {u: i for i, u in enumerate(emb._cols["ids"])}
            assert len(m["bm25"]) == len(e["bm25"]), question
            if e["bm25"]:
                fifth = scores[pos[e["bm25"][-1]]]
                assert all(scores[pos[u]] >= 0.9 * fifth for u in m["bm25"]), question
        retriever = Retriever(assistant.index, assistant.retriever.embedder, store=milvus)
        retriever._query_vector = embed
        assert retriever.search(QUESTIONS[0], top_k=5)[0].doc_id == assistant.search(QUESTIONS[0], 5)[0].doc_id
        assert milvus.hybrid(query_tokens(QUESTIONS[0]), embed(clean(QUESTIONS[0])), 5)
    finally:
        milvus.close()


def test_embedded_store_rebuilt_equals_wrapped_index(assistant, seed):
    wrapped, rebuilt = EmbeddedStore.from_index(assistant.index), EmbeddedStore()
    rebuilt.add(seed)
    for question in QUESTIONS[::7]:
        toks, vec = query_tokens(question), assistant.retriever._query_vector(clean(question))
        assert wrapped.search(toks, vec, 20) == rebuilt.search(toks, vec, 20)
    assert make_store(assistant.settings, assistant.index).count() == len(assistant.index.units)
    with pytest.raises(StoreError, match="not a store"):
        make_store(assistant.settings.model_copy(update={"store": "elastic"}), assistant.index)


# ---- Retriever.search before the Store existed (copied from the old retrieve.py), for comparison ----------
def old_search(index, query_vector, question, top_k=10, filters=None, mode="hybrid", w_dense=0.15,
               dense_text=clean, w_unaccented=0.0):
    dense_weight = w_dense if has_diacritics(question) else w_unaccented
    legs = {}
    if mode in ("hybrid", "bm25"):
        legs["bm25"] = index.lexical.scores(query_tokens(question))
    if mode == "dense" or (mode == "hybrid" and dense_weight > 0):
        legs["dense"] = index.dense.all_scores(query_vector(dense_text(question)))
    doc_of, kind_of, n = np.array([u.doc_id for u in index.units]), np.array([u.kind for u in index.units]), len(index.units)
    mask = None
    if filters is not None:
        mask = np.ones(n, dtype=bool)
        if filters.doc_id:
            mask &= doc_of == filters.doc_id
        if filters.kinds:
            mask &= np.isin(kind_of, list(filters.kinds))
        if filters.year:
            mask &= np.isin(doc_of, [d for d, doc in index.docs.items() if doc.year_from <= filters.year <= doc.year_to])
        if filters.locality:
            mask &= np.isin(doc_of, [d for d, doc in index.docs.items() if fold(doc.locality) == fold(filters.locality)])
    fused, ranks = np.zeros(n, dtype=np.float64), {}
    for name, scores in legs.items():
        s = scores.astype(np.float64).copy()
        if mask is not None:
            s[~mask] = -np.inf
        if name == "bm25":
            s[s <= 0] = -np.inf
        order = np.argsort(-s, kind="stable")
        order = order[np.isfinite(s[order])]
        r = np.full(n, 0, dtype=np.int64)
        r[order] = np.arange(1, len(order) + 1)
        ranks[name] = r
        weight = 1.0 if mode != "hybrid" else (1.0 if name == "bm25" else dense_weight)
        fused[order] += weight / (60 + np.arange(1, len(order) + 1))
    if mask is not None:
        fused[~mask] = 0
    best = [i for i in np.argsort(-fused, kind="stable")[:top_k] if fused[i] > 0]
    return [(index.units[i].chunk_id, float(fused[i]), {k: int(v[i]) for k, v in ranks.items() if v[i] > 0}) for i in best]


def test_retriever_results_unchanged(assistant):
    """The fusion stage (before re-scoring) equals the pre-Store numpy implementation; the dense leg now
    embeds the restored question and has a say on unaccented questions too."""
    index, retriever = assistant.index, assistant.retriever
    filters = [None, Filters(doc_id="nghia-lo-cchc-2025"), Filters(kinds=("task",), year=2027),
               Filters(locality="nam gia nghia")]
    for i, question in enumerate(QUESTIONS):
        for mode in ("hybrid", "bm25", "dense"):
            for f in filters if i % 10 == 0 else filters[:1]:
                new = [(x.id, x.score, x.ranks) for x in retriever.fused(question, 12, f, mode)]
                old = old_search(index, retriever._query_vector, question, 12, f, mode, dense_text=retriever.dense_text,
                                 w_unaccented=retriever.w_dense_unaccented)
                assert new == old, (question, mode, f)
                if mode != "hybrid":  # one leg: search is that leg's ranking
                    assert [(h.unit_id, h.score, h.ranks) for h in retriever.search(question, 12, f, mode)] == old


def test_unit_batches_stream_the_index_in_bounded_batches(assistant):
    from assistant.search.embedded_store import dense_vectors
    from assistant.search.store import unit_batches

    index = assistant.index
    batches = list(unit_batches(index, size=64))
    assert [len(b) for b in batches[:-1]] == [64] * (len(batches) - 1) and 0 < len(batches[-1]) <= 64
    flat = [u for b in batches for u in b]
    assert [u.id for u in flat] == [u.chunk_id for u in index.units]
    assert np.array_equal(np.stack([u.vector for u in flat]), dense_vectors(index.dense))
    some = {index.units[3].chunk_id, index.units[150].chunk_id}
    assert [u.id for b in unit_batches(index, only=some, size=1) for u in b] == [u.chunk_id for u in index.units
                                                                                  if u.chunk_id in some]


@needs_milvus
def test_milvus_sync_after_reindexing_one_document_touches_only_its_rows(assistant, tmp_path):
    """Re-indexing one plan gives its units new content-hash ids: sync deletes its old rows and adds its new ones,
    in bounded batches, and leaves every other row alone."""
    import dataclasses

    index = assistant.index
    settings = assistant.settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "m.db")})
    milvus = make_store(settings, index)
    try:
        changed = next(iter(index.docs))
        units = [dataclasses.replace(u, chunk_id=u.chunk_id + "-v2") if u.doc_id == changed else u for u in index.units]
        added: list[list[str]] = []
        deleted: list[str] = []
        real_add, real_delete = milvus.add, milvus._client.delete
        milvus.add = lambda batch, flush=True: added.append([u.id for u in batch]) or real_add(batch, flush)
        milvus._client.delete = lambda coll, ids, **kw: deleted.extend(ids) or real_delete(coll, ids=ids, **kw)
        milvus.sync(dataclasses.replace(index, units=units))
        assert sorted(i for b in added for i in b) == sorted(u.chunk_id for u in units if u.doc_id == changed)
        assert sorted(deleted) == sorted(u.chunk_id for u in index.units if u.doc_id == changed)
        assert milvus.count() == len(units)
        assert set(milvus.search(None, np.asarray(index.dense.rows([0])[0]), 1)["dense"]) <= {units[0].chunk_id}
    finally:
        milvus.close()


def test_embedded_hnsw_filtered_search_is_exact_over_the_allowed_units(monkeypatch, tmp_path):
    """Past HNSW_FROM units the dense leg is a graph search; a filter allowing few units (one plan) is scored
    exactly over them instead, so it finds every allowed unit and never widens the graph search to the corpus."""
    import assistant.search.dense as dense_mod

    monkeypatch.setattr(dense_mod, "HNSW_FROM", 100)
    monkeypatch.setattr("assistant.search.embedded_store.HNSW_FROM", 100)
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((400, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    units = [StoredUnit(f"u{i}", f"d{i // 40}", "task", "Nghĩa Lộ", 2025, 2025, tokens(f"việc số {i}"), vecs[i])
             for i in range(400)]
    store = EmbeddedStore(dim=16)
    store.add(units)
    assert type(store._dense._index).__name__.startswith("IndexHNSW")
    q = vecs[123] + 0.1 * rng.standard_normal(16).astype(np.float32)
    got = store.search(None, q, 1000, Filters(doc_id="d3"))["dense"]
    expected = [f"u{i}" for i in sorted(range(120, 160), key=lambda i: (-float(vecs[i] @ q), i))]
    assert got == expected  # all 40 of the plan's units, in exact order (k larger than what the filter allows)
    assert store.search(None, q, 5, Filters(doc_id="d3"))["dense"] == expected[:5]
    assert store.search(None, q, 5, Filters(doc_id="d3"))["dense"] == expected[:5]  # from the remembered filter
    assert store.search(["viec"], None, 3, Filters(doc_id="d3"))["bm25"] == ["u120", "u121", "u122"]
