"""Store scale-out benchmark on SYNTHETIC corpora: build time, RSS and search latency per backend and size.

    .venv/bin/python benchmarks/store_scale.py            # embedded 10k + 100k, milvus-lite 10k
    .venv/bin/python benchmarks/store_scale.py --big      # adds embedded 1M and milvus-lite 100k (long!)
    .venv/bin/python benchmarks/store_scale.py --only embedded:10000 --only milvus:10000

SYNTHETIC DATA, NOT A REAL CORPUS: the seed index's units (their real folded tokens) are replicated across
generated ward names ("phường <name> <n>", added to each copy's tokens, doc_id and locality) and every unit gets a
RANDOM unit vector (dim 384, normal, normalised, seeded). BM25 costs are realistic in vocabulary and length;
dense costs are realistic in size only (random vectors have no cluster structure, which makes HNSW slower and
less accurate than on real embeddings). Questions: the tokens of evals/qa.jsonl with random query vectors.

Each (backend, size) runs in its own subprocess so RSS figures do not mix. Latencies are one query at a time,
k per leg = 10 (as in scale-out.md) and = 1000 (what Retriever asks for); "hybrid" = both legs + our RRF.
RSS after build includes milvus-lite (it runs inside the client process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DIM = 384
SYLLABLES = "An Bình Hoà Phú Tân Thạnh Long Mỹ Sơn Hải Đông Tây Nam Bắc Trung Phước Lộc Vĩnh Quang Hưng".split()


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    status = Path("/proc/self/status").read_text()
    get = {k: int(v.split()[0]) / 1024 for k, v in (ln.split(":", 1) for ln in status.splitlines() if ":" in ln)
           if k in ("VmRSS", "VmHWM")}
    return get["VmRSS"], get["VmHWM"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ward(n: int) -> str:
    return f"{SYLLABLES[n % 20]} {SYLLABLES[(n // 20) % 20]} {n}"


def synthetic_units(n: int, seed: int = 0):
    """n SYNTHETIC units: the seed units' tokens, copy j placed in ward j, random normalised vectors."""
    from assistant.search.index import load_index, unit_text
    from assistant.search.store import StoredUnit
    from assistant.settings import Settings
    from assistant.text.segment import tokens

    index = load_index(Settings())
    base = [(u, tokens(unit_text(u))) for u in index.units]
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n, 20_000):  # vectors in slabs: bounded temporary memory
        m = min(20_000, n - start)
        vecs = rng.standard_normal((m, DIM), dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for i in range(m):
            j, (u, toks) = divmod(start + i, len(base))[0], base[(start + i) % len(base)]
            name = ward(j)
            doc = index.docs[u.doc_id]
            out.append(StoredUnit(f"{u.chunk_id}-w{j}", f"{u.doc_id}-w{j}", u.kind, name, doc.year_from,
                                  doc.year_to, toks + tokens(f"phường {name}"), vecs[i], u.text))
    return out, len(base)


def timed(fn, runs) -> list[float]:
    ms = []
    for args in runs:
        t = time.perf_counter()
        fn(*args)
        ms.append((time.perf_counter() - t) * 1000)
    return ms


def run_one(backend: str, n: int, n_queries: int) -> dict:
    from assistant.search.fusion import fuse
    from assistant.search.store import Filters
    from assistant.text.segment import query_tokens

    t = time.perf_counter()
    units, copies_of = synthetic_units(n)
    gen_s = time.perf_counter() - t
    rss0, _ = rss_mb()
    tmp = tempfile.mkdtemp(prefix="store-scale-")
    t = time.perf_counter()
    if backend == "embedded":
        from assistant.search.embedded_store import EmbeddedStore

        store = EmbeddedStore(dim=DIM)
        store.add(units)
    else:
        from assistant.search.milvus_store import MilvusStore

        store = MilvusStore(str(Path(tmp) / "m.db"), dim=DIM)
        store.add(units)
    build_s = time.perf_counter() - t
    print(f"{backend} {n}: built in {build_s:.1f} s", file=sys.stderr, flush=True)
    del units
    rss1, _ = rss_mb()
    questions = [json.loads(x)["question"] for x in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines()]
    rng = np.random.default_rng(1)
    qs = []
    for i in range(n_queries):
        v = rng.standard_normal(DIM).astype(np.float32)
        qs.append((query_tokens(questions[i % len(questions)]), v / np.linalg.norm(v)))
    t = time.perf_counter()
    store.search(qs[0][0], qs[0][1], 10)  # milvus-lite builds its BM25 structures on the first query
    first_ms = (time.perf_counter() - t) * 1000
    wards = n // copies_of + 1
    res: dict = {"backend": backend, "units": n, "generate_s": round(gen_s, 1), "build_s": round(build_s, 1),
                 "rss_before_build_mb": round(rss0), "rss_after_build_mb": round(rss1),
                 "first_query_ms": round(first_ms, 1), "wards": wards}
    for k in (10, 1000):
        lat = {
            "dense": timed(lambda toks, v, k=k: store.search(None, v, k), qs),
            "bm25": timed(lambda toks, v, k=k: store.search(toks, None, k), qs),
            "hybrid": timed(lambda toks, v, k=k: fuse(store.search(toks, v, k), {"bm25": 1.0, "dense": 0.15}, 10), qs),
            "hybrid+ward": timed(lambda toks, v, k=k: fuse(store.search(
                toks, v, k, Filters(locality=ward(int(v[0] * 1e6) % wards))), {"bm25": 1.0, "dense": 0.15}, 10), qs),
        }
        print(f"{backend} {n}: k={k} done", file=sys.stderr, flush=True)
        res[f"k{k}"] = {leg: [round(statistics.median(ms), 1), round(pct(ms, 95), 1)] for leg, ms in lat.items()}
    _, res["rss_peak_mb"] = (round(x) for x in rss_mb())
    store.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", action="store_true", help="also embedded 1M and milvus-lite 100k (slow, GBs of RAM)")
    ap.add_argument("--only", action="append", help="backend:units, e.g. embedded:10000 (repeatable)")
    ap.add_argument("--queries", type=int, default=200, help="queries per measurement (embedded)")
    ap.add_argument("--milvus-queries", type=int, default=40, help="queries per measurement (milvus-lite: slow)")
    ap.add_argument("--blas-threads", help="set OPENBLAS_NUM_THREADS in the runs (default: inherit)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        backend, n = args.one.split(":")
        print(json.dumps(run_one(backend, int(n), args.queries)))
        return
    runs = args.only or ["embedded:10000", "embedded:100000", "milvus:10000"]
    if args.big and not args.only:
        runs += ["embedded:1000000", "milvus:100000"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = args.blas_threads
    print(f"OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print("SYNTHETIC corpora (seed units replicated across generated wards, random vectors) — see --help\n")
    print(f"{'backend':<9} {'units':>8} {'build s':>8} {'RSS MB':>7} {'1st q ms':>8}  k/leg  "
          f"{'dense p50/p95':>14} {'bm25 p50/p95':>14} {'hybrid p50/p95':>15} {'+ward filter':>14}")
    for run in runs:
        nq = args.milvus_queries if run.startswith("milvus") else args.queries
        out = subprocess.run([sys.executable, __file__, "--one", run, "--queries", str(nq)],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{run}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        for k in ("k10", "k1000"):
            lat = r[k]
            head = (f"{r['backend']:<9} {r['units']:>8} {r['build_s']:>8} {r['rss_after_build_mb']:>7} "
                    f"{r['first_query_ms']:>8}") if k == "k10" else " " * 44
            print(f"{head}  {k[1:]:>5}  " + " ".join(f"{'/'.join(map(str, lat[leg])):>14}"
                                                   for leg in ("dense", "bm25", "hybrid", "hybrid+ward")))
    print("\nms, one query at a time (embedded: --queries, milvus-lite: --milvus-queries per cell); "
          "RSS after build (peak: --one runs print JSON). Build = index build from ready units (+ flush).")


if __name__ == "__main__":
    main()
