"""Imports point one way (STYLE.md rule 2): a channel maps its events onto the domain, the
domain never reaches into a channel. The SMS channel files residents' messages as cases
(``gateway.sms`` -> ``gateway.feedback``), so feedback never imports the SMS package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_feedback_never_imports_the_sms_channel() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.startswith("gateway.sms"))
        for path in sorted((ROOT / "gateway" / "feedback").rglob("*.py"))
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}
