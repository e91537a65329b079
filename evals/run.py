"""Run the question set against the assistant and write evals/report.json + report.md.

    python -m evals.run [--url http://127.0.0.1:8000] [--set evals/qa.jsonl] [--out evals/report.json]
                        [--quick] [--gate]

In-process by default (``assistant.load()``); ``--url`` talks to a running service instead. ``--quick`` runs
only the answers (the CI gate); otherwise retrieval per mode (bm25 / dense / hybrid) and the LangChain
baseline run too. ``--gate`` exits 1 when a threshold (printed, see ``evals.report``) is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python evals/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.clients import ROOT, Client, HTTPClient, InProcessClient  # noqa: E402
from evals.report import (  # noqa: E402
    MIN_ABSTAIN_PRECISION,
    MIN_ABSTAIN_RECALL,
    MIN_ANSWER_ACCURACY,
    MIN_CITATION_SUPPORT,
    MIN_VERBATIM_RATE,
    MODES,
    build_report,
    render_md,
    render_text,
)
from evals.scoring import score_item  # noqa: E402

__all__ = ["MIN_ABSTAIN_PRECISION", "MIN_ABSTAIN_RECALL", "MIN_ANSWER_ACCURACY", "MIN_CITATION_SUPPORT",
           "MIN_VERBATIM_RATE", "main", "run_answers", "run_retrieval", "load_set"]

DEFAULT_SET = ROOT / "evals" / "qa.jsonl"
DEFAULT_OUT = ROOT / "evals" / "report.json"
SEARCH_K = 10


def load_set(path: Path) -> list[dict[str, Any]]:
    """The question set, one JSON object per non-blank line (errors name the line)."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not valid JSON ({exc})") from exc
    return items


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def run_answers(client: Client, items: list[dict[str, Any]], progress: Callable[[int, int], None] | None = None
                ) -> list[dict[str, Any]]:
    rows = []
    for n, item in enumerate(items, start=1):
        start = time.perf_counter()
        resp: dict[str, Any] | None = None
        error = None
        try:
            resp = client.ask(str(item["question"]))
        except Exception as exc:  # an erroring item is a failure, not a crash
            error = _err(exc)
        latency = (time.perf_counter() - start) * 1000
        quote_ok: list[bool] = []
        for c in (resp or {}).get("citations", []):
            try:
                quote_ok.append(bool(client.check_quote(c)))
            except Exception:
                quote_ok.append(False)
        rows.append(score_item(item, resp, latency, error, quote_ok))
        if progress:
            progress(n, len(items))
    return rows


def run_retrieval(client: Client, items: list[dict[str, Any]], modes: tuple[str, ...] = MODES,
                  top_k: int = SEARCH_K) -> list[dict[str, Any]]:
    """Rank of the gold evidence in each mode's hits, for answerable items that have evidence."""
    from evals.metrics import evidence_rank

    rows = []
    for item in items:
        if not item.get("answerable", True) or not item.get("evidence"):
            continue
        ranks: dict[str, int | None] = {}
        errors: dict[str, str] = {}
        for mode in modes:
            try:
                texts = client.search(str(item["question"]), top_k, mode)
            except Exception as exc:
                texts, errors[mode] = [], _err(exc)
            ranks[mode] = evidence_rank(texts, item["evidence"])
        rows.append({"id": item.get("id"), "kind": item.get("kind"), "no_diacritics": bool(item.get("no_diacritics")),
                     "ranks": ranks, "errors": errors})
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="evals.run", description="Evaluate the assistant on the question set.")
    p.add_argument("--url", help="base URL of a running service (default: in-process assistant.load())")
    p.add_argument("--set", dest="qa_set", type=Path, default=DEFAULT_SET, help="question set (JSONL)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report.json path (report.md is written beside it)")
    p.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the assistant's / ./corpus)")
    p.add_argument("--quick", action="store_true", help="answers only: no retrieval modes, no baseline")
    p.add_argument("--gate", action="store_true", help="exit 1 when a threshold is missed")
    return p.parse_args(argv)


def make_client(args: argparse.Namespace, assistant: Any = None) -> Client:
    if args.url:
        return HTTPClient(args.url, args.corpus or ROOT / "corpus")
    if assistant is None:
        from assistant import load

        assistant = load()
    client = InProcessClient(assistant)
    if args.corpus:
        client.corpus_dir = args.corpus
    return client


def _progress(label: str) -> Callable[[int, int], None]:
    def show(n: int, total: int) -> None:
        if n == total or n % 10 == 0:
            print(f"  {label}: {n}/{total}", file=sys.stderr, flush=True)
    return show


def evaluate(args: argparse.Namespace, client: Client) -> dict[str, Any]:
    items = load_set(args.qa_set)
    t0 = time.perf_counter()
    print(f"answers: {len(items)} questions via {client.name}", file=sys.stderr)
    answer_rows = run_answers(client, items, _progress("answers"))
    retrieval_rows = baseline = None
    notes: list[str] = []
    if not args.quick:
        print("retrieval: " + ", ".join(MODES), file=sys.stderr)
        retrieval_rows = run_retrieval(client, items)
        if client.embedder is None:
            notes.append("LangChain baseline skipped: it needs the assistant's embedder (in-process mode).")
        else:
            from evals.baseline import run_baseline

            print("LangChain baseline", file=sys.stderr)
            try:
                baseline = run_baseline(items, client.sources(), client.embedder)
            except Exception as exc:
                notes.append(f"LangChain baseline failed: {_err(exc)}")
    meta = {"set": str(args.qa_set), "client": client.name if not args.url else f"http {args.url}",
            "quick": bool(args.quick), "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - t0, 1), "notes": notes}
    return build_report(answer_rows, retrieval_rows, baseline, meta)


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = out.with_suffix(".md")
    md.write_text(render_md(report), encoding="utf-8")
    return md


def main(argv: list[str] | None = None, assistant: Any = None) -> int:
    args = parse_args(argv)
    if not args.qa_set.is_file():
        print(f"{args.qa_set}: question set not found", file=sys.stderr)
        return 2
    report = evaluate(args, make_client(args, assistant))
    md = write_report(report, args.out)
    print(render_text(report))
    for note in report["meta"]["notes"]:
        print("note: " + note)
    print(f"wrote {args.out} and {md}")
    return 1 if args.gate and not report["gate"]["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
