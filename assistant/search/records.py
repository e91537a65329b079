"""(De)serialising the typed records to JSON for the index on disk."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..models import Chunk, FieldValue, LegalReference, TaskRecord


def dump(obj: Any) -> dict:
    return asdict(obj)


def chunk_from(d: dict) -> Chunk:
    return Chunk(**{**d, "heading_path": tuple(d["heading_path"]), "span": tuple(d["span"])})


def task_from(d: dict) -> TaskRecord:
    fields = tuple(
        FieldValue(label=f["label"], role=f["role"], value=f["value"], spans=tuple(tuple(s) for s in f["spans"]))
        for f in d["fields"]
    )
    return TaskRecord(
        **{**d, "fields": fields, "heading_path": tuple(d["heading_path"]), "span": tuple(d["span"]),
           "legal_ids": tuple(d["legal_ids"])}
    )


def legal_from(d: dict) -> LegalReference:
    return LegalReference(**{**d, "span": tuple(d["span"])})
