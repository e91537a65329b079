"""The typed records that flow between the pipeline stages.

Document → Chunk / TaskRecord / LegalReference (each with character spans into the source file)
→ Hit (a retrieved unit with scores) → Answer with Citations.
Ids are content hashes, so a rebuilt index and an old citation agree on what a record is.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

Span = tuple[int, int]  # [start, end) character offsets into the source file's text


def content_id(prefix: str, *parts: object) -> str:
    """A stable id: prefix + the first 16 hex digits of sha256 over the parts."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{h[:16]}"


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    issuer: str
    locality: str
    province: str
    period: str
    year_from: int
    year_to: int
    kind: str  # "plan" | "legal"
    file: str
    sha256: str
    text: str = field(repr=False, compare=False)

    def meta(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("text")
        return d


@dataclass(frozen=True)
class FieldValue:
    """One labelled field of a task ("Cơ quan chủ trì thực hiện: …") with its spans."""

    label: str  # the label as written, e.g. "Cơ quan chủ trì thực hiện"
    role: str  # task | lead | partners | executor | proposer | monitor | product | deadline | other
    value: str  # whitespace-collapsed text of the value (parts joined by a space)
    spans: tuple[Span, ...]  # where the value stands in the source (2+ when a page break split a cell)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    text: str  # whitespace-collapsed text of the span
    locator: str  # human locator, e.g. "Mục II › 1 › b"
    heading_path: tuple[str, ...]
    span: Span
    kind: str = "passage"  # passage | task | appendix_row | heading


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    doc_id: str
    locator: str
    heading_path: tuple[str, ...]
    fields: tuple[FieldValue, ...]  # the task text itself is the field with role "task"
    span: Span  # from the first to the last character of the record (for showing context)
    source: str = "body"  # body | appendix
    group: str = ""  # section title (e.g. "Cải cách thủ tục hành chính")
    legal_ids: tuple[str, ...] = ()

    def field(self, role: str) -> FieldValue | None:
        return next((f for f in self.fields if f.role == role), None)

    def value(self, role: str) -> str:
        f = self.field(role)
        return f.value if f else ""

    @property
    def task(self) -> str:
        return self.value("task")

    @property
    def lead(self) -> str:
        return self.value("lead") or self.value("executor")

    @property
    def partners(self) -> str:
        return self.value("partners")

    @property
    def product(self) -> str:
        return self.value("product")

    @property
    def deadline(self) -> str:
        return self.value("deadline")

    @property
    def monitor(self) -> str:
        return self.value("monitor")


@dataclass(frozen=True)
class LegalReference:
    ref_id: str
    doc_id: str
    act_type: str  # NĐ | TT | QĐ | NQ | KH | CT | ...
    number: str
    year: int | None
    issuer_code: str  # e.g. "CP", "TTg", "UBND", "TU"
    canonical: str  # e.g. "118/2025/NĐ-CP" or "393/QĐ-UBND"
    date: str  # "14/7/2025" when given, else ""
    surface: str  # as written, whitespace-collapsed
    span: Span


@dataclass(frozen=True)
class Hit:
    unit_id: str  # chunk_id or task_id
    doc_id: str
    locator: str
    text: str
    score: float
    kind: str  # passage | task | appendix_row
    span: Span
    ranks: dict[str, int] = field(default_factory=dict)  # per-leg ranks (1-based), e.g. {"bm25": 1}
    signals: dict[str, float] = field(default_factory=dict)  # raw per-leg scores (bm25, cosine)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    locator: str
    quote: str  # whitespace-collapsed text of source[start:end]
    start: int
    end: int


@dataclass
class Answer:
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    kind: str = "general"
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    conversation_id: str | None = None
    localities: list[str] = field(default_factory=list)  # the wards/communes whose documents the answer cites
    debug: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
