"""What the approver needs on one screen before approving: who will receive the bulletin
(channel x area, how many, what SMS costs), what will be said (paragraphs, how long),
and the audio itself, rendered when the bulletin is submitted.

Also which channels this gateway has configured (only those are offered) and whether a
configured one is down, shown before submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import areas as areas_tree
from gateway.bulletins import service
from gateway.console import labels
from gateway.db.models import Area, Bulletin, Device
from gateway.sms import recipients
from gateway.sms.encoding import plan

SYLLABLES_PER_SECOND = 3.5  # a broadcast reading pace in Vietnamese, about 210 syllables a minute


@dataclass(frozen=True)
class TargetLine:
    channel: str
    area: str
    level: str
    reach: str


def configured(services: Any) -> list[str]:
    """The channels this gateway can deliver on, in the editor's order."""
    return [c for c in service.CHANNELS if c in services.channels]


def channel_health(services: Any) -> dict[str, str]:
    """A word for each configured channel that is down now (absent: working)."""
    down: dict[str, str] = {}
    sms = getattr(services, "sms", None)
    if sms is not None:
        state = sms.transport.status()
        if not state.get("connected", True):
            down["sms"] = f"đang mất kết nối tổng đài nhắn tin ({state.get('last_error') or 'không rõ lý do'})"
    return down


def check_configured(services: Any, targets: tuple[tuple[str, str], ...]) -> None:
    from gateway.bulletins.errors import WorkflowError

    missing = sorted({c for c, _ in targets if c not in services.channels})
    if missing:
        names = ", ".join(labels.channel(c) for c in missing)
        raise WorkflowError("targets", f"kênh {names} chưa được cấu hình trên máy chủ này nên không chọn được", 422)


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", body) if p.strip()]


def estimated_seconds(title: str, body: str) -> int:
    syllables = len(re.findall(r"\w+", f"{title} {body}"))
    return max(1, round(syllables / SYLLABLES_PER_SECOND))


def duration_text(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} phút {whole % 60} giây" if whole >= 60 else f"{whole} giây"


async def target_lines(session: AsyncSession, bulletin: Bulletin) -> list[TargetLine]:
    lines = []
    parts = plan(bulletin.sms_text or bulletin.title).count
    for channel, area_id, _code in await service.targets_of(session, bulletin.id):
        area = await session.get(Area, area_id)
        assert area is not None  # a target's area is a foreign key
        if channel in ("sms", "call"):
            n = await recipients.count(session, [area_id])
            reach = f"{n} số điện thoại" + (f", {parts * n} tin ({parts} tin/người)" if channel == "sms" else "")
        elif channel == "loudspeaker":
            ids = await areas_tree.subtree(session, [area_id])
            enabled = select(func.count()).where(Device.area_id.in_(ids), Device.enabled.is_(True))
            n = int((await session.execute(enabled)).scalar_one())
            reach = f"{n} cụm loa/thiết bị"
        else:
            reach = "1 tệp âm thanh"
        lines.append(TargetLine(labels.channel(channel), area.name, labels.level(area.level), reach))
    return lines
