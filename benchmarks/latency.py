"""Query latency of /api/ask and /api/search, in-process and over HTTP, plus serving RSS.

    .venv/bin/python benchmarks/latency.py [--rounds 2]

Prints p50/p95/max over the questions of evals/qa.jsonl. Over HTTP it starts the real server
(`python -m assistant serve`) on a free loopback port and asks one question at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name: str, ms: list[float]) -> str:
    return f"{name:<34} n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p95 {pct(ms, 95):6.1f} ms  max {max(ms):6.1f} ms"


def questions() -> list[str]:
    return [json.loads(x)["question"] for x in (ROOT / "evals" / "qa.jsonl").read_text(encoding="utf-8").splitlines()]


def in_process(rounds: int) -> None:
    from assistant import load

    a = load()
    qs = questions()
    for q in qs[:10]:
        a.ask(q)
    a.retriever._query_vector.cache_clear()
    first, repeat, search = [], [], []
    for r in range(rounds):
        for q in qs:
            t = time.perf_counter()
            a.ask(q)
            (first if r == 0 else repeat).append((time.perf_counter() - t) * 1000)
    a.retriever._query_vector.cache_clear()  # hybrid search embeds every question (the answer path rarely does)
    for q in qs:
        t = time.perf_counter()
        a.search(q, top_k=10)
        search.append((time.perf_counter() - t) * 1000)
    print(line("in-process ask (first time)", first))
    if repeat:
        print(line("in-process ask (repeated question)", repeat))
    print(line("in-process hybrid search top10", search))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return float("nan")


def over_http() -> None:
    import httpx

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit("server did not start")
        with httpx.Client(base_url=url, timeout=30) as client:
            ms = []
            for q in questions():
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": q})
                ms.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
        print(line("HTTP /api/ask (sequential)", ms))
        print(f"serving RSS after the run: {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    in_process(args.rounds)
    if not args.no_http:
        over_http()


if __name__ == "__main__":
    main()
