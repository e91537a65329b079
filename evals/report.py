"""Aggregate per-item rows into the report, check the gate, render Markdown and the console summary (pure)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from .metrics import abstention_pr, mean, mrr, percentile, recall_at

# CI gate (``--gate``): answer metrics on answerable items, verbatim over every quote, abstention P/R.
MIN_ANSWER_ACCURACY = 0.90
MIN_CITATION_SUPPORT = 0.85
MIN_VERBATIM_RATE = 1.0
MIN_ABSTAIN_PRECISION = 0.90
MIN_ABSTAIN_RECALL = 0.90
MODES = ("bm25", "dense", "hybrid", "reranked")
MD_FAILURES = 40


def _acc(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    answerable = [r for r in rows if r["answerable"]]
    return {"n": len(rows), "accuracy": mean(1.0 if r["correct"] else 0.0 for r in rows),
            "n_answerable": len(answerable), "accuracy_answerable": mean(1.0 if r["correct"] else 0.0 for r in answerable)}


def _group(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {k: _acc(v) for k, v in sorted(groups.items())}


def reason_category(reason: str) -> str:
    return re.sub(r"\s*\(.*\)$|:.*$", "", reason).strip()


def summarize_answers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    cited = [r for r in answerable if r["citation_supported"] is not None]
    listed = [r for r in rows if r["set_recall"] is not None and r["kind"] in ("list", "count")]
    counted = [r for r in rows if r["expected_count"] is not None and r["answerable"]]
    n_quotes = sum(r["n_quotes"] for r in rows)
    n_verbatim = sum(r["n_verbatim"] for r in rows)
    ok_rows = [r for r in rows if r["error"] is None]
    precision, recall = abstention_pr((not r["answerable"], r["abstained"]) for r in ok_rows)
    latencies = [r["latency_ms"] for r in rows]
    failed = [r for r in rows if not r["correct"]]
    return {
        "n": len(rows),
        "n_answerable": len(answerable),
        "n_unanswerable": len(rows) - len(answerable),
        "n_errors": sum(1 for r in rows if r["error"] is not None),
        "accuracy": _acc(rows)["accuracy"],
        "accuracy_answerable": _acc(answerable)["accuracy"],
        "per_kind": _group(rows, lambda r: r["kind"]),
        "no_diacritics": _acc(r for r in rows if r["no_diacritics"]),
        "with_diacritics": _acc(r for r in rows if not r["no_diacritics"]),
        "per_doc": _group(rows, lambda r: r["doc_id"] or "(none)"),
        "citation_support": {"n": len(cited), "rate": mean(1.0 if r["citation_supported"] else 0.0 for r in cited)},
        "verbatim": {"n_quotes": n_quotes, "n_verbatim": n_verbatim, "rate": n_verbatim / n_quotes if n_quotes else 1.0},
        "abstention": {"precision": precision, "recall": recall},
        "lists": {
            "n": len(listed),
            "precision": mean(r["set_precision"] for r in listed),
            "recall": mean(r["set_recall"] for r in listed),
        },
        "count": _acc(counted),
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "mean": mean(latencies)},
        "failure_reasons": dict(Counter(reason_category(x) for r in rows for x in r["reasons"]).most_common()),
        "failed_kind_routing": dict(Counter(f"{r['kind']}→{r['got_kind'] or '?'}" for r in failed).most_common()),
    }


def _ranks_summary(ranks: list[int | None]) -> dict[str, Any]:
    return {"n": len(ranks), "recall@1": recall_at(ranks, 1), "recall@5": recall_at(ranks, 5),
            "recall@10": recall_at(ranks, 10), "mrr": mrr(ranks)}


def summarize_retrieval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: overall, no-diacritic and with-diacritic subsets. Rows: {"ranks": {mode: rank|None}, ...}."""
    out: dict[str, Any] = {}
    for mode in MODES:
        have = [r for r in rows if mode in r["ranks"]]
        if not have:
            continue
        out[mode] = {
            "overall": _ranks_summary([r["ranks"][mode] for r in have]),
            "no_diacritics": _ranks_summary([r["ranks"][mode] for r in have if r["no_diacritics"]]),
            "with_diacritics": _ranks_summary([r["ranks"][mode] for r in have if not r["no_diacritics"]]),
        }
    return out


def check_gate(answers: dict[str, Any]) -> dict[str, Any]:
    checks = [
        ("answer accuracy (answerable)", answers["accuracy_answerable"], MIN_ANSWER_ACCURACY),
        ("citation support (answerable)", answers["citation_support"]["rate"], MIN_CITATION_SUPPORT),
        ("verbatim rate (every quote)", answers["verbatim"]["rate"], MIN_VERBATIM_RATE),
        ("abstention precision", answers["abstention"]["precision"], MIN_ABSTAIN_PRECISION),
        ("abstention recall", answers["abstention"]["recall"], MIN_ABSTAIN_RECALL),
    ]
    rows = [{"name": n, "value": v, "min": m, "passed": v >= m - 1e-9} for n, v, m in checks]
    return {"passed": all(r["passed"] for r in rows), "checks": rows}


def failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with any problem: wrong answers first, then right answers with citation/verbatim problems."""
    bad = [r for r in rows if r["reasons"]]
    return sorted(bad, key=lambda r: r["correct"])


def build_report(
    answer_rows: list[dict[str, Any]],
    retrieval_rows: list[dict[str, Any]] | None = None,
    baseline: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answers = summarize_answers(answer_rows)
    report: dict[str, Any] = {
        "meta": meta or {},
        "thresholds": {"answer_accuracy": MIN_ANSWER_ACCURACY, "citation_support": MIN_CITATION_SUPPORT,
                       "verbatim_rate": MIN_VERBATIM_RATE, "abstain_precision": MIN_ABSTAIN_PRECISION,
                       "abstain_recall": MIN_ABSTAIN_RECALL},
        "answers": answers,
        "gate": check_gate(answers),
        "retrieval": summarize_retrieval(retrieval_rows) if retrieval_rows is not None else None,
        "baseline": baseline["summary"] if baseline else None,
        "failures": [r["id"] for r in failures(answer_rows)],
        "items": answer_rows,
        "retrieval_items": retrieval_rows or [],
        "baseline_items": baseline["items"] if baseline else [],
    }
    return report


def _p(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _cell(s: Any, n: int = 120) -> str:
    text = " ".join(str(s).split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def comparison_rows(report: dict[str, Any]) -> list[list[str]]:
    """[system, recall@1, recall@5, recall@10, MRR, no-diacritic recall@5] for the retrieval comparison."""
    out = []
    for mode, s in (report.get("retrieval") or {}).items():
        o, nd = s["overall"], s["no_diacritics"]
        out.append([mode, _p(o["recall@1"]), _p(o["recall@5"]), _p(o["recall@10"]), f"{o['mrr']:.3f}",
                    _p(nd["recall@5"]) if nd["n"] else "–"])
    b = report.get("baseline")
    if b:
        out.append([f"LangChain baseline (top-{b['top_k']})", _p(b["recall@1"]), _p(b["recall@5"]), "–",
                    f"{b['mrr']:.3f}", _p(b["no_diacritics"]["recall@5"]) if b["no_diacritics"]["n"] else "–"])
    return out


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def render_md(report: dict[str, Any]) -> str:
    a, meta = report["answers"], report["meta"]
    lines = [f"# Evaluation report — {meta.get('set', '')}", "",
             f"{meta.get('client', '')} · {a['n']} questions ({a['n_answerable']} answerable, "
             f"{a['n_unanswerable']} unanswerable, {a['n_errors']} errors) · {meta.get('timestamp', '')}", ""]
    gate = report["gate"]
    lines += ["## Gate: " + ("PASSED" if gate["passed"] else "FAILED"), ""]
    lines += _table(["check", "value", "minimum", ""],
                    [[c["name"], _p(c["value"]), _p(c["min"]), "ok" if c["passed"] else "**FAIL**"] for c in gate["checks"]])
    if report.get("retrieval") or report.get("baseline"):
        lines += ["", "## Retrieval: gold evidence in the hits (answerable items)", ""]
        lines += _table(["system", "recall@1", "recall@5", "recall@10", "MRR", "no-diacritic recall@5"],
                        comparison_rows(report))
        b = report.get("baseline")
        if b:
            lines += ["", f"Answer accuracy, top chunk as the answer: LangChain baseline {_p(b['accuracy_answerable'])} "
                      f"on answerable items ({_p(b['accuracy_overall'])} overall; it never abstains) vs the assistant "
                      f"{_p(a['accuracy_answerable'])} ({_p(a['accuracy'])} overall). Baseline: {b['n_chunks']} chunks "
                      f"of {b['chunk_size']}/{b['chunk_overlap']}."]
    lines += ["", "## Answers", "",
              f"Accuracy {_p(a['accuracy'])} overall, {_p(a['accuracy_answerable'])} on answerable items · citation "
              f"support {_p(a['citation_support']['rate'])} (n={a['citation_support']['n']}) · verbatim "
              f"{a['verbatim']['n_verbatim']}/{a['verbatim']['n_quotes']} quotes · abstention P/R "
              f"{_p(a['abstention']['precision'])} / {_p(a['abstention']['recall'])} · lists P/R "
              f"{_p(a['lists']['precision'])} / {_p(a['lists']['recall'])} (n={a['lists']['n']}) · latency p50 "
              f"{a['latency_ms']['p50']:.0f} ms, p95 {a['latency_ms']['p95']:.0f} ms", ""]
    head = ["n", "accuracy", "n answerable", "accuracy (answerable)"]

    def acc_cells(v: dict[str, Any]) -> list[str]:
        return [str(v["n"]), _p(v["accuracy"]), str(v["n_answerable"]), _p(v["accuracy_answerable"])]

    lines += _table(["kind", *head], [[k, *acc_cells(v)] for k, v in a["per_kind"].items()])
    lines += ["", "### No-diacritic parity", ""]
    lines += _table(["subset", *head], [["with diacritics", *acc_cells(a["with_diacritics"])],
                                        ["without diacritics", *acc_cells(a["no_diacritics"])]])
    lines += ["", "### Per document", ""]
    lines += _table(["doc_id", *head], [[k, *acc_cells(v)] for k, v in a["per_doc"].items()])
    if a["failure_reasons"]:
        lines += ["", "### Failure reasons", ""]
        lines += _table(["reason", "items"], [[k, str(v)] for k, v in a["failure_reasons"].items()])
    by_id = {r["id"]: r for r in report["items"]}
    fails = [by_id[i] for i in report["failures"]]
    lines += ["", f"## Failures (first {min(MD_FAILURES, len(fails))} of {len(fails)})", ""]
    lines += _table(["id", "kind", "question", "expected", "got", "why"], [
        [_cell(r["id"], 30), r["kind"], _cell(r["question"]), _cell(" | ".join(map(str, r["expected"])), 80),
         _cell("(abstained)" if r["abstained"] else r["got"] or "(error)"), _cell("; ".join(r["reasons"]), 100)]
        for r in fails[:MD_FAILURES]])
    return "\n".join(lines) + "\n"


def render_text(report: dict[str, Any]) -> str:
    """The console summary: gate, comparison, per kind, then every failure on two lines."""
    a = report["answers"]
    lines = [f"questions: {a['n']} ({a['n_answerable']} answerable, {a['n_unanswerable']} unanswerable, "
             f"{a['n_errors']} errors)"]
    for c in report["gate"]["checks"]:
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['name']:<32} {_p(c['value']):>7}  (min {_p(c['min'])})")
    lines.append("gate: " + ("PASSED" if report["gate"]["passed"] else "FAILED"))
    lines.append(f"accuracy overall {_p(a['accuracy'])}; without diacritics {_p(a['no_diacritics']['accuracy'])} "
                 f"(n={a['no_diacritics']['n']}); lists P/R {_p(a['lists']['precision'])}/{_p(a['lists']['recall'])}; "
                 f"latency p50 {a['latency_ms']['p50']:.0f} ms p95 {a['latency_ms']['p95']:.0f} ms")
    lines.append("per kind: " + ", ".join(f"{k} {_p(v['accuracy'])} ({v['n']})" for k, v in a["per_kind"].items()))
    comp = comparison_rows(report)
    if comp:
        lines.append(f"{'retrieval':<28} {'R@1':>7} {'R@5':>7} {'R@10':>7} {'MRR':>6} {'noDia R@5':>9}")
        lines += [f"{r[0]:<28} {r[1]:>7} {r[2]:>7} {r[3]:>7} {r[4]:>6} {r[5]:>9}" for r in comp]
    b = report.get("baseline")
    if b:
        lines.append(f"baseline answer accuracy (top chunk): {_p(b['accuracy_answerable'])} answerable, "
                     f"{_p(b['accuracy_overall'])} overall")
    by_id = {r["id"]: r for r in report["items"]}
    fails = [by_id[i] for i in report["failures"]]
    lines.append(f"failures: {len(fails)}")
    for r in fails:
        lines.append(f"- [{r['id']}] ({r['kind']}) {_cell(r['question'], 100)} — {'; '.join(r['reasons'])}")
        lines.append(f"    expected: {_cell(' | '.join(map(str, r['expected'])), 100)}   got: "
                     f"{_cell('(abstained)' if r['abstained'] else r['got'] or '(error)', 120)}")
    return "\n".join(lines)
