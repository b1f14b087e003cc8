"""The feedback taxonomy (editable data file) and the keyword rules that suggest a category."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gateway.vietnamese import fold

DATA = Path(__file__).parent / "data" / "categories.tsv"
DEFAULT = "khac"


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    sla_hours: int
    keywords: tuple[str, ...]


@lru_cache(maxsize=4)
def load(path: Path = DATA) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2].isdigit():
            raise ValueError(f"{path.name}, dòng {number}: cần mã<TAB>tên<TAB>số giờ xử lý[<TAB>từ khóa]")
        keywords = tuple(fold(k) for k in (parts[3] if len(parts) > 3 else "").split(",") if k.strip())
        categories[parts[0]] = Category(parts[0], parts[1], int(parts[2]), keywords)
    if DEFAULT not in categories:
        raise ValueError(f"{path.name}: thiếu nhóm mặc định '{DEFAULT}'")
    return categories


def suggest(text: str, categories: dict[str, Category] | None = None) -> str:
    """The category whose keywords match most (longer phrases weigh more); 'khac' if none."""
    categories = categories or load()
    folded = f" {fold(text)} "
    best, score = DEFAULT, 0
    for category in categories.values():
        points = sum(len(k.split()) for k in category.keywords if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", folded))
        if points > score:
            best, score = category.code, points
    return best
