"""The appendix task table (tab-separated: STT | Nhiệm vụ | Sản phẩm | Thời gian hoàn thành | Chủ trì thực hiện
| Phối hợp thực hiện | Theo dõi, kiểm tra, đôn đốc), with group rows I, II, … .

At a page break the header repeats and the rest of the broken row arrives on a later line that starts with an
empty STT cell, each cell wrapped in ``<p>…</p>``: those parts are merged back into the same row and cell,
each part keeping its own span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..models import Chunk, FieldValue, Span, TaskRecord, content_id
from ..text.normalize import collapse_ws, fold
from .fields import ROLE_NAMES, role_of
from .layout import ROMAN

_GROUP = re.compile(rf"^({ROMAN})$")
_ROW = re.compile(r"^(\d{1,3})$")
_TAG = re.compile(r"</?p>")


@dataclass
class _Row:
    group: str
    group_title: str
    stt: str
    part: int  # 1 for the row itself; 2, 3… for sub-rows that share its STT and task
    start: int
    end: int
    cells: list[list[Span]] = field(default_factory=list)  # per column: the spans of its parts


def _cell_spans(line: str, line_start: int) -> list[Span | None]:
    """Span of each tab-separated cell's content (tags and outer whitespace excluded); None when empty."""
    spans: list[Span | None] = []
    pos = 0
    for cell in line.split("\t"):
        s, e = pos, pos + len(cell)
        pos = e + 1
        inner = _TAG.sub(lambda m: " " * len(m.group(0)), cell)  # keep offsets, drop the tags
        if not inner.strip():
            spans.append(None)
            continue
        lead = len(inner) - len(inner.lstrip())
        trail = len(inner) - len(inner.rstrip())
        spans.append((line_start + s + lead, line_start + e - trail))
    return spans


def find_table(source: str) -> int:
    """Offset of the first header line of the appendix table, or -1."""
    m = re.search(r"^STT\t", source, re.MULTILINE)
    return m.start() if m else -1


def parse_appendix(doc_id: str, source: str, start: int) -> tuple[list[TaskRecord], list[Chunk]]:
    header: list[str] = []
    rows: list[_Row] = []
    group, group_title = "", ""
    offset = start
    after_header = False
    for line in source[start:].split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        if "\t" not in line:
            continue
        cells = line.split("\t")
        first = cells[0].strip()
        if fold(first) == "stt":
            header = [collapse_ws(c) for c in cells]
            after_header = True
            continue
        page_break, after_header = after_header, False
        spans = _cell_spans(line, line_start)
        if _GROUP.match(first) and not any(spans[1 + 1 :]):
            group = first
            group_title = collapse_ws(_TAG.sub("", cells[1])) if len(cells) > 1 else ""
            continue
        if _ROW.match(first) or (not first and rows and not page_break):
            # a numbered row, or a sub-row (empty STT, no page break before it) that shares the row's task
            parent = rows[-1] if not first else None
            row = _Row(group, group_title, first or parent.stt, parent.part + 1 if parent else 1,
                       line_start, line_start + len(line.rstrip()))
            row.cells = [[s] if s else [] for s in spans[1:]]
            if parent and not row.cells[0]:
                row.cells[0] = list(parent.cells[0])
            rows.append(row)
        elif not first and rows:  # continuation of the row broken by a page break
            row = rows[-1]
            for col, s in enumerate(spans[1:]):
                while len(row.cells) <= col:
                    row.cells.append([])
                if s:
                    row.cells[col].append(s)
            row.end = line_start + len(line.rstrip())
    return _records(doc_id, source, header, rows)


def _records(doc_id: str, source: str, header: list[str], rows: list[_Row]) -> tuple[list[TaskRecord], list[Chunk]]:
    tasks, chunks = [], []
    columns = header[1:] if header else []
    for row in rows:
        fields = []
        for col, parts in enumerate(row.cells):
            if not parts or col >= len(columns):
                continue
            label = columns[col]
            value = " ".join(collapse_ws(source[s:e]) for s, e in parts)
            fields.append(FieldValue(label=label, role=role_of(label), value=value, spans=tuple(parts)))
        locator = f"Phụ lục › {row.group} › STT {row.stt}" + (f" › dòng {row.part}" if row.part > 1 else "")
        span = (row.start, row.end)
        task = TaskRecord(
            task_id=content_id("task", doc_id, locator, *(f.value for f in fields)),
            doc_id=doc_id, locator=locator, heading_path=("Phụ lục", f"{row.group}. {row.group_title}"),
            fields=tuple(fields), span=span, source="appendix", group=row.group_title,
        )
        tasks.append(task)
        text = " ".join(f"{ROLE_NAMES.get(f.role, f.label)}: {f.value}." for f in fields)
        chunks.append(
            Chunk(
                chunk_id=content_id("chunk", doc_id, locator, text), doc_id=doc_id, text=text, locator=locator,
                heading_path=task.heading_path, span=span, kind="appendix_row",
            )
        )
    return tasks, chunks
