"""What a pull device should play: its schedule, as the agent downloads it.

Two sources, one item shape (id ``<bulletin>:<occurrence>``, the ledger's occurrence):
- occurrences already started: the device's open ledger rows (emergencies appear here the
  moment the worker starts them);
- occurrences still to come within ``HORIZON``, from the schedules whose bulletin targets
  the device's area or an area above it and whose audio is rendered already (the worker
  renders ahead), so a cluster that loses its 4G link keeps playing its day on time.
An item expires if it could not be played in time (an old programme is not news), and
never later than its bulletin's ``expires_at`` (a CAP ``<expires>``): the agent never
starts an item past its expiry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.service import OFF_AIR
from gateway.db.models import Area, Artifact, Bulletin, Delivery, Render, Schedule, Target, utcnow
from gateway.db.states import DeliveryState


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
OPEN_ROWS = (DeliveryState.PENDING, DeliveryState.IN_PROGRESS, DeliveryState.RETRY, DeliveryState.SENT)
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


UPCOMING_TTL = 2.0  # devices of one village share the answer for this long
STARTED_TTL = 2.0


def _expiry(bulletin: Bulletin, play_at: datetime) -> datetime:
    own = play_at + EXPIRES[bulletin.priority]
    return min(own, bulletin.expires_at) if bulletin.expires_at is not None else own


def _item(bulletin: Bulletin, occurrence: int, play_at: datetime, render: Render, artifact: Artifact) -> Item:
    return Item(
        id=f"{bulletin.id}:{occurrence}",
        bulletin=bulletin.id,
        title=bulletin.title,
        priority=bulletin.priority,
        play_at=play_at.isoformat(),
        expires_at=_expiry(bulletin, play_at).isoformat(),
        sha256=artifact.sha256,
        size=artifact.size,
        media_type=artifact.media_type,
        duration=round(render.duration_seconds, 2),
        audio_url=f"/api/device/v1/audio/{artifact.sha256}",
    )


def _rendered() -> Any:  # a Select of (Bulletin, Render, Artifact), extended by the callers
    """Every item of the schedule comes through here: a cancelled or stopped bulletin is
    filtered once for both sources (a ``sent`` row of a stopped bulletin is not played)."""
    return (
        select(Bulletin, Render, Artifact)
        .join(Render, (Render.bulletin_id == Bulletin.id) & (Render.version == Bulletin.version))
        .join(Artifact, Artifact.sha256 == Render.artifact_sha256)
        .where(Render.purpose == PURPOSE, Bulletin.status.not_in(OFF_AIR))
    )


class _OpenRows:
    """Every device's open ledger rows, loaded with one query and kept ``STARTED_TTL``
    seconds: 5,000 clusters polling cost one query per TTL instead of one per poll; one
    reload serves all waiters. The channel drops it all when it queues an item
    (``forget``); a device that reported is read alone on its next poll (``forget_device``),
    so what it just played is off its schedule at once."""

    def __init__(self) -> None:
        self.by_device: dict[str, list[Item]] = {}
        self.expires = 0.0
        self.loaded = 0.0
        self.lock = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.dirty: set[str] = set()

    async def get(self, session: AsyncSession, code: str) -> list[Item]:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a lock belongs to one event loop
            self.lock, self.loop = asyncio.Lock(), loop
        if self.expires <= time.monotonic():
            async with self.lock:
                if self.expires <= time.monotonic():
                    self.by_device = await self._load(session, None)
                    self.loaded = time.monotonic()
                    self.expires = self.loaded + STARTED_TTL
                    self.dirty.clear()
        if code in self.dirty:
            self.dirty.discard(code)
            self.by_device.update({code: []} | await self._load(session, code))
        return self.by_device.get(code, [])

    @staticmethod
    async def _load(session: AsyncSession, code: str | None) -> dict[str, list[Item]]:
        query = (
            _rendered()
            .add_columns(Delivery.target, Delivery.occurrence, Delivery.created_at)
            .join(Delivery, Delivery.bulletin_id == Bulletin.id)
            .where(
                Delivery.channel == PURPOSE,
                Delivery.state.in_(OPEN_ROWS),
                Delivery.created_at >= utcnow() - timedelta(hours=12),
                Bulletin.expires_at.is_(None) | (Bulletin.expires_at > utcnow()),
            )
        )
        if code is not None:
            query = query.where(Delivery.target == code)
        by_device: dict[str, list[Item]] = {}
        for bulletin, render, artifact, target, occurrence, created in (await session.execute(query)).all():
            by_device.setdefault(target, []).append(_item(bulletin, occurrence, created, render, artifact))
        return by_device


OFF_AIR_WINDOW = timedelta(hours=12)  # as long as a row stays on a schedule (see _OpenRows._load)


class ScheduleCache:
    """One process's loudspeaker schedule caches, for one database: the area tree, the
    upcoming items per set of areas, the bulletins taken off the air lately, every device's
    open rows. Built once with the process's ``Services`` (gateway/app.py), never shared
    between two of them."""

    def __init__(self) -> None:
        self.tree = _AreaTree()
        self.upcoming: dict[tuple[int, ...], tuple[float, list[Item]]] = {}
        self.stopped: tuple[float, list[int]] | None = None  # bulletins taken off the air lately
        self.open_rows = _OpenRows()

    async def ancestors(self, session: AsyncSession, area_id: int) -> list[int]:
        return await self.tree.chain(session, area_id)

    async def items_for(self, session: AsyncSession, device: DeviceLike) -> list[Item]:
        items: dict[str, Item] = {item.id: item for item in await self.open_rows.get(session, device.code)}
        areas = await self.tree.chain(session, device.area_id)
        for item in await self._upcoming_for(session, tuple(areas)):
            items.setdefault(item.id, item)
        return sorted(items.values(), key=lambda i: (i.play_at, i.id))

    async def may_download(self, session: AsyncSession, device: DeviceLike, sha256: str) -> bool:
        """Whether ``sha256`` is loudspeaker audio meant for this device: on its schedule now, or
        of a bulletin its ledger rows name (a download resumed after the item was played).
        Nothing else: not residents' recordings, not another commune's audio."""
        if any(item.sha256 == sha256 for item in await self.items_for(session, device)):
            return True
        found = await session.execute(
            select(Render.id)
            .join(Delivery, Delivery.bulletin_id == Render.bulletin_id)
            .where(
                Render.artifact_sha256 == sha256,
                Render.purpose == PURPOSE,
                Delivery.channel == PURPOSE,
                Delivery.target == device.code,
            )
            .limit(1)
        )
        return found.first() is not None

    async def _upcoming_for(self, session: AsyncSession, areas: tuple[int, ...]) -> list[Item]:
        key = areas
        cached = self.upcoming.get(key)
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
                Schedule.paused.is_(False),
                Schedule.run_at <= now + HORIZON,
                Target.channel == PURPOSE,
                Target.area_id.in_(areas),
                Bulletin.status.in_(("scheduled", "delivering", "done", "partly_failed")),
                Bulletin.expires_at.is_(None) | (Bulletin.expires_at > Schedule.run_at),
            )
        )
        found = [
            _item(bulletin, schedule_id * OCCURRENCE_BASE + number, run_at, render, artifact)
            for bulletin, render, artifact, schedule_id, number, run_at in upcoming.all()
        ]
        if len(self.upcoming) > 10_000:
            self.upcoming.clear()
        self.upcoming[key] = (time.monotonic() + UPCOMING_TTL, found)
        return found

    async def off_air(self, session: AsyncSession) -> list[int]:
        """Bulletins stopped or cancelled within ``OFF_AIR_WINDOW``: the agent stops one it is
        playing at once, whatever its own copy of the schedule says (kept ``UPCOMING_TTL``
        seconds; ``forget`` drops it)."""
        cached = self.stopped
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = sorted(
            (
                await session.execute(
                    select(Bulletin.id).where(
                        Bulletin.status.in_(OFF_AIR), Bulletin.updated_at >= utcnow() - OFF_AIR_WINDOW
                    )
                )
            ).scalars()
        )
        self.stopped = (time.monotonic() + UPCOMING_TTL, found)
        return found

    def forget(self) -> None:
        """A schedule changed: answer from the database again (the loudspeaker channel calls
        this when it queues an item, before it wakes the long-polling clusters)."""
        self.upcoming.clear()
        self.stopped = None
        self.open_rows.expires = 0.0

    def forget_device(self, code: str) -> None:
        """A device reported: its open rows may have been settled."""
        self.open_rows.dirty.add(code)


def document(device: DeviceLike, items: list[Item], stopped: list[int] | None = None) -> tuple[dict[str, object], str]:
    """The schedule as JSON and its ETag (changes whenever anything the agent acts on does).
    ``stopped``: bulletins taken off the air; an agent playing one of them stops it."""
    body: dict[str, object] = {
        "device": {"code": device.code, "volume": device.volume, "windows": device.windows},
        "items": [asdict(i) for i in items],
        "stopped": stopped or [],
    }
    etag = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return body, f'"{etag}"'
