"""Load test of the real HTTP server: concurrent clients asking the evaluation questions.

    .venv/bin/python benchmarks/load.py [--workers 1] [--seconds 60] [--concurrency 32] [--no-ui]
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000      # a server already running (loopback only)

Without ``--url`` it starts uvicorn in a subprocess on 127.0.0.1 and a free port (``--workers`` processes,
each loading the index built by ``python -m assistant index``; rate limiting off), waits for /api/health,
then runs ``--concurrency`` httpx async clients for ``--seconds`` over the questions of evals/qa.jsonl and
prints: requests, errors, throughput (answers/s), p50/p95/p99 latency, server RSS (peak, all processes) and
the server's CPU use. The load average is printed too: other work on the machine skews the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 600


def make_app():
    """uvicorn factory (``benchmarks.load:make_app``): what ``python -m assistant serve`` serves, index prebuilt."""
    from assistant import load
    from assistant.serve.api import create_app

    return create_app(load(build_if_missing=False), with_ui=os.environ.get("LOAD_UI", "1") == "1")


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_and_cpu(pid: int) -> tuple[int, int, float]:
    """Resident memory (bytes: all, and anonymous only — without mapped model files) and CPU seconds
    (user+system) of ``pid`` and its descendants."""
    rss, anon, cpu, tick = 0, 0, 0.0, os.sysconf("SC_CLK_TCK")
    for p in process_tree(pid):
        try:
            fields_kb = {k: int(v.split()[0]) * 1024 for k, _, v in
                         (line.partition(":") for line in Path(f"/proc/{p}/status").read_text().splitlines())
                         if k in ("VmRSS", "RssAnon")}
            rss, anon = rss + fields_kb.get("VmRSS", 0), anon + fields_kb.get("RssAnon", 0)
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError):
            continue
    return rss, anon, cpu


def start_server(workers: int, ui: bool, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0", "LOAD_UI": "1" if ui else "0"}
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.load:make_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode}")
            try:
                if (await client.get(f"{url}/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the server did not answer /api/health within {timeout:.0f} s")


def settle(pid: int, idle_cores: float = 0.3, timeout: float = 180) -> None:
    """Wait until the server's processes are nearly idle (every worker has finished loading)."""
    deadline = time.monotonic() + timeout
    last = memory_and_cpu(pid)[2]
    while time.monotonic() < deadline:
        time.sleep(1)
        now = memory_and_cpu(pid)[2]
        if now - last < idle_cores:
            return
        last = now


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def run_load(url: str, questions: list[str], seconds: float, concurrency: int,
                   proc: subprocess.Popen | None) -> dict:
    server_pid = proc.pid if proc else None
    cycle = itertools.cycle(questions)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    peak = [0, 0]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(client.post("/api/ask", json={"question": next(cycle)}) for _ in range(concurrency)))  # warm-up
        cpu0 = memory_and_cpu(server_pid)[2] if server_pid else 0.0
        started, client_cpu0 = time.perf_counter(), time.process_time()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline and not (proc and proc.poll() is not None):
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/ask", json={"question": next(cycle)})
                    if r.status_code == 200:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors[f"HTTP {r.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1

        async def sample_rss() -> None:
            while server_pid and time.perf_counter() < deadline:
                rss, anon, _ = memory_and_cpu(server_pid)
                peak[:] = max(peak[0], rss), max(peak[1], anon)
                await asyncio.sleep(1)

        await asyncio.gather(sample_rss(), *(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu0
        cpu = (memory_and_cpu(server_pid)[2] - cpu0) if server_pid else float("nan")
    return {"requests": len(latencies) + sum(errors.values()), "answers": len(latencies),
            "errors": sum(errors.values()), "error_kinds": dict(errors), "seconds": round(elapsed, 1),
            "answers_per_s": round(len(latencies) / elapsed, 2),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "server_rss_mb": round(peak[0] / 2**20) if server_pid else None,
            "server_anon_mb": round(peak[1] / 2**20) if server_pid else None,
            "server_cpu_cores": round(cpu / elapsed, 2) if server_pid else None,
            "client_cpu_cores": round(client_cpu / elapsed, 2)}


def measure(args: argparse.Namespace, questions: list[str], log) -> dict:
    proc, url = None, args.url.rstrip("/") if args.url else ""
    try:
        if not args.url:
            proc, url = start_server(args.workers, not args.no_ui, log)
        t0 = time.perf_counter()
        asyncio.run(wait_ready(url, proc, timeout=300 if proc else 10))
        if proc is not None:
            settle(proc.pid)  # the first worker answers /api/health while the others may still be loading
        ready = time.perf_counter() - t0
        result = asyncio.run(run_load(url, questions, args.seconds, args.concurrency, proc))
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} during the run: {result}")
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
    return {**result, "url": url, "startup_s": None if args.url else round(ready, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (loopback addresses only)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (own server only)")
    parser.add_argument("--seconds", type=float, default=60, help=f"duration, 1..{MAX_SECONDS}")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-ui", action="store_true", help="serve the API only (no Gradio UI mounted)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= MAX_SECONDS or not 1 <= args.concurrency <= 256 or not 1 <= args.workers <= 16:
        parser.error(f"--seconds must be 1..{MAX_SECONDS}, --concurrency 1..256, --workers 1..16")
    if args.url and not is_loopback(args.url):
        parser.error(f"refusing to load-test {args.url}: only loopback addresses (127.0.0.0/8, ::1, localhost)")
    questions = [json.loads(line)["question"] for line in (ROOT / "evals" / "qa.jsonl").read_text("utf-8").splitlines()
                 if line.strip()]
    load_before = os.getloadavg()
    with tempfile.TemporaryFile() as log:
        try:
            result = measure(args, questions, log)
        except RuntimeError as exc:
            log.seek(0)
            print(f"error: {exc}\n{log.read().decode(errors='replace')[-3000:]}", file=sys.stderr)
            return 1
    url = result.pop("url")
    result.update(workers=None if args.url else args.workers, concurrency=args.concurrency,
                  cpus=os.cpu_count(),
                  loadavg_before=round(load_before[0], 2), loadavg_after=round(os.getloadavg()[0], 2))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"server      {url}  workers={result['workers']}  ui={not args.no_ui}  ready in {result['startup_s']} s")
    print(f"load        {args.concurrency} clients × {result['seconds']} s over {len(questions)} questions "
          f"(machine: {result['cpus']} CPUs, load average {result['loadavg_before']} → {result['loadavg_after']})")
    print(f"requests    {result['requests']}   errors {result['errors']} {result['error_kinds'] or ''}")
    print(f"throughput  {result['answers_per_s']} answers/s")
    print(f"latency     p50 {result['p50_ms']} ms   p95 {result['p95_ms']} ms   p99 {result['p99_ms']} ms")
    print(f"server      peak RSS {result['server_rss_mb']} MB, of which anonymous {result['server_anon_mb']} MB "
          f"(all processes); CPU {result['server_cpu_cores']} cores "
          f"(this load generator: {result['client_cpu_cores']} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
