"""Proof of play: device reports into ``play_reports`` (each once, however often a device
retries) and into the ledger: ``finished`` settles the device's row as delivered, ``failed``
or ``expired`` as failed; ``started`` and ``interrupted`` are kept as evidence. A report
for an occurrence the server has not started yet (the device played from its own clock)
is kept; the row is settled when it is created."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Delivery, PlayReport, utcnow
from gateway.db.states import DeliveryState, ReceiptKind
from gateway.delivery import ledger

EVENTS = ("started", "finished", "interrupted", "failed", "expired")
SETTLES: dict[str, ReceiptKind] = {
    "finished": DeliveryState.DELIVERED,
    "failed": DeliveryState.FAILED,
    "expired": DeliveryState.FAILED,
}


@dataclass(frozen=True)
class ReportIn:
    item: str
    event: str
    at: datetime
    seq: int = 0
    detail: str = ""


def parse_item(item: str) -> tuple[int, int]:
    bulletin, _, occurrence = item.partition(":")
    if not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in (bulletin, occurrence)):
        raise WorkflowError("item", f"mã mục lịch '{item[:40]}' không hợp lệ (dạng <bản tin>:<lượt>)", 422)
    return int(bulletin), int(occurrence)


async def row_for(session: AsyncSession, code: str, item: str) -> Delivery | None:
    bulletin, occurrence = parse_item(item)
    query = select(Delivery).where(
        Delivery.bulletin_id == bulletin,
        Delivery.occurrence == occurrence,
        Delivery.channel == "loudspeaker",
        Delivery.target == code,
    )
    return (await session.execute(query)).scalar_one_or_none()


class Identified(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...


async def record(session: AsyncSession, device: Identified, reports: list[ReportIn]) -> tuple[int, int]:
    """Store and apply reports; (accepted, duplicates)."""
    accepted = duplicates = 0
    device_id, code = device.id, device.code  # a rollback below expires the object
    for report in reports:
        if report.event not in EVENTS:
            raise WorkflowError("event", f"sự kiện phải là một trong: {', '.join(EVENTS)}", 422)
        parse_item(report.item)
        at = report_time(report.at)
        session.add(
            PlayReport(
                device_id=device_id,
                item=report.item,
                event=report.event,
                seq=report.seq,
                device_at=at,
                detail=report.detail[:500],
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            duplicates += 1
            continue
        accepted += 1
        outcome = SETTLES.get(report.event)
        row = await row_for(session, code, report.item) if outcome else None
        if outcome and row is not None:
            detail = f"cụm loa báo {report.event} lúc {at:%H:%M:%S %d/%m} (UTC)"
            await ledger.confirm(session, row.id, outcome, f"{detail} {report.detail}".strip()[:500])
    return accepted, duplicates


async def finished_before(session: AsyncSession, device: Identified, item: str) -> PlayReport | None:
    """A final report that arrived before the server started the occurrence."""
    query = select(PlayReport).where(
        PlayReport.device_id == device.id, PlayReport.item == item, PlayReport.event.in_(tuple(SETTLES))
    )
    return (await session.execute(query.order_by(PlayReport.id.desc()).limit(1))).scalar_one_or_none()


def report_time(at: datetime) -> datetime:
    """A device's time in UTC (naive: already UTC); refused when UTC cannot hold it
    (0001-01-01T00:00+23:59 is year 0 in UTC)."""
    try:
        return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    except OverflowError as exc:
        raise WorkflowError("at", "thời điểm ngoài khoảng lịch dùng được (năm 1 đến 9999, theo UTC)", 422) from exc


def skew(device_clock: datetime) -> float:
    clock = device_clock if device_clock.tzinfo else device_clock.replace(tzinfo=UTC)
    return round((clock - utcnow()).total_seconds(), 1)
