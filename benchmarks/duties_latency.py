"""Latency of the duty sheets (/api/duties in JSON, CSV and iCalendar) and of list questions on /api/ask.

    .venv/bin/python benchmarks/duties_latency.py [--calls 200]

In-process (FastAPI TestClient over the real index); prints p50/p95/max per endpoint.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

AGENCIES = ["Công an phường", "Phòng Kinh tế, Hạ tầng và Đô thị", "Trung tâm Phục vụ hành chính công",
            "Văn phòng HĐND và UBND phường", "Phòng Văn hóa – Xã hội", "phong van hoa xa hoi"]
VARIANTS = [{}, {"role": "partner"}, {"role": "monitor"}, {"from": "2025-07-01", "to": "2025-09-30"},
            {"from": "2026-01-01", "to": "2026-12-31"}, {"format": "csv"}, {"format": "ics"}]
LIST_QUESTIONS = [
    "Công an phường chủ trì những nhiệm vụ nào?",
    "Phòng Kinh tế, Hạ tầng và Đô thị chủ trì những nhiệm vụ gì?",
    "Trung tâm Phục vụ hành chính công phối hợp những nhiệm vụ nào?",
    "Những nhiệm vụ nào phải hoàn thành trong quý III/2025?",
    "Văn phòng HĐND và UBND phường theo dõi, đôn đốc những nhiệm vụ nào?",
    "Phòng Văn hóa - Xã hội chủ trì bao nhiêu nhiệm vụ?",
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name: str, ms: list[float]) -> str:
    return (f"{name:<28} n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p95 {pct(ms, 95):6.1f} ms  "
            f"max {max(ms):6.1f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args(argv)
    from fastapi.testclient import TestClient

    from assistant import load
    from assistant.serve.api import create_app

    client = TestClient(create_app(load(), with_ui=False))
    by_format: dict[str, list[float]] = {"json": [], "csv": [], "ics": []}
    duties: list[float] = []
    client.get("/api/duties", params={"agency": AGENCIES[0]})  # warm-up: registry and milestone caches
    for agency, extra in itertools.islice(itertools.cycle(itertools.product(AGENCIES, VARIANTS)), args.calls):
        t = time.perf_counter()
        r = client.get("/api/duties", params={"agency": agency, **extra})
        ms = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, r.text
        duties.append(ms)
        by_format[extra.get("format", "json")].append(ms)
    asks: list[float] = []
    for q in LIST_QUESTIONS:  # warm-up
        client.post("/api/ask", json={"question": q})
    for q in itertools.islice(itertools.cycle(LIST_QUESTIONS), args.calls):
        t = time.perf_counter()
        r = client.post("/api/ask", json={"question": q})
        asks.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    print(line("GET /api/duties (all)", duties))
    for fmt, ms in by_format.items():
        if ms:
            print(line(f"GET /api/duties format={fmt}", ms))
    print(line("POST /api/ask (list qs)", asks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
