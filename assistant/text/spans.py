"""Quotes are exact spans of a source file with only whitespace collapsed. These helpers keep that promise."""

from __future__ import annotations

import re
from functools import lru_cache

from ..models import Span
from .normalize import collapse_ws, fold

_WS = re.compile(r"\s+")


def quote(source: str, span: Span) -> str:
    return collapse_ws(source[span[0] : span[1]])


def collapsed_map(source: str, span: Span) -> tuple[str, list[int]]:
    """Collapsed text of ``source[span]`` and, for each of its characters, the offset in ``source`` (shared with
    other callers: do not modify it). Long spans — a whole plan, searched for a heading — are remembered."""
    if span[1] - span[0] > LONG_SPAN:
        return _collapsed_long(source, span[0], span[1])
    return _collapsed(source, span)


LONG_SPAN = 4096


@lru_cache(maxsize=8)  # ~2 MB each for a 60k-character plan
def _collapsed_long(source: str, start: int, end: int) -> tuple[str, list[int]]:
    return _collapsed(source, (start, end))


def _collapsed(source: str, span: Span) -> tuple[str, list[int]]:
    text_parts: list[str] = []
    offsets: list[int] = []
    s, e = span
    pos = s
    segment = source[s:e]
    for m in _WS.finditer(segment):
        a, b = s + m.start(), s + m.end()
        text_parts.append(source[pos:a])
        offsets.extend(range(pos, a))
        text_parts.append(" ")
        offsets.append(a)
        pos = b
    text_parts.append(source[pos:e])
    offsets.extend(range(pos, e))
    text = "".join(text_parts)
    # strip like collapse_ws
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    return text[lead : len(text) - trail], offsets[lead : len(offsets) - trail]


def locate(source: str, span: Span, needle: str, folded: bool = False) -> Span | None:
    """Span of the first occurrence of ``needle`` (whitespace-insensitive) inside ``source[span]``.

    With ``folded``, the match ignores case and diacritics (folding keeps one character per character).
    """
    text, offsets = collapsed_map(source, span)
    needle = collapse_ws(needle)
    if not needle:
        return None
    hay, pin = (fold(text), fold(needle)) if folded else (text, needle)
    if len(hay) != len(text):  # folding changed the length: fall back to an exact search
        hay, pin = text, needle
    i = hay.find(pin)
    if i < 0:
        return None
    return offsets[i], offsets[i + len(pin) - 1] + 1


def is_verbatim(source: str, span: Span, text: str) -> bool:
    return quote(source, span) == collapse_ws(text)
