"""CAP 1.2 alerts (OASIS Common Alerting Protocol) -> bulletins.

Parsing uses defusedxml (no DTDs, no entity expansion). The alert is checked against
CAP 1.2's required elements and value lists (§3.2: identifier, sender, sent, status,
msgType, scope; each info: category, event, urgency, severity, certainty). Severity and
urgency decide the level (Thông tư 39/2020): Extreme or Severe, and Immediate or
Expected -> emergency; anything else -> priority. Areas are matched by geocode value =
Loa area code, then by areaDesc = area name. msgType Update replaces the referenced
alert's bulletin; Cancel cancels it and its undelivered rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

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


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    references: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    headline: str
    description: str
    instruction: str
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


def _text(node: object, name: str, where: str, required: bool = True, allowed: tuple[str, ...] = ()) -> str:
    child = node.find(NS + name)  # type: ignore[attr-defined]
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise WorkflowError(f"{where}.{name}", f"CAP 1.2 bắt buộc có phần tử <{name}>", 422)
    if value and allowed and value not in allowed:
        raise WorkflowError(f"{where}.{name}", f"<{name}> phải là một trong: {', '.join(allowed)}", 422)
    return value


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
    sent = _text(root, "sent", "alert")
    try:
        if datetime.fromisoformat(sent).tzinfo is None:
            raise ValueError
    except ValueError as exc:
        raise WorkflowError(
            "alert.sent", "<sent> phải là thời điểm kèm múi giờ, ví dụ 2026-11-23T06:00:00+07:00", 422
        ) from exc
    msg_type = _text(root, "msgType", "alert", allowed=MSG_TYPES)
    references = tuple(_text(root, "references", "alert", required=msg_type in ("Update", "Cancel")).split())
    infos = root.findall(NS + "info")
    if not infos and msg_type != "Cancel":
        raise WorkflowError("alert.info", "cảnh báo CAP cần ít nhất một <info>", 422)
    info = next(
        (i for i in infos if _text(i, "language", "info", required=False).lower().startswith("vi")),
        infos[0] if infos else None,
    )
    event = urgency = severity = headline = description = instruction = ""
    codes: list[str] = []
    names: list[str] = []
    if info is not None:
        for category in info.findall(NS + "category"):
            if (category.text or "").strip() not in CATEGORIES:
                raise WorkflowError("info.category", f"<category> phải là một trong: {', '.join(CATEGORIES)}", 422)
        if not info.findall(NS + "category"):
            raise WorkflowError("info.category", "CAP 1.2 bắt buộc có phần tử <category>", 422)
        event = _text(info, "event", "info")
        urgency = _text(info, "urgency", "info", allowed=URGENCY)
        severity = _text(info, "severity", "info", allowed=SEVERITY)
        _text(info, "certainty", "info", allowed=CERTAINTY)
        headline = _text(info, "headline", "info", required=False)
        description = _text(info, "description", "info", required=False)
        instruction = _text(info, "instruction", "info", required=False)
        for area in info.findall(NS + "area"):
            names.append(_text(area, "areaDesc", "info.area"))
            codes += [(g.findtext(NS + "value") or "").strip() for g in area.findall(NS + "geocode")]
    return CapAlert(
        identifier=_text(root, "identifier", "alert"),
        sender=_text(root, "sender", "alert"),
        sent=sent,
        status=_text(root, "status", "alert", allowed=STATUS),
        msg_type=msg_type,
        references=references,
        event=event,
        urgency=urgency,
        severity=severity,
        headline=headline,
        description=description,
        instruction=instruction,
        area_codes=tuple(c for c in codes if c),
        area_names=tuple(names),
    )
