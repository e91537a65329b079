"""Question analysis: the kind of answer wanted, the topic words, and hints (legal ids, year, place, agency).

Works on the accent-folded question, so "ai chu tri" and "Ai chủ trì" are read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.legal_ids import query_keys
from ..text.normalize import clean, expand_abbreviations, fold
from ..text.segment import STOP

# (kind, folded patterns) — checked in this order; the first kind with a match wins.
_KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("count", (r"bao nhieu (nhiem vu|viec|cong viec|noi dung|van ban|nghi dinh|quyet dinh)", r"\bmay (nhiem vu|viec)",
               r"so (luong )?nhiem vu", r"gom (bao nhieu|may)", r"\bdem ")),
    ("list", (r"nhung (nhiem vu|viec|cong viec|noi dung|van ban|nghi dinh|quyet dinh|nghi quyet|thong tu|linh vuc|nhom)",
              r"(nhiem vu|cong viec) (nao|gi)\b", r"(?<!den )(?<!lien quan )\bviec (nao|gi)\b", r"phai lam (nhung )?gi", r"lam (nhung )?(viec )?gi\b",
              r"liet ke", r"cac nhiem vu (cua|ma|do)", r"danh sach", r"phu trach (nhung )?gi")),
    ("signer", (r"\bai ky\b", r"nguoi ky", r"\bky (ban hanh|ke hoach|van ban)", r"chu tich (phuong|ubnd)?.{0,30}la ai",
                r"\bky\b.{0,20}\bai\b", r"ten (nguoi|chu tich)", r"chu tich.{0,80}ten (gi|la gi)",
                r"\bky\b.{0,60}chuc danh", r"chuc danh.{0,40}\bky\b")),
    # a percentage or rate is asked for: before the agency/time kinds ("tỷ lệ hồ sơ đúng hạn" is not a deadline)
    ("number", (r"bao nhieu ?%", r"bao nhieu phan tram", r"phan tram", r"\bty le\b.{0,80}(bao nhieu|la gi|nao|muc)",
                r"\bchi tieu\b.{0,60}bao nhieu", r"(dat|toi thieu|muc tieu).{0,40}bao nhieu")),
    ("product", (r"san pham", r"ket qua (dau ra|can dat|mong doi)", r"dau ra", r"cho ra (van ban|san pham|gi|ket qua)")),
    ("partner", (r"phoi hop(?! voi)", r"(ai|co quan nao|don vi nao) phoi hop", r"ho tro (thuc hien|chu tri)", r"cung (voi|tham gia)", r"\bgop y\b")),
    ("monitor", (r"theo doi, kiem tra", r"\bdon doc\b", r"giam sat (viec )?thuc hien")),
    ("lead", (r"chu tri", r"\bai (thuc hien|lam|phu trach|chiu trach nhiem|dam nhiem|tham muu|de xuat)",
              r"(co quan|don vi|phong|bo phan) nao", r"giao (cho )?(ai|co quan|don vi)", r"\bdo ai\b", r"\bai\b.*\?$",
              r"^ai\b", r"\bcua ai\b", r"trach nhiem (cua )?(ai|co quan nao)", r"co quan (thuc hien|de xuat)")),
    ("deadline", (r"khi nao", r"bao gio", r"thoi (gian|han|diem)", r"han chot", r"deadline", r"luc nao",
                  r"(thang|quy|nam|ngay) nao", r"cham nhat", r"thang may", r"\bnam may\b", r"chu ky",
                  r"hoan thanh (truoc|vao|trong)", r"bao lau (mot|1) lan", r"^han\b",
                  r"\bhan (ban hanh|hoan thanh|chot|cuoi|nop|gui)")),
    ("legal", (r"\bcan cu\b", r"(nghi dinh|quyet dinh|nghi quyet|thong tu|chi thi|van ban|ke hoach) (nao|so may|gi|so bao nhieu)",
               r"co so phap ly", r"theo (van ban|quy dinh) nao", r"so hieu", r"thuc hien theo (nghi|quyet|van)",
               r"vien dan", r"trich dan", r"dieu khoan", r"ban hanh ngay", r"ngay ban hanh")),
    ("number", (r"\bty le\b", r"\bchi tieu\b", r"toi thieu", r"bao nhieu")),
]
# question words and phrases: how people ask, not what they ask about
_QPHRASES = re.compile(r"\b(co quan|don vi|chu tri|phoi hop|thuc hien|thoi gian|san pham|nhiem vu|bao nhieu|nhu the nao|"
                       r"the nao|la gi|cho biet|vui long|xin hoi|mong doi|bao lau|mot lan|bo phan|ke hoach (?=cchc|cai cach))\b")
_NUMBER_WORDS = re.compile(r"\b(ty le|chi tieu|muc tieu|phan dau|toi thieu|dat|muc|phan tram|bao nhieu)\b")
_QWORDS = frozenset(
    "ai gi nao dau khi may sao the vay a oi nhe khong chua hay la thi duoc lam phai hoi toi minh em anh chi "
    "ten han viec giup nham bang lan nhieu ".split()
)
_PLACE_CASED = re.compile(r"\b(?:[Pp]hường|[Xx]ã|[Tt]hị trấn|[Qq]uận|[Hh]uyện|[Tt]ỉnh|[Tt]hành phố|TP\.?)\s+((?:\w+\s?){1,4})")
_PLACE_FOLDED = re.compile(r"\b(?:phuong|xa)\s+((?:[a-z]+\s?){1,3})")
_NOT_NAME = frozenset("co la thi ve trong da can nao gi duoc phai lam chu tri va cua cac o tai theo hoi "
                      "nhiem vu ke hoach phoi hop thuc hien bao nhieu ai khi".split())


def _places(text: str, folded: str) -> list[str]:
    """Place names a question mentions: capitalised words after "phường", "xã", "tỉnh"…; in a question typed all
    lower- or upper-case, only the words after "phường"/"xã" that are not common words."""
    places = []
    if text.islower() or text.isupper():
        for m in _PLACE_FOLDED.finditer(folded):
            words = []
            for w in m.group(1).split():
                if w in _NOT_NAME:
                    break
                words.append(w)
            if words:
                places.append(" ".join(words))
        return places
    for m in _PLACE_CASED.finditer(text):
        words = []
        for w in m.group(1).split():
            if not w[0].isupper():
                break
            words.append(w)
        if words:
            places.append(fold(" ".join(words)))
    return places
_YEAR = re.compile(r"\b(20[0-9]{2})\b")
_PERIOD = re.compile(r"\b(20[0-9]{2})\s*-\s*(20[0-9]{2})\b")


@dataclass
class Question:
    text: str  # cleaned (NFC, dashes, whitespace)
    folded: str
    kind: str
    topic: list[str]  # folded content words (not question words)
    legal_keys: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    places: list[str] = field(default_factory=list)  # folded place names mentioned ("nghia lo", "hai chau")


def classify(folded: str) -> str:
    for kind, patterns in _KINDS:
        if any(re.search(p, folded) for p in patterns):
            return kind
    return "general"


def analyze(question: str) -> Question:
    text = clean(question)
    folded = fold(text)
    expanded = _QPHRASES.sub(" ", expand_abbreviations(folded))
    words = re.findall(r"[a-z0-9%]+", expanded)
    topic = [w for w in words if w not in STOP and w not in _QWORDS and len(w) > 1]
    years = sorted({int(y) for y in _YEAR.findall(folded)})
    for a, b in _PERIOD.findall(folded):
        years += [int(a), int(b)]
    places = _places(text, folded)
    kind = classify(folded)
    if kind == "number":  # "tỷ lệ", "chỉ tiêu", "phấn đấu … đạt" ask for a figure; they are not its subject
        asked = set(re.findall(r"[a-z]+", _NUMBER_WORDS.sub(" ", folded)))
        topic = [w for w in topic if w in asked or w.isdigit()]
    return Question(text=text, folded=folded, kind=kind, topic=topic, legal_keys=query_keys(text),
                    years=sorted(set(years)), places=places)
