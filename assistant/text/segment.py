"""Tokens for the lexical index: pyvi word units + accent-folded syllables and bigrams + legal-id keys.

The same function tokenises documents and questions, so "số hóa hồ sơ", "so hoa ho so" and "SỐ HOÁ HỒ SƠ"
give the same tokens; "NĐ 118/2025" and "Nghị định số 118/2025/NĐ-CP" share the key token ``§nd-118-2025``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .legal_ids import find_citations, query_keys
from .normalize import clean, expand_abbreviations, fold

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*%?")
# very frequent function words: ignored when measuring how well a text covers a question
STOP = frozenset("va cua cac cho trong theo tai voi la duoc co the nhung nay do mot ve den tu".split())


@lru_cache(maxsize=1)
def _pyvi():
    from pyvi import ViTokenizer

    return ViTokenizer


def words(text: str) -> list[str]:
    """Folded syllables (with abbreviations expanded)."""
    return _WORD.findall(expand_abbreviations(fold(text)))


def pyvi_words(text: str) -> list[str]:
    """Multi-syllable words found by pyvi on the accented text, folded: 'hồ_sơ' → 'ho_so'."""
    segmented = _pyvi().tokenize(clean(text))
    return [w for w in (fold(t) for t in segmented.split()) if "_" in w and _WORD.search(w)]


def tokens(text: str, legal: list[str] | None = None) -> list[str]:
    syl = words(text)
    out = list(syl)
    out += [f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)]
    out += [f"w:{w}" for w in pyvi_words(text)]
    out += [f"§{k}" for k in (legal if legal is not None else legal_keys_in(text))]
    return out


def legal_keys_in(text: str) -> list[str]:
    keys: list[str] = []
    for c in find_citations(text):
        keys += c.keys
    return keys


def query_tokens(question: str) -> list[str]:
    return tokens(question, legal=query_keys(question))


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP]
