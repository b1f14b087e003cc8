"""The OASIS CAP 1.2 XML schema (Appendix A of the standard, shipped in ``schemas/``),
checked with xmlschema. An error names the element as a dotted path (``alert.sent``,
``info.urgency``, ``info.area.altitude``), like the element checks in ``cap.py``."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import xmlschema

from gateway.bulletins.errors import WorkflowError

XSD = Path(__file__).resolve().parent / "schemas" / "CAP-v1.2.xsd"
_LOCAL = re.compile(r"\{[^}]*\}")
_INDEX = re.compile(r"\[\d+\]")


@lru_cache(maxsize=1)
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _field(path: str | None, child: str | None = None) -> str:
    parts = [_INDEX.sub("", _LOCAL.sub("", p)) for p in (path or "").split("/") if p]
    if child:  # an element out of place: name it, not its parent
        parts.append(_LOCAL.sub("", child))
    if len(parts) > 1 and parts[1] == "info":
        parts = parts[1:]  # info-level fields are named info.X, as the element checks name them
    return ".".join(parts) or "alert"


def validate(root: Any) -> None:
    """Raise a 422 naming the first element that breaks the CAP 1.2 schema."""
    for error in schema().iter_errors(root):
        reason = (getattr(error, "reason", None) or str(error)).strip().splitlines()[0]
        raise WorkflowError(
            _field(getattr(error, "path", None), getattr(error, "invalid_tag", None)),
            f"không đúng lược đồ CAP 1.2 (OASIS CAP-v1.2.xsd): {reason}",
            422,
            rule="cap_schema",
        )
