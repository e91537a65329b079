"""Vietnamese text keys: NFC, whitespace, dashes, tone-mark placement, accent folding, abbreviations.

Every comparison in the assistant goes through these functions, so a question typed with or without
diacritics, in any case, with old ("hoá") or new ("hóa") tone placement, finds the same text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WS = re.compile(r"\s+")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_TONES = "\u0301\u0300\u0309\u0303\u0323"  # sắc, huyền, hỏi, ngã, nặng (NFD combining marks)
# old-style placement: tone on the 2nd vowel of an open "oa/oe/uy" syllable → move it to the 1st vowel.
_OLD_TONE = re.compile(rf"(?<![qQ])([oOuU])([aAeEyY])([{_TONES}])(?![\w\u0300-\u036f])")
# every combining mark of the Basic Multilingual Plane, deleted by str.translate (marks beyond it: see fold)
_NO_MARKS = {c: None for c in range(0x10000) if unicodedata.combining(chr(c))}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def clean(text: str) -> str:
    """NFC, zero-width characters removed, dashes unified, whitespace collapsed."""
    text = _ZERO_WIDTH.sub("", nfc(text))
    return collapse_ws(_DASHES.sub("-", text))


def modern_tones(text: str) -> str:
    """'hoá' → 'hóa', 'thuỷ' → 'thủy' (tone mark on the first vowel of open oa/oe/uy)."""
    d = unicodedata.normalize("NFD", text)
    d = _OLD_TONE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), d)
    return unicodedata.normalize("NFC", d)


def fold(text: str) -> str:
    """Accent-folded lower-case key: 'Phòng Văn hoá – Xã hội' → 'phong van hoa - xa hoi'."""
    text = clean(text).lower().replace("đ", "d")
    if text.isascii():
        return text
    d = unicodedata.normalize("NFD", text).translate(_NO_MARKS)
    return d if not d or max(d) < "\U00010000" else "".join(ch for ch in d if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 17)
def fold_word(word: str) -> str:
    """``fold`` of one word, memoised: a corpus repeats its words, so folding them one by one costs a lookup."""
    return fold(word)


def has_diacritics(text: str) -> bool:
    return fold(text) != clean(text).lower()


# Abbreviations in plans and in people's questions, folded form → folded expansion.
ABBREVIATIONS: dict[str, str] = {
    "ubnd": "uy ban nhan dan",
    "hdnd": "hoi dong nhan dan",
    "cchc": "cai cach hanh chinh",
    "tthc": "thu tuc hanh chinh",
    "dvc": "dich vu cong",
    "dvctt": "dich vu cong truc tuyen",
    "pvhcc": "phuc vu hanh chinh cong",
    "qppl": "quy pham phap luat",
    "cds": "chuyen doi so",
    "vh-xh": "van hoa - xa hoi",
    "vhxh": "van hoa - xa hoi",
    "kt-ht-dt": "kinh te, ha tang va do thi",
    "kthtdt": "kinh te, ha tang va do thi",
    "cntt": "cong nghe thong tin",
    "ttdt": "thong tin dien tu",
    "bcd": "ban chi dao",
    "mttq": "mat tran to quoc",
    "vp": "van phong",
    "kh": "ke hoach",
    "vbqppl": "van ban quy pham phap luat",
    "csdl": "co so du lieu",
    "cbccvc": "can bo, cong chuc, vien chuc",
    "cbcc": "can bo, cong chuc",
    "vb": "van ban",
    "nd": "nghi dinh",
    "qd": "quyet dinh",
    "nq": "nghi quyet",
    "tt": "trung tam",
    "ct": "chu tich",
    "pct": "pho chu tich",
}
_ABBR_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)) + r")(?![\w-])")


def expand_abbreviations(folded: str) -> str:
    """Append the expansion after each abbreviation in a folded text ('ubnd' → 'ubnd uy ban nhan dan')."""
    return _ABBR_RE.sub(lambda m: f"{m.group(1)} {ABBREVIATIONS[m.group(1)]}", folded)


def match_key(text: str) -> str:
    """Key for comparing short strings (agency names, answers): folded, punctuation → space."""
    return collapse_ws(re.sub(r"[^\w%/]+", " ", fold(text)))
