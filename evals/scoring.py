"""Score one question-set item against one assistant response (pure; the runner does the calls).

Rules (documented in the report too):
- unanswerable item: correct iff the assistant abstained.
- answerable item: wrong if it abstained or errored; otherwise by kind —
  list: set recall ≥ LIST_RECALL_MIN and precision ≥ LIST_PRECISION_MIN of the answer's ``items`` (each judged
  by its quote, else its task; the citation quotes when there are no items) against the expected ``items``;
  count: ``total`` == ``count`` (or the number written in the answer when ``total`` is missing);
  conflict: EVERY gold (both sides) appears in the answer or its conflicts; set P/R of the conflicts + quotes
  against the evidence excerpts is reported, not required;
  other kinds: ANY gold string appears in the answer text.
- citation support is judged for answered, answerable single-answer items (not list/count): some quote (or
  the quotes together) contains a gold answer or the gold evidence.
- every quote of every answer is checked verbatim against its source.
"""

from __future__ import annotations

import re
from typing import Any

from .metrics import answer_correct, citation_supported, evidence_in, set_pr

LIST_KINDS = ("list", "count")
LIST_RECALL_MIN = 0.8
LIST_PRECISION_MIN = 0.5
GOT_CHARS = 300


def item_text(it: dict[str, Any]) -> str:
    """The text a predicted list item is judged by: its quote, else its task."""
    return str(it.get("quote") or it.get("task") or it.get("text") or "")


def _strings(v: Any) -> str:
    """Every text inside a (nested) conflict record, joined."""
    if isinstance(v, dict):
        return " ".join(_strings(x) for x in v.values())
    if isinstance(v, list | tuple):
        return " ".join(_strings(x) for x in v)
    return v if isinstance(v, str) else ""


def predicted_items(kind: str, resp: dict[str, Any], quotes: list[str]) -> list[str]:
    """Predicted set members: the answer's items (quote, else task); with no items, the citation quotes.
    For conflicts: the conflicts' text, then the citation quotes (both sides should be cited)."""
    if kind == "conflict":
        texts = [_strings(c) for c in resp.get("conflicts", [])] + list(quotes)
    else:
        texts = [item_text(it) for it in resp.get("items", [])] or list(quotes)
    return [t for t in texts if t]


def _count_in_text(answer: str, count: int) -> bool:
    return re.search(rf"(?<![\d/.,]){count}(?![\d/.,]\d)", answer) is not None


def _evidence_list(evidence: Any) -> list[str]:
    if isinstance(evidence, str):
        return [evidence] if evidence else []
    return [e for e in evidence or [] if e]


def score_item(
    item: dict[str, Any],
    resp: dict[str, Any] | None,
    latency_ms: float,
    error: str | None = None,
    quote_ok: list[bool] | None = None,
) -> dict[str, Any]:
    """One per-item result row. ``quote_ok`` holds the verbatim check of each citation, in order."""
    kind = str(item.get("kind", "general"))
    answerable = bool(item.get("answerable", True))
    golds = [str(g) for g in item.get("answers") or []]
    expected_items = [str(x) for x in item.get("items") or []]
    count = item.get("count")
    row: dict[str, Any] = {
        "id": item.get("id"),
        "question": item.get("question", ""),
        "kind": kind,
        "doc_id": item.get("doc_id"),
        "answerable": answerable,
        "no_diacritics": bool(item.get("no_diacritics", False)),
        "expected": golds if answerable else ["(abstain)"],
        "expected_count": count,
        "latency_ms": round(latency_ms, 1),
        "error": error,
        "got": "",
        "got_kind": "",
        "abstained": False,
        "correct": False,
        "citation_supported": None,
        "n_quotes": 0,
        "n_verbatim": 0,
        "bad_quotes": [],
        "set_precision": None,
        "set_recall": None,
        "got_total": None,
        "n_items": 0,
        "reasons": [],
    }
    if error is not None or resp is None:
        row["reasons"].append(f"error: {error}")
        return row

    answer = resp.get("answer", "")
    cites = resp.get("citations", [])
    quotes = [str(c.get("quote", "")) for c in cites]
    checks = quote_ok if quote_ok is not None else [True] * len(cites)
    row.update(
        got=answer[:GOT_CHARS] + ("…" if len(answer) > GOT_CHARS else ""),
        got_kind=resp.get("kind", ""),
        abstained=bool(resp.get("abstained")),
        n_quotes=len(cites),
        n_verbatim=sum(1 for ok in checks if ok),
        bad_quotes=[
            {"doc_id": c.get("doc_id"), "quote": str(c.get("quote", ""))[:200], "start": c.get("start"), "end": c.get("end")}
            for c, ok in zip(cites, checks, strict=False)
            if not ok
        ],
        got_total=resp.get("total"),
        n_items=len(resp.get("items", [])),
    )
    if row["bad_quotes"]:
        row["reasons"].append(f"{len(row['bad_quotes'])} quote(s) not verbatim")

    if not answerable:
        row["correct"] = row["abstained"]
        if not row["abstained"]:
            row["reasons"].append("answered an unanswerable question")
        return row
    if row["abstained"]:
        row["reasons"].append("abstained wrongly")
        return row

    ok = True
    predicted = predicted_items(kind, resp, quotes)
    expected_set = expected_items or (_evidence_list(item.get("evidence")) if kind == "conflict" else [])
    if kind == "list" and not expected_set:
        expected_set = golds
    if expected_set:
        p, r = set_pr(predicted, expected_set)
        row["set_precision"], row["set_recall"] = round(p, 3), round(r, 3)
    if kind == "list":
        if row["set_recall"] is not None and row["set_recall"] < LIST_RECALL_MIN:
            ok = False
            row["reasons"].append(f"list incomplete (recall {row['set_recall']:.2f})")
        if row["set_precision"] is not None and row["set_precision"] < LIST_PRECISION_MIN:
            ok = False
            row["reasons"].append(f"list imprecise (precision {row['set_precision']:.2f})")
    elif kind == "conflict":
        haystack = " ".join([answer, *predicted_items(kind, resp, [])])
        missing = [g for g in golds if not answer_correct(haystack, [g])]
        if missing:
            ok = False
            row["reasons"].append("conflict side missing: " + " | ".join(missing))
    elif kind != "count" and golds and not answer_correct(answer, golds):
        ok = False
        row["reasons"].append("gold answer not in the answer")
    if count is not None:
        total = resp.get("total")
        count_ok = int(total) == int(count) if isinstance(total, int | float) else _count_in_text(answer, int(count))
        if not count_ok:
            ok = False
            row["reasons"].append(f"wrong count: expected {count}, got {total}")
    row["correct"] = ok

    if kind not in LIST_KINDS:
        evidence = _evidence_list(item.get("evidence"))
        supported = citation_supported(quotes, golds) or any(
            evidence_in(" ".join(quotes), e) for e in evidence
        )
        row["citation_supported"] = supported
        if not supported:
            row["reasons"].append("citations do not contain the gold answer or evidence")
    return row
