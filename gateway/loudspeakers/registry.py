"""The device registry: clusters with their area, kind, token, volume and play windows."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, Device, utcnow

KINDS = ("pull", "rtp", "stream")
CODECS = ("pcmu", "pcma", "g722", "opus")
ONLINE_FOR = timedelta(seconds=90)  # three missed 30-second polls and a device shows offline
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class DeviceIn:
    code: str
    name: str
    area: str
    kind: str = "pull"
    volume: int = 80
    windows: str = ""
    rtp_address: str = ""
    codec: str = "pcmu"


def check(data: DeviceIn) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}", data.code):
        raise WorkflowError("code", "mã thiết bị: chữ, số, '.', '_' hoặc '-', tối đa 40 ký tự", 422)
    if data.kind not in KINDS:
        raise WorkflowError("kind", f"loại thiết bị phải là một trong: {', '.join(KINDS)}", 422)
    if not 0 <= data.volume <= 100:
        raise WorkflowError("volume", "âm lượng từ 0 đến 100", 422)
    for window in filter(None, (w.strip() for w in data.windows.split(","))):
        if not _WINDOW.match(window):
            raise WorkflowError("windows", "khung giờ có dạng GG:PP-GG:PP, cách nhau bằng dấu phẩy", 422)
    if data.kind == "stream" and not (
        data.rtp_address.startswith(("http://", "https://")) or data.rtp_address == "loa:live"
    ):
        raise WorkflowError(
            "rtp_address",
            "thiết bị thu luồng cần địa chỉ mount Icecast (ví dụ http://127.0.0.1:8000/loa.mp3)"
            " hoặc loa:live (luồng nghe trực tiếp của chính cổng Loa, /public/live.mp3)",
            422,
        )
    if data.kind == "rtp":
        host, _, port = data.rtp_address.rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or not 1 <= int(port) <= 65535:
            raise WorkflowError("rtp_address", "loa RTP cần địa chỉ dạng máy:cổng, ví dụ 239.10.0.1:5004", 422)
        if data.codec not in CODECS:
            raise WorkflowError("codec", f"mã hóa phải là một trong: {', '.join(CODECS)}", 422)


async def create(session: AsyncSession, actor: str, data: DeviceIn) -> tuple[Device, str]:
    """Register a device; returns it with its token, which is shown this once."""
    check(data)
    area = (await session.execute(select(Area).where(Area.code == data.area))).scalar_one_or_none()
    if area is None:
        raise WorkflowError("area", f"không có địa bàn mã '{data.area}'", 422)
    if (await session.execute(select(Device.id).where(Device.code == data.code))).first():
        raise WorkflowError("code", f"đã có thiết bị mã '{data.code}'", 409)
    token = secrets.token_urlsafe(24)
    device = Device(
        code=data.code,
        name=data.name,
        area_id=area.id,
        kind=data.kind,
        volume=data.volume,
        windows=data.windows.replace(" ", ""),
        rtp_address=data.rtp_address,
        codec=data.codec,
        token_sha256=token_hash(token) if data.kind == "pull" else "",
    )
    session.add(device)
    await audit(session, actor, "device_create", "device", data.code, kind=data.kind, area=data.area)
    await session.commit()
    return device, token


async def update(session: AsyncSession, actor: str, data: DeviceIn, enabled: bool, tokens: DeviceTokens) -> Device:
    """Correct a device (name, area, air windows, RTP address and codec; not its code or
    kind) or switch it off: a disabled device receives nothing and its token stops working."""
    device = await get(session, data.code)
    check(DeviceIn(data.code, data.name, data.area, device.kind, device.volume, data.windows,
                    data.rtp_address if device.kind != "pull" else "", data.codec))  # fmt: skip
    area = (await session.execute(select(Area).where(Area.code == data.area))).scalar_one_or_none()
    if area is None:
        raise WorkflowError("area", f"không có địa bàn mã '{data.area}'", 422)
    if not data.name.strip():
        raise WorkflowError("name", "tên thiết bị không được để trống", 422)
    device.name, device.area_id, device.windows = data.name.strip(), area.id, data.windows.replace(" ", "")
    if device.kind != "pull":
        device.rtp_address, device.codec = data.rtp_address, data.codec
    device.enabled = enabled
    await audit(session, actor, "device_update", "device", data.code, area=data.area, enabled=enabled)
    await session.commit()
    tokens.forget()  # this process's table; the others reload within AUTH_TTL
    return device


async def rotate_token(session: AsyncSession, actor: str, code: str, tokens: DeviceTokens) -> str:
    device = await get(session, code)
    token = secrets.token_urlsafe(24)
    device.token_sha256 = token_hash(token)
    await audit(session, actor, "device_token", "device", code)
    await session.commit()
    tokens.forget()  # this process's table; the others reload within AUTH_TTL
    return token


async def get(session: AsyncSession, code: str) -> Device:
    device = (await session.execute(select(Device).where(Device.code == code))).scalar_one_or_none()
    if device is None:
        raise WorkflowError("code", f"không có thiết bị mã '{code}'", 404)
    return device


@dataclass(frozen=True)
class DeviceRef:
    """What the pull API needs of a device, cached per token for ``AUTH_TTL``."""

    id: int
    code: str
    area_id: int
    volume: int
    windows: str


log = logging.getLogger(__name__)
AUTH_TTL = 15.0  # seconds a disabled device or a rotated token may still be answered


class DeviceTokens:
    """Every enabled device by token hash, loaded with one query every ``AUTH_TTL``: 5,000
    clusters polling once each cost no query per poll. A token not in the table (a device
    registered since, maybe by another process) is looked up alone. One per process's
    ``Services`` (``device_tokens``), for its one database."""

    def __init__(self) -> None:
        self.by_hash: dict[str, DeviceRef] = {}
        self.expires = 0.0
        self.lock = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.refresh: asyncio.Task[None] | None = None

    async def get(self, session: AsyncSession, digest: str) -> DeviceRef | None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a lock belongs to one event loop
            self.lock, self.loop = asyncio.Lock(), loop
        if self.expires <= time.monotonic():
            if not self.by_hash:
                async with self.lock:  # cold start: everyone waits for the one load
                    if self.expires <= time.monotonic():
                        await self._load(session)
            elif self.refresh is None or self.refresh.done():  # the others go on with the old table
                self.refresh = asyncio.create_task(self._refresh(session.bind))
        ref = self.by_hash.get(digest)
        if ref is not None:
            return ref
        columns = (Device.id, Device.code, Device.area_id, Device.volume, Device.windows)
        query = select(*columns).where(Device.token_sha256 == digest, Device.enabled.is_(True))
        row = (await session.execute(query)).first()
        if row is None:
            return None
        self.by_hash[digest] = DeviceRef(row[0], row[1], row[2], row[3], row[4])
        return self.by_hash[digest]

    async def _load(self, session: AsyncSession) -> None:
        """Plain rows, not ORM objects: thousands of devices load in milliseconds."""
        columns = (Device.token_sha256, Device.id, Device.code, Device.area_id, Device.volume, Device.windows)
        rows = (await session.execute(select(*columns).where(Device.enabled.is_(True)))).all()
        self.by_hash = {r[0]: DeviceRef(r[1], r[2], r[3], r[4], r[5]) for r in rows if r[0]}
        self.expires = time.monotonic() + AUTH_TTL

    async def _refresh(self, bind: Any) -> None:
        try:
            async with AsyncSession(bind) as session:
                await self._load(session)
        except Exception:  # the old table stays; the next poll after AUTH_TTL tries again
            log.exception("reloading the device tokens failed")
            self.expires = time.monotonic() + AUTH_TTL


    def forget(self) -> None:
        """After a token rotation or a device change, answer from the database again."""
        self.expires = 0.0
        self.by_hash = {}


async def authenticate(session: AsyncSession, token: str, tokens: DeviceTokens) -> DeviceRef | None:
    if not token:
        return None
    return await tokens.get(session, token_hash(token))


def online(device: Device, now: datetime | None = None) -> bool:
    return device.last_seen_at is not None and (now or utcnow()) - device.last_seen_at <= ONLINE_FOR
