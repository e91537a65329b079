"""Repair the PDF's hard-wrapped lines into logical blocks, keeping exact offsets into the source.

A block is a heading, a list item, a bullet or a paragraph. Its text is the whitespace-collapsed text of
``source[start:end]``, so any part of it maps back to an exact span of the file (see ``text.spans``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text.normalize import collapse_ws

ROMAN = r"(?:I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)"
_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("roman", re.compile(rf"^({ROMAN})\.\s+")),
    ("number", re.compile(r"^(\d{1,2})\.\s+")),
    ("letter", re.compile(r"^([a-zđ])\)\s+")),
    ("bullet", re.compile(r"^([-+•])\s*(?=\S)")),
]
_TERMINAL = (".", ";", ":", "!", "?", ".)", "./.")
_OPEN_ENDINGS = (",", "-", " và", " của", " các", " theo", " số", " tại")


@dataclass(frozen=True)
class Line:
    start: int  # offset of the first non-blank character
    end: int  # offset after the last non-blank character
    text: str


@dataclass
class Block:
    kind: str  # roman | number | letter | bullet | para | caps
    marker: str  # "II", "1", "a", "-" or ""
    start: int
    end: int
    body_start: int  # offset after the marker
    last_line: str

    def text(self, source: str) -> str:
        return collapse_ws(source[self.start : self.end])

    def body(self, source: str) -> str:
        return collapse_ws(source[self.body_start : self.end])


def split_lines(source: str, start: int = 0, end: int | None = None) -> list[Line]:
    """Non-blank lines of ``source[start:end]`` with the offsets of their stripped content."""
    end = len(source) if end is None else end
    lines = []
    for m in re.finditer(r"[^\n]+", source[start:end]):
        raw = m.group(0)
        stripped = raw.strip()
        if not stripped:
            continue
        s = start + m.start() + (len(raw) - len(raw.lstrip()))
        lines.append(Line(s, s + len(stripped), stripped))
    return lines


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def _marker(text: str) -> tuple[str, str, int]:
    for kind, pattern in _MARKERS:
        m = pattern.match(text)
        if m:
            return kind, m.group(1), m.end()
    return "", "", 0


def _continues(prev: Block, line: Line) -> bool:
    """Is ``line`` (which has no list marker) the wrapped rest of ``prev``?"""
    first = line.text[0]
    prev_caps = _is_caps(prev.last_line)
    if _is_caps(line.text):
        return prev_caps and not prev.last_line.endswith(_TERMINAL)
    if prev_caps and prev.kind in ("caps", "para"):
        return False
    starts_new = first.isupper() or first.isdigit() or first in "(\"“"
    ended = prev.last_line.endswith(_TERMINAL)
    # a short last line that is not mid-phrase (a heading, a title, a paragraph's end) closes its block
    short = len(prev.last_line) < 60 and not prev.last_line.endswith(_OPEN_ENDINGS)
    return not (starts_new and (ended or short))


def blocks(source: str, lines: list[Line]) -> list[Block]:
    out: list[Block] = []
    for line in lines:
        kind, marker, offset = _marker(line.text)
        if not kind and out and _continues(out[-1], line):
            out[-1].end = line.end
            out[-1].last_line = line.text
            continue
        if not kind:
            kind = "caps" if _is_caps(line.text) else "para"
        body = line.start + offset
        while body < line.end and source[body].isspace():
            body += 1
        out.append(Block(kind, marker, line.start, line.end, body, line.text))
    return out
