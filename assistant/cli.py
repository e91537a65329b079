"""Command line: ``python -m assistant <command>`` (also the ``assistant`` console script)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict


def _progress(stage: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    end = "\n" if done >= total else ""
    print(f"\r{stage:>6} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def cmd_index(args: argparse.Namespace) -> int:
    import json as _json

    from .admin import rebuild
    from .settings import get_settings

    # one build at a time (--no-wait: fail at once if another runs); clears killed builds' leftovers
    build = rebuild(get_settings(), progress=_progress, wait=not args.no_wait)
    meta = _json.loads((build / "meta.json").read_text(encoding="utf-8"))
    c = meta["counts"]
    print(f"Index built in {meta['build_seconds']} s → {build}\n  {c['documents']} documents, {c['units']} units, "
          f"{c['tasks']} tasks, {c['legal_refs']} legal references; model {meta['model_id']}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .corpus import load_corpus
    from .ingest import ingest
    from .search.records import dump
    from .settings import get_settings

    parsed = [ingest(d) for d in load_corpus(get_settings().corpus_dir)]
    if args.json:
        out = {p.doc.doc_id: {"chunks": [dump(c) for c in p.chunks], "tasks": [dump(t) for t in p.tasks],
                              "legal_refs": [dump(r) for r in p.legal_refs]} for p in parsed}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    _print_counts(parsed)
    _print_conflicts()
    return 0


def _print_counts(parsed: list) -> None:
    for p in parsed:
        body = sum(t.source == "body" for t in p.tasks)
        print(f"{p.doc.doc_id}: {p.doc.title}\n  sections {len(p.sections)}, chunks {len(p.chunks)}, "
              f"tasks {body} (body) + {len(p.tasks) - body} (appendix rows), legal references {len(p.legal_refs)} "
              f"({len({r.canonical for r in p.legal_refs})} distinct acts)")


def _print_conflicts() -> None:
    """Targets stated with two different values in one document (e.g. objectives 98 %, appendix 90 %)."""
    from .answer.figures import Figures
    from .errors import IndexStateError
    from .search.index import load_index
    from .settings import get_settings
    from .text.spans import quote

    try:
        index = load_index(get_settings())
    except IndexStateError as exc:
        print(f"(conflicts not listed: {exc})")
        return
    pairs = Figures(index).all_conflicts()
    print(f"conflicting figures: {len(pairs)}")
    for a, b in pairs:
        text = index.docs[a.doc_id].text
        print(f"  {a.doc_id}: {a.locator} says {a.value} — {b.locator} says {b.value}\n"
              f"    «{quote(text, a.sentence)}»\n    «{quote(text, b.sentence)}»")


def cmd_ask(args: argparse.Namespace) -> int:
    from . import load

    answer = load().ask(" ".join(args.question))
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False, indent=1))
        return 0
    print(answer.answer)
    for n, c in enumerate(answer.citations, 1):
        print(f"\n[{n}] {c.title} — {c.locator}\n    «{c.quote}»")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import uvicorn

    from . import load
    from .serve.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    print("Loading the index (built first if missing or stale)…", file=sys.stderr)
    app = create_app(load())
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_add_document(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .admin import add_document
    from .settings import get_settings

    meta = {k: getattr(args, k) for k in ("doc_id", "title", "issuer", "locality", "period", "kind", "province")}
    entry = add_document(get_settings(), Path(args.file), meta)
    print(f"Added {entry['doc_id']} → corpus/{entry['file']} (sha256 {entry['sha256'][:12]}…). "
          "Rebuild the index: python -m assistant index")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from .serve.feedback import FeedbackStore
    from .settings import get_settings

    store = FeedbackStore(get_settings().feedback_db)
    if args.action == "backup":
        print(f"Backed up {store.count()} ratings → {store.backup(args.out)}", file=sys.stderr)
        return 0
    n = store.export_csv(args.out)
    print(f"Exported {n} ratings" + (f" → {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.run import main as eval_main

    return eval_main(args.rest)


def cmd_duties(args: argparse.Namespace) -> int:
    from .serve.duties import run_cli

    return run_cli(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assistant", description="Trợ lý hỏi đáp kế hoạch cải cách hành chính.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="build the index if needed, then serve the API and the UI (/ui)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("index", help="(re)build the index from corpus/ and swap it in atomically")
    p.add_argument("--no-wait", action="store_true", help="fail at once if another build is running")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ingest", help="parse the corpus and print what was found")
    p.add_argument("--report", action="store_true", help="counts per document (the default)")
    p.add_argument("--json", action="store_true", help="dump all records as JSON")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("ask", help="ask one question and print the answer with its citations")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("add-document", help="add a .txt/.docx/.pdf to corpus/ and manifest.toml (then: index)")
    p.add_argument("file")
    for name in ("doc-id", "title", "issuer", "locality", "period"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--kind", default="plan", choices=("plan", "legal", "procedure"))
    p.add_argument("--province", default="")
    p.set_defaults(func=cmd_add_document)
    p = sub.add_parser("feedback", help="export the answer ratings as CSV (UTF-8 with BOM), or back them up")
    p.add_argument("action", choices=("export", "backup"))
    p.add_argument("--out", help="export: CSV file (default: stdout); backup: SQLite file (required)")
    p.set_defaults(func=cmd_feedback)
    p = sub.add_parser("eval", help="run the evaluation set (arguments are passed to evals/run.py)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("duties", help="an agency's tasks and deadlines (table, --json, --csv FILE, --ics FILE)")
    p.add_argument("agency", nargs="+")
    p.add_argument("--role", default="lead", choices=("lead", "partner", "monitor", "any"))
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    p.add_argument("--doc-id", dest="doc_id")
    p.add_argument("--locality", help="one ward's tasks (default ASSISTANT_HOME_LOCALITY; '*' for every ward)")
    p.add_argument("--include-undated", action="store_true", help="with a window: add conditional/ongoing tasks")
    p.add_argument("--csv", metavar="FILE")
    p.add_argument("--ics", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_duties)
    args = parser.parse_args(argv)
    if args.func is cmd_feedback and args.action == "backup" and not args.out:
        parser.error("feedback backup needs --out FILE")
    from pydantic import ValidationError

    from .errors import AssistantError

    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings from ASSISTANT_* variables
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
