"""Task field labels ("Cơ quan chủ trì thực hiện:", "Sản phẩm:" …) and appendix column names → roles."""

from __future__ import annotations

import re

from ..text.normalize import fold

# (folded label pattern, role) — first match wins; order matters ("phối hợp theo dõi" before "phối hợp").
_LABEL_ROLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^co quan chu tri"), "lead"),
    (re.compile(r"^chu tri"), "lead"),
    (re.compile(r"^co quan phoi hop"), "partners"),
    (re.compile(r"^phoi hop"), "partners"),
    (re.compile(r"^co quan thuc hien"), "executor"),
    (re.compile(r"^co quan de xuat"), "proposer"),
    (re.compile(r"^theo doi"), "monitor"),
    (re.compile(r"^san pham"), "product"),
    (re.compile(r"^thoi gian"), "deadline"),
    (re.compile(r"^nhiem vu"), "task"),
]
# A field line in the body: "Cơ quan …:", "Sản phẩm:", "Thời gian thực hiện:" (label ≤ 45 characters).
FIELD_LINE = re.compile(r"^(?P<label>(?:Cơ quan|Sản phẩm|Thời gian|Kinh phí)[^:\n]{0,45}?)\s*:\s*", re.IGNORECASE)

ROLE_NAMES = {
    "task": "Nhiệm vụ",
    "lead": "Cơ quan chủ trì",
    "partners": "Cơ quan phối hợp",
    "executor": "Cơ quan thực hiện",
    "proposer": "Cơ quan đề xuất",
    "monitor": "Theo dõi, kiểm tra, đôn đốc",
    "product": "Sản phẩm",
    "deadline": "Thời gian thực hiện",
    "other": "Khác",
}


def role_of(label: str) -> str:
    key = fold(label).strip()
    for pattern, role in _LABEL_ROLES:
        if pattern.search(key):
            return role
    return "other"
