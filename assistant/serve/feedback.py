"""Answer feedback (👍/👎 + comment) in SQLite: WAL, busy timeout, one connection per thread. No IP addresses.

The store has no web dependency: the HTTP route lives in :mod:`assistant.serve.feedback_api`, the CSV export
and the backup are reachable from the CLI (``python -m assistant feedback export|backup``).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    rating INTEGER NOT NULL CHECK (rating IN (1, -1)),
    comment TEXT NOT NULL DEFAULT '',
    conversation_id TEXT
)
"""
COLUMNS = ("id", "created_at", "rating", "question", "answer", "comment", "citations", "conversation_id")
LIMITS = {"question": 2000, "answer": 20000, "comment": 2000, "conversation_id": 100, "citations": 50}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class FeedbackStore:
    """Thread-safe: each thread gets its own connection; writers wait up to ``busy_timeout_ms`` for the lock."""

    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit (isolation_level=None): every INSERT is its own short transaction
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def add(self, question: str, answer: str, rating: int, citations: list[Any] | None = None,
            comment: str = "", conversation_id: str | None = None) -> int:
        """Store one rating; returns its id. Raises ValueError for a rating other than +1/-1 or oversize text."""
        if rating not in (1, -1) or isinstance(rating, bool):
            raise ValueError("rating must be 1 or -1")
        citations = list(citations or [])
        for name, value in (("question", question), ("answer", answer), ("comment", comment),
                            ("conversation_id", conversation_id or ""), ("citations", citations)):
            if len(value) > LIMITS[name]:
                raise ValueError(f"{name} is longer than {LIMITS[name]}")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cur = self._conn().execute(
            "INSERT INTO feedback (created_at, question, answer, citations, rating, comment, conversation_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (created, question, answer, json.dumps(citations, ensure_ascii=False), int(rating), comment or "",
             conversation_id))
        return int(cur.lastrowid)

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def rows(self) -> Iterator[dict[str, Any]]:
        cur = self._conn().execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id")
        for row in cur:
            yield dict(zip(COLUMNS, row, strict=True))

    def export_csv(self, out: Path | TextIO | None = None) -> int:
        """Write every row as CSV (UTF-8 with BOM, so spreadsheet programs read Vietnamese). Returns the count.

        Text cells that a spreadsheet would run as a formula (=, +, -, @) get a leading apostrophe."""
        if out is None:
            sys.stdout.flush()
            with open(sys.stdout.fileno(), "w", encoding="utf-8-sig", newline="", closefd=False) as stream:
                return self._write_csv(stream)
        if isinstance(out, str | Path):
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            with open(out, "w", encoding="utf-8-sig", newline="") as fh:
                return self._write_csv(fh)
        return self._write_csv(out)

    def _write_csv(self, fh: TextIO) -> int:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        n = 0
        for row in self.rows():
            writer.writerow([_cell(row[c]) if c in ("question", "answer", "comment") else row[c] for c in COLUMNS])
            n += 1
        return n

    def backup(self, path: Path) -> Path:
        """A consistent copy of the database (sqlite3 online backup API), safe while others write."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(path)
        try:
            with dest:
                self._conn().backup(dest)
        finally:
            dest.close()
        return path

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _cell(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value
