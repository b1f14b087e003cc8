"""Per-deployment pronunciation overrides (written form -> spoken form), kept in
``<data_dir>/pronunciations.tsv`` and applied by every render and preview."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from gateway.bulletins.errors import WorkflowError
from tts.text.explain import CLASSES


def validate(written: str, spoken: str, only_class: str | None = None) -> tuple[str, str]:
    """An override; with ``only_class`` (a class of tts.text.explain.CLASSES) it is stored as
    ``spoken<TAB>class`` and applies only where that class of rule read the token."""
    if only_class and only_class not in CLASSES:
        raise WorkflowError("only_class", f"loại '{only_class}' không có; dùng một trong {sorted(CLASSES)}", 422)
    written, spoken = _validate(written, spoken)
    return written, f"{spoken}\t{only_class}" if only_class else spoken


def _validate(written: str, spoken: str) -> tuple[str, str]:
    written = unicodedata.normalize("NFC", written.strip())
    spoken = unicodedata.normalize("NFC", " ".join(spoken.split()).lower())
    if not written or "\t" in written or "\n" in written:
        raise WorkflowError("written", "chữ viết không được trống và không chứa TAB", 422)
    if not spoken or not all(ch.isalpha() or ch == " " for ch in spoken):
        raise WorkflowError("spoken", "cách đọc chỉ gồm chữ và khoảng trắng, không có số hay ký hiệu", 422)
    return written, spoken


class Pronunciations:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        entries: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if "\t" in line and not line.startswith("#"):
                written, spoken = line.split("\t", 1)
                entries[written] = spoken
        return entries

    def save(self, entries: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = "".join(f"{w}\t{s}\n" for w, s in sorted(entries.items()))
        tmp.write_text("# chữ viết<TAB>cách đọc — sửa trong bảng điều khiển Loa\n" + body, encoding="utf-8")
        os.replace(tmp, self.path)

    def put(self, written: str, spoken: str, only_class: str | None = None) -> dict[str, str]:
        written, spoken = validate(written, spoken, only_class)
        entries = self.load()
        entries[written] = spoken
        self.save(entries)
        return entries

    def remove(self, written: str) -> dict[str, str]:
        entries = self.load()
        if entries.pop(written.strip(), None) is None:
            raise WorkflowError("written", f"không có cách đọc riêng cho '{written}'", 404)
        self.save(entries)
        return entries
