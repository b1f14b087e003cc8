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
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Area, Artifact, Bulletin, Delivery, Render, Schedule, Target, utcnow


class DeviceLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def area_id(self) -> int: ...
    @property
    def volume(self) -> int: ...
    @property
    def windows(self) -> str: ...


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


class _AreaTree:
    """Area parents, loaded whole and kept for ``TTL`` seconds (areas change rarely)."""

    TTL = 30.0

    def __init__(self) -> None:
        self.parents: dict[int, int | None] = {}
        self.loaded = 0.0

    async def chain(self, session: AsyncSession, area_id: int) -> list[int]:
        if time.monotonic() - self.loaded > self.TTL or area_id not in self.parents:
            rows = (await session.execute(select(Area.id, Area.parent_id))).all()
            self.parents = {area_id: parent for area_id, parent in rows}
            self.loaded = time.monotonic()
        chain: list[int] = []
        current: int | None = area_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain


_trees: dict[int, _AreaTree] = {}  # per database (engine), as a process may serve one only in practice
_upcoming: dict[tuple[int, tuple[int, ...]], tuple[float, list[Item]]] = {}
UPCOMING_TTL = 2.0  # devices of one village share the answer for this long
_started: dict[tuple[int, str], tuple[float, list[Item]]] = {}
STARTED_TTL = 2.0  # a device polling every few seconds costs one query per this long


async def ancestors(session: AsyncSession, area_id: int) -> list[int]:
    tree = _trees.setdefault(id(session.get_bind()), _AreaTree())
    return await tree.chain(session, area_id)


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


async def items_for(session: AsyncSession, device: DeviceLike) -> list[Item]:
    items: dict[str, Item] = {item.id: item for item in await _started_for(session, device.code)}
    areas = await ancestors(session, device.area_id)
    for item in await _upcoming_for(session, tuple(areas)):
        items.setdefault(item.id, item)
    return sorted(items.values(), key=lambda i: (i.play_at, i.id))


async def _started_for(session: AsyncSession, code: str) -> list[Item]:
    """The device's open ledger rows as items; kept ``STARTED_TTL`` seconds, dropped at once
    when the channel queues something (``forget``) or the device reports (``forget_device``)."""
    key = (id(session.get_bind()), code)
    cached = _started.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    now = utcnow()
    started = await session.execute(
        _rendered()
        .add_columns(Delivery.occurrence, Delivery.created_at)
        .join(Delivery, Delivery.bulletin_id == Bulletin.id)
        .where(
            Delivery.channel == PURPOSE,
            Delivery.target == code,
            Delivery.state.in_(OPEN_ROWS),
            Delivery.created_at >= now - timedelta(hours=12),
        )
    )
    found = [
        _item(bulletin, occurrence, created, render, artifact)
        for bulletin, render, artifact, occurrence, created in started.all()
    ]
    if len(_started) > 100_000:
        _started.clear()
    _started[key] = (time.monotonic() + STARTED_TTL, found)
    return found


async def _upcoming_for(session: AsyncSession, areas: tuple[int, ...]) -> list[Item]:
    key = (id(session.get_bind()), areas)
    cached = _upcoming.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    now = utcnow()
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
    found = [
        _item(bulletin, schedule_id * OCCURRENCE_BASE + number, run_at, render, artifact)
        for bulletin, render, artifact, schedule_id, number, run_at in upcoming.all()
    ]
    if len(_upcoming) > 10_000:
        _upcoming.clear()
    _upcoming[key] = (time.monotonic() + UPCOMING_TTL, found)
    return found


def forget() -> None:
    """A schedule changed: answer from the database again (the loudspeaker channel calls
    this when it queues an item, before it wakes the long-polling clusters)."""
    _upcoming.clear()
    _started.clear()


def forget_device(code: str) -> None:
    """The device reported: its open rows may have been settled."""
    for key in [k for k in _started if k[1] == code]:
        _started.pop(key, None)


def document(device: DeviceLike, items: list[Item]) -> tuple[dict[str, object], str]:
    """The schedule as JSON and its ETag (changes whenever anything the agent acts on does)."""
    body: dict[str, object] = {
        "device": {"code": device.code, "volume": device.volume, "windows": device.windows},
        "items": [asdict(i) for i in items],
    }
    etag = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return body, f'"{etag}"'
