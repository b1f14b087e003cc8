"""Issue 18: docs/configuration.md is the full reference: every key of ``loa.toml`` (the
fields of the settings dataclasses) has its row, so a key added without documentation
fails here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gateway.config import AsteriskServer, QuietHours, Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_config_docs_list_every_key_with_its_row() -> None:
    text = DOC.read_text(encoding="utf-8")
    nested = {"asterisk", "quiet_hours"}
    for kind in (Settings, AsteriskServer, QuietHours):
        for field in dataclasses.fields(kind):
            if field.name not in nested:
                assert f"| `{field.name}` |" in text, f"{field.name} has no row in docs/configuration.md"
    for table in ("[[asterisk]]", "[quiet_hours.sms]", "[quiet_hours.call]"):
        assert table in text
