"""CAP 1.2 alerts (OASIS Common Alerting Protocol) -> a checked, typed message.

Parsing uses defusedxml (no DTDs, no entity expansion). The alert is checked element by
element first (§3.2: identifier, sender, sent, status, msgType, scope; each info:
category, event, urgency, severity, certainty), with Vietnamese messages naming the
field, then against the whole OASIS CAP 1.2 schema (``cap_schema``). Of several
``<info>`` blocks the Vietnamese one (``vi``, ``vi-VN``) is used, else the first.
Severity and urgency decide the level (Thông tư 39/2020): Extreme or Severe, and
Immediate or Expected -> emergency; anything else -> priority. This module never
touches the database: ``cap_ingest`` decides what the message does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from gateway.bulletins import cap_schema
from gateway.bulletins.errors import WorkflowError

NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
STATUS = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
URGENCY = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITY = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTY = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
MAX_BYTES = 256 * 1024
FORBIDDEN_IN_ID = (" ", ",", "<", "&", "\t", "\n")  # §3.2.1 identifier and sender


@dataclass(frozen=True)
class Reference:
    """One ``sender,identifier,sent`` entry of ``<references>`` (§3.2.1)."""

    sender: str
    identifier: str
    sent: str

    @property
    def key(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    scope: str
    references: tuple[Reference, ...]
    event: str
    urgency: str
    severity: str
    headline: str
    description: str
    instruction: str
    language: str = ""
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    area_codes: tuple[str, ...] = field(default_factory=tuple)
    area_names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"

    @property
    def priority(self) -> str:
        urgent = self.urgency in ("Immediate", "Expected")
        return "emergency" if self.severity in ("Extreme", "Severe") and urgent else "priority"

    @property
    def text(self) -> str:
        return "\n".join(p for p in (self.description, self.instruction) if p) or self.headline or self.event

    @property
    def air_from(self) -> datetime | None:
        """The earliest air time: ``onset`` if given, else ``effective`` (§3.2.2)."""
        return self.onset or self.effective


def _text(node: object, name: str, where: str, required: bool = True, allowed: tuple[str, ...] = ()) -> str:
    child = node.find(NS + name)  # type: ignore[attr-defined]
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise WorkflowError(f"{where}.{name}", f"CAP 1.2 bắt buộc có phần tử <{name}>", 422)
    if value and allowed and value not in allowed:
        raise WorkflowError(f"{where}.{name}", f"<{name}> phải là một trong: {', '.join(allowed)}", 422)
    return value


def _time(node: object, name: str, where: str, required: bool = False) -> datetime | None:
    value = _text(node, name, where, required=required)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise WorkflowError(
            f"{where}.{name}", f"<{name}> phải là thời điểm kèm múi giờ, ví dụ 2026-11-23T06:00:00+07:00", 422
        )
    return moment


def _identifier(root: object, name: str) -> str:
    value = _text(root, name, "alert")
    if any(c in value for c in FORBIDDEN_IN_ID):
        raise WorkflowError(
            f"alert.{name}", f"<{name}> không được chứa dấu cách, dấu phẩy, '<' hay '&' (CAP 1.2 §3.2.1)", 422
        )
    return value


def _references(root: object, msg_type: str) -> tuple[Reference, ...]:
    raw = _text(root, "references", "alert", required=msg_type in ("Update", "Cancel"))
    out = []
    for entry in raw.split():
        parts = entry.split(",")
        if len(parts) != 3 or not all(parts):
            raise WorkflowError(
                "alert.references", f"mục '{entry}' phải có dạng sender,identifier,sent (CAP 1.2 §3.2.1)", 422
            )
        out.append(Reference(*parts))
    return tuple(out)


def _choose(infos: list[object]) -> object | None:
    """The Vietnamese block if there is one (vi, vi-VN, vi-...), else the first."""
    for info in infos:
        language = _text(info, "language", "info", required=False).lower()
        if language == "vi" or language.startswith("vi-"):
            return info
    return infos[0] if infos else None


def parse_cap(data: bytes) -> CapAlert:
    if len(data) > MAX_BYTES:
        raise WorkflowError("body", f"cảnh báo CAP quá lớn (tối đa {MAX_BYTES // 1024} KB)", 413)
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise WorkflowError("body", f"XML không hợp lệ hoặc bị cấm (DTD/entity): {exc}", 422) from exc
    if root.tag != NS + "alert":
        raise WorkflowError(
            "alert",
            "phần tử gốc phải là <alert> trong không gian tên CAP 1.2 (urn:oasis:names:tc:emergency:cap:1.2)",
            422,
        )
    identifier, sender = _identifier(root, "identifier"), _identifier(root, "sender")
    sent = _text(root, "sent", "alert")
    _time(root, "sent", "alert", required=True)
    status = _text(root, "status", "alert", allowed=STATUS)
    msg_type = _text(root, "msgType", "alert", allowed=MSG_TYPES)
    scope = _text(root, "scope", "alert", allowed=SCOPES)
    references = _references(root, msg_type)
    infos = root.findall(NS + "info")
    if not infos and msg_type in ("Alert", "Update"):
        raise WorkflowError("alert.info", "cảnh báo CAP cần ít nhất một <info>", 422)
    info = _choose(infos)
    event = urgency = severity = headline = description = instruction = language = ""
    effective = onset = expires = None
    codes: list[str] = []
    names: list[str] = []
    if info is not None:
        for category in info.findall(NS + "category"):  # type: ignore[attr-defined]
            if (category.text or "").strip() not in CATEGORIES:
                raise WorkflowError("info.category", f"<category> phải là một trong: {', '.join(CATEGORIES)}", 422)
        if not info.findall(NS + "category"):  # type: ignore[attr-defined]
            raise WorkflowError("info.category", "CAP 1.2 bắt buộc có phần tử <category>", 422)
        language = _text(info, "language", "info", required=False)
        event = _text(info, "event", "info")
        urgency = _text(info, "urgency", "info", allowed=URGENCY)
        severity = _text(info, "severity", "info", allowed=SEVERITY)
        _text(info, "certainty", "info", allowed=CERTAINTY)
        effective, onset, expires = (_time(info, name, "info") for name in ("effective", "onset", "expires"))
        headline = _text(info, "headline", "info", required=False)
        description = _text(info, "description", "info", required=False)
        instruction = _text(info, "instruction", "info", required=False)
        for area in info.findall(NS + "area"):  # type: ignore[attr-defined]
            names.append(_text(area, "areaDesc", "info.area"))
            codes += [(g.findtext(NS + "value") or "").strip() for g in area.findall(NS + "geocode")]
    cap_schema.validate(root)
    return CapAlert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=scope,
        references=references,
        event=event,
        urgency=urgency,
        severity=severity,
        headline=headline,
        description=description,
        instruction=instruction,
        language=language,
        effective=effective,
        onset=onset,
        expires=expires,
        area_codes=tuple(c for c in codes if c),
        area_names=tuple(names),
    )
