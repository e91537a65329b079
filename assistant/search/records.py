"""(De)serialising the typed records to JSON for the index on disk."""

from __future__ import annotations

from typing import Any

from ..models import Chunk, FieldValue, LegalReference, TaskRecord


def dump(obj: Any) -> dict:
    """A record as plain JSON data (what ``dataclasses.asdict`` gives, without its deep copies: 5x faster)."""
    return {name: _plain(getattr(obj, name)) for name in obj.__dataclass_fields__}


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return dump(value)
    if isinstance(value, tuple | list) and value and hasattr(value[0], "__dataclass_fields__"):
        return [_plain(v) for v in value]
    return value  # str, numbers, None, tuples of those (JSON writes tuples as lists)


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
