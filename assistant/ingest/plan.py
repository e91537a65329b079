"""The body of a plan: heading hierarchy (I. / 1. / a) / bullets), task records with their field lines,
and passage chunks. Works on the blocks of ``layout``; every span points into the original file."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Chunk, FieldValue, Span, TaskRecord, content_id
from ..text.normalize import collapse_ws
from .fields import FIELD_LINE, role_of
from .layout import Block

_LEVEL = {"roman": 0, "number": 1, "letter": 2}


@dataclass
class BodyResult:
    chunks: list[Chunk] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    sections: list[tuple[str, ...]] = field(default_factory=list)


def _trim(source: str, start: int, end: int) -> Span:
    while start < end and source[start].isspace():
        start += 1
    while end > start and (source[end - 1].isspace() or source[end - 1] in ".;"):
        end -= 1
    return start, end


def _field_of(source: str, block: Block) -> FieldValue | None:
    if block.kind != "bullet":
        return None
    m = FIELD_LINE.match(source[block.body_start : block.end])
    if not m:
        return None
    label = collapse_ws(m.group("label"))
    span = _trim(source, block.body_start + m.end(), block.end)
    return FieldValue(label=label, role=role_of(label), value=collapse_ws(source[span[0] : span[1]]), spans=(span,))


def _locator(markers: list[str], ordinal: int | None = None) -> str:
    parts = [f"Mục {markers[0]}", *markers[1:]] if markers else ["Phần mở đầu"]
    if ordinal is not None:
        parts.append(f"đoạn {ordinal}")
    return " › ".join(parts)


def parse_body(doc_id: str, source: str, blocks: list[Block]) -> BodyResult:
    out = BodyResult()
    path: list[tuple[int, str, str]] = []  # (level, marker, heading text)
    ordinal = 0
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.kind in _LEVEL:
            level = _LEVEL[b.kind]
            fields: list[FieldValue] = []
            j = i + 1
            while j < len(blocks) and (f := _field_of(source, blocks[j])) is not None:
                fields.append(f)
                j += 1
            path = [p for p in path if p[0] < level] + [(level, b.marker, b.text(source))]
            heading_path = tuple(p[2] for p in path)
            markers = [p[1] for p in path]
            ordinal = 0
            if fields:  # a task: the item itself + its field lines
                task_span = _trim(source, b.body_start, b.end)
                task_field = FieldValue("Nhiệm vụ", "task", collapse_ws(source[task_span[0] : task_span[1]]), (task_span,))
                span = (b.start, blocks[j - 1].end)
                group = path[1][2] if len(path) > 1 else ""
                loc = _locator(markers)
                task = TaskRecord(
                    task_id=content_id("task", doc_id, loc, source[span[0] : span[1]]),
                    doc_id=doc_id, locator=loc, heading_path=heading_path, fields=(task_field, *fields),
                    span=span, source="body", group=_strip_marker(group),
                )
                out.tasks.append(task)
                out.chunks.append(_chunk(doc_id, source, span, loc, heading_path, "task"))
                i = j
                continue
            out.sections.append(heading_path)
            if len(b.body(source)) > 80 or b.kind == "number" and b.end - b.start > 80:
                out.chunks.append(_chunk(doc_id, source, (b.start, b.end), _locator(markers), heading_path, "passage"))
            i += 1
            continue
        # caps line directly followed by a short paragraph: a title or a signature ("CHỦ TỊCH" + name)
        if b.kind == "caps" and i + 1 < len(blocks) and blocks[i + 1].kind == "para" and len(b.text(source)) < 40:
            nxt = blocks[i + 1]
            kind = "signature" if "CHỦ TỊCH" in b.text(source) else "title"
            loc = "Chữ ký" if kind == "signature" else "Tiêu đề"
            # the label is the unit's context (indexed with it): "Chữ ký" is what "ai ký …?" finds
            out.chunks.append(_chunk(doc_id, source, (b.start, nxt.end), loc, (loc,), kind))
            i += 2
            continue
        if b.kind == "para" and b.text(source).startswith("Nơi nhận"):  # distribution list: not content
            i += 1
            while i < len(blocks) and blocks[i].kind == "bullet":
                i += 1
            continue
        ordinal += 1
        heading_path = tuple(p[2] for p in path)
        out.chunks.append(
            _chunk(doc_id, source, (b.start, b.end), _locator([p[1] for p in path], ordinal), heading_path, "passage")
        )
        i += 1
    return out


def _strip_marker(heading: str) -> str:
    return heading.split(" ", 1)[1].rstrip(":") if " " in heading else heading


def _chunk(doc_id: str, source: str, span: Span, locator: str, heading_path: tuple[str, ...], kind: str) -> Chunk:
    text = collapse_ws(source[span[0] : span[1]])
    return Chunk(
        chunk_id=content_id("chunk", doc_id, span[0], span[1], text),
        doc_id=doc_id, text=text, locator=locator, heading_path=heading_path, span=span, kind=kind,
    )
