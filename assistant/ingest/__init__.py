"""Ingestion: a Document becomes chunks, task records and legal references, each with source spans."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Chunk, Document, LegalReference, TaskRecord, content_id
from ..text.legal_ids import find_citations
from ..text.normalize import collapse_ws
from .appendix import find_table, parse_appendix
from .layout import blocks, split_lines
from .plan import parse_body


@dataclass
class Parsed:
    doc: Document
    chunks: list[Chunk] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    legal_refs: list[LegalReference] = field(default_factory=list)
    sections: list[tuple[str, ...]] = field(default_factory=list)


def legal_references(doc: Document) -> list[LegalReference]:
    refs = []
    for c in find_citations(doc.text):
        surface = collapse_ws(doc.text[c.start : c.end])
        refs.append(
            LegalReference(
                ref_id=content_id("ref", doc.doc_id, c.start, c.canonical), doc_id=doc.doc_id, act_type=c.code,
                number=c.number, year=c.year, issuer_code=c.issuer, canonical=c.canonical, date=c.date,
                surface=surface, span=(c.start, c.end),
            )
        )
    return refs


def _with_legal_ids(task: TaskRecord, refs: list[LegalReference]) -> TaskRecord:
    from dataclasses import replace

    ids = []
    for f in task.fields:
        for s, e in f.spans:
            ids += [r.canonical for r in refs if s <= r.span[1] and r.span[0] < e]
    return replace(task, legal_ids=tuple(dict.fromkeys(ids)))


def ingest(doc: Document) -> Parsed:
    source = doc.text
    table = find_table(source)
    body_end = len(source) if table < 0 else table
    body = parse_body(doc.doc_id, source, blocks(source, split_lines(source, 0, body_end)))
    tasks, chunks = list(body.tasks), list(body.chunks)
    if table >= 0:
        a_tasks, a_chunks = parse_appendix(doc.doc_id, source, table)
        tasks += a_tasks
        chunks += a_chunks
    refs = legal_references(doc)
    tasks = [_with_legal_ids(t, refs) for t in tasks]
    return Parsed(doc=doc, chunks=chunks, tasks=tasks, legal_refs=refs, sections=body.sections)
