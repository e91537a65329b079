"""The whole answering path at scale, on SYNTHETIC corpora: load time, RSS and ask latency p50/p95.

    .venv/bin/python benchmarks/ask_scale.py                  # 10k and 100k units, embedded store
    .venv/bin/python benchmarks/ask_scale.py --units 1000000  # one size (GBs of RAM, minutes)
    .venv/bin/python benchmarks/ask_scale.py --units 10000 --http   # also over HTTP (the real server app)

SYNTHETIC DATA, NOT A REAL CORPUS: the seed documents are copied into generated wards ("phường <name> <n>"):
copy j of a plan gets its own doc_id, locality, issuer and title, and the seed text unchanged (so every quote is
still an exact span); its units, tasks and legal references are the seed's with the new doc_id. Copy 0 is the
seed corpus itself, so the evaluation questions that name "Nghĩa Lộ" or "Nam Gia Nghĩa" still find their plan.
Vectors are the seed units' real embeddings plus seeded noise (σ = 0.05 per dimension, renormalised), so copies
are near, not exact, duplicates. Questions are evals/qa.jsonl with their real embeddings (the question encoder
is the serving one, its cost included only when the answer path calls it).

Each size runs in its own subprocess so RSS figures do not mix. Build = synthetic bm25s + FAISS build; load =
what serving does at start-up after loading an index (Retriever + Answerer set-up). "terms s" = extracting every
unit's term sets (measured per unit on the seed, times the units): a real build pays it and stores them
(``terms.npz``), start-up reads them; the synthetic copies tile the seed's instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.store_scale import pct, ward  # noqa: E402 — the same generated ward names as the store benchmark
from benchmarks.store_scale import rss_mb as _rss  # noqa: E402


def rss_mb() -> float:
    return _rss()[0]


def synthetic_index(n_units: int, seed: int = 0):
    """An Index of about ``n_units`` units: the project's index copied into generated wards."""
    from assistant.search.index import load_index
    from assistant.settings import Settings

    base = load_index(Settings())
    return replicate(base, max(1, round(n_units / len(base.units))), seed)


def replicate(base, copies: int, seed: int = 0):
    """``base`` (an Index) copied into ``copies`` wards; copy 0 is ``base`` itself (see the module doc)."""
    import faiss

    from assistant.answer.compose import unit_term_sets
    from assistant.answer.termsets import TermSets, Vocab
    from assistant.search.dense import Dense
    from assistant.search.embedded_store import dense_vectors
    from assistant.search.index import Index, _link_tasks, unit_text
    from assistant.search.lexical import Lexical
    from assistant.search.rescore import rescore_term_sets
    from assistant.text.segment import tokens

    per_copy = len(base.units)
    base_tokens = [tokens(unit_text(u)) for u in base.units]
    base_vecs = dense_vectors(base.dense)
    rng = np.random.default_rng(seed)
    docs, units, tasks, legal, toks = {}, [], [], [], []
    vecs = np.empty((copies * per_copy, base_vecs.shape[1]), dtype=np.float32)
    for j in range(copies):
        suffix, name = ("", "") if j == 0 else (f"-w{j}", ward(j))
        ids = {d: d + suffix for d in base.docs}
        for d in base.docs.values():
            docs[ids[d.doc_id]] = d if j == 0 else dataclasses.replace(
                d, doc_id=ids[d.doc_id], locality=name, issuer=f"UBND phường {name}",
                title=d.title.replace(d.locality, name) if d.locality else f"{d.title} ({name})")
        extra = tokens(f"phường {name}") if j else []
        units += [dataclasses.replace(u, chunk_id=u.chunk_id + suffix, doc_id=ids[u.doc_id]) for u in base.units]
        tasks += [dataclasses.replace(t, task_id=t.task_id + suffix, doc_id=ids[t.doc_id]) for t in base.tasks]
        legal += [dataclasses.replace(r, ref_id=r.ref_id + suffix, doc_id=ids[r.doc_id]) for r in base.legal]
        toks += [t + extra for t in base_tokens]
        block = base_vecs + rng.standard_normal(base_vecs.shape, dtype=np.float32) * (0.05 if j else 0.0)
        vecs[j * per_copy : (j + 1) * per_copy] = block / np.linalg.norm(block, axis=1, keepdims=True)
    meta = {**base.meta, "synthetic_copies": copies}
    faiss.omp_set_num_threads(2)  # an HNSW build (≥ HNSW_FROM units) on both cores; queries go back to one
    dense = Dense.build(vecs)
    faiss.omp_set_num_threads(1)
    index = Index(meta, docs, units, tasks, legal, Lexical.build(toks), dense, _link_tasks(units, tasks))
    # the per-unit term sets of a copy are the seed's: tile them instead of recomputing them for every copy
    t = time.perf_counter()
    unit_term_sets(base), rescore_term_sets(base)
    meta["term_ms_per_unit"] = (time.perf_counter() - t) * 1000 / len(base.units)
    index.__dict__["_derived"] = {k: v.tile(copies) if isinstance(v, TermSets) else v
                                  for k, v in base.__dict__["_derived"].items() if isinstance(v, TermSets | Vocab)}
    return index


def run_one(n: int, http: bool, store: str = "embedded") -> dict:
    import tempfile

    from assistant import Assistant
    from assistant.search.lazy import lazy_default_embedder
    from assistant.settings import Settings

    settings = Settings()
    if store == "milvus":  # milvus-lite in a temporary directory, filled from the index at start-up (sync)
        settings = settings.model_copy(update={"store": "milvus",
                                               "milvus_uri": str(Path(tempfile.mkdtemp(prefix="ask-scale-")) / "m.db")})
    t = time.perf_counter()
    index = synthetic_index(n)
    build_s = time.perf_counter() - t
    rss_index = rss_mb()
    t = time.perf_counter()
    embedder = lazy_default_embedder(settings.cache_dir / "models")  # torch loads only to embed passages
    assistant = Assistant(settings=settings, embedder=embedder, index=index)
    assistant.answerer  # noqa: B018 — Retriever + Answerer set-up happens here
    load_s = time.perf_counter() - t
    questions = [json.loads(x)["question"] for x in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines()]
    for q in questions[:5]:
        assistant.ask(q)
    lat = []
    for q in questions:
        t = time.perf_counter()
        assistant.ask(q)
        lat.append((time.perf_counter() - t) * 1000)
    res = {"store": store, "units": len(index.units), "documents": len(index.docs), "build_s": round(build_s, 1),
           "terms_s": round(index.meta["term_ms_per_unit"] * len(index.units) / 1000, 1),
           "load_s": round(load_s, 1), "rss_index_mb": round(rss_index), "rss_mb": round(rss_mb()),
           "ask_ms": [round(statistics.median(lat), 1), round(pct(lat, 95), 1), round(max(lat), 1)]}
    if http:
        from fastapi.testclient import TestClient

        from assistant.serve.api import create_app

        r = assistant.retriever  # the same questions again: forget what the first pass memoised
        r._bm25_leg.cache_clear(), r._query_vector.cache_clear()
        with TestClient(create_app(assistant, with_ui=False)) as client:
            lat = []
            for q in questions:
                t = time.perf_counter()
                client.post("/api/ask", json={"question": q}).raise_for_status()
                lat.append((time.perf_counter() - t) * 1000)
        res["http_ask_ms"] = [round(statistics.median(lat), 1), round(pct(lat, 95), 1), round(max(lat), 1)]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, action="append", help="corpus size in units (repeatable)")
    ap.add_argument("--http", action="store_true", help="also /api/ask through the app (in-process ASGI client)")
    ap.add_argument("--store", choices=("embedded", "milvus"), default="embedded",
                    help="milvus = milvus-lite in a temporary directory (load includes filling it)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.http, args.store)))
        return
    print("SYNTHETIC corpora (the seed plans copied into generated wards; see --help)\n")
    print(f"store: {args.store}")
    print(f"{'units':>9} {'docs':>6} {'build s':>8} {'terms s':>8} {'load s':>7} {'RSS MB':>7}  "
          f"{'ask p50/p95/max ms':>20}  http")
    for n in args.units or [10_000, 100_000]:
        cmd = [sys.executable, __file__, "--one", str(n), "--store", args.store] + (["--http"] if args.http else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{n}: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        http = "/".join(map(str, r.get("http_ask_ms", []))) or "-"
        print(f"{r['units']:>9} {r['documents']:>6} {r['build_s']:>8} {r['terms_s']:>8} {r['load_s']:>7} {r['rss_mb']:>7}  "
              f"{'/'.join(map(str, r['ask_ms'])):>20}  {http}")
    print("\nin-process Assistant.ask, one question at a time, 318 evaluation questions; RSS after the run. "
          "'terms s' = extracting every unit's term sets (measured on the seed per unit, times the units): an index\n"
          "build pays it and stores them (terms.npz), start-up reads them; the synthetic copies tile the seed's.")


if __name__ == "__main__":
    main()
