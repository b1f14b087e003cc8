"""What a pull device should play: its schedule, as the agent downloads it.

Two sources, one item shape (id ``<bulletin>:<occurrence>``, the ledger's occurrence):
- occurrences already started: the device's open ledger rows (emergencies appear here the
  moment the worker starts them);
- occurrences still to come within ``HORIZON``, from the schedules whose bulletin targets
  the device's area or an area above it and whose audio is rendered already (the worker
  renders ahead), so a cluster that loses its 4G link keeps playing its day on time.
An item expires if it could not be played in time (an old programme is not news).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Area, Artifact, Bulletin, Delivery, Device, Render, Schedule, Target, utcnow

HORIZON = timedelta(hours=24)
EXPIRES = {"emergency": timedelta(minutes=30), "priority": timedelta(hours=2), "normal": timedelta(hours=3)}
OPEN_ROWS = ("pending", "in_progress", "retry", "sent")
PURPOSE = "loudspeaker"
OCCURRENCE_BASE = 100000  # occurrence id = schedule id * base + occurrence number (see the dispatcher)


@dataclass(frozen=True)
class Item:
    id: str
    bulletin: int
    title: str
    priority: str
    play_at: str  # ISO 8601, UTC
    expires_at: str
    sha256: str
    size: int
    media_type: str
    duration: float
    audio_url: str


async def ancestors(session: AsyncSession, area_id: int) -> list[int]:
    chain: list[int] = []
    current: int | None = area_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(current)
        current = (await session.execute(select(Area.parent_id).where(Area.id == current))).scalar_one_or_none()
    return chain


def _item(bulletin: Bulletin, occurrence: int, play_at: datetime, render: Render, artifact: Artifact) -> Item:
    return Item(
        id=f"{bulletin.id}:{occurrence}",
        bulletin=bulletin.id,
        title=bulletin.title,
        priority=bulletin.priority,
        play_at=play_at.isoformat(),
        expires_at=(play_at + EXPIRES[bulletin.priority]).isoformat(),
        sha256=artifact.sha256,
        size=artifact.size,
        media_type=artifact.media_type,
        duration=round(render.duration_seconds, 2),
        audio_url=f"/api/device/v1/audio/{artifact.sha256}",
    )


def _rendered() -> Any:  # a Select of (Bulletin, Render, Artifact), extended by the callers
    return (
        select(Bulletin, Render, Artifact)
        .join(Render, (Render.bulletin_id == Bulletin.id) & (Render.version == Bulletin.version))
        .join(Artifact, Artifact.sha256 == Render.artifact_sha256)
        .where(Render.purpose == PURPOSE)
    )


async def items_for(session: AsyncSession, device: Device) -> list[Item]:
    now = utcnow()
    items: dict[str, Item] = {}
    started = await session.execute(
        _rendered()
        .add_columns(Delivery.occurrence, Delivery.created_at)
        .join(Delivery, Delivery.bulletin_id == Bulletin.id)
        .where(
            Delivery.channel == PURPOSE,
            Delivery.target == device.code,
            Delivery.state.in_(OPEN_ROWS),
            Delivery.created_at >= now - timedelta(hours=12),
        )
    )
    for bulletin, render, artifact, occurrence, created in started.all():
        item = _item(bulletin, occurrence, created, render, artifact)
        items[item.id] = item
    areas = await ancestors(session, device.area_id)
    upcoming = await session.execute(
        _rendered()
        .add_columns(Schedule.id, Schedule.occurrence, Schedule.run_at)
        .join(Schedule, Schedule.bulletin_id == Bulletin.id)
        .join(Target, Target.bulletin_id == Bulletin.id)
        .where(
            Schedule.done.is_(False),
            Schedule.run_at <= now + HORIZON,
            Target.channel == PURPOSE,
            Target.area_id.in_(areas),
            Bulletin.status.in_(("scheduled", "delivering", "done", "partly_failed")),
        )
    )
    for bulletin, render, artifact, schedule_id, number, run_at in upcoming.all():
        item = _item(bulletin, schedule_id * OCCURRENCE_BASE + number, run_at, render, artifact)
        items.setdefault(item.id, item)
    return sorted(items.values(), key=lambda i: (i.play_at, i.id))


def document(device: Device, items: list[Item]) -> tuple[dict[str, object], str]:
    """The schedule as JSON and its ETag (changes whenever anything the agent acts on does)."""
    body: dict[str, object] = {
        "device": {"code": device.code, "volume": device.volume, "windows": device.windows},
        "items": [asdict(i) for i in items],
    }
    etag = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return body, f'"{etag}"'
