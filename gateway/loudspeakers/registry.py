"""The device registry: clusters with their area, kind, token, volume and play windows."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, Device, utcnow

KINDS = ("pull", "rtp", "stream")
CODECS = ("pcmu", "pcma", "g722")
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


def _check(data: DeviceIn) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}", data.code):
        raise WorkflowError("code", "mã thiết bị: chữ, số, '.', '_' hoặc '-', tối đa 40 ký tự", 422)
    if data.kind not in KINDS:
        raise WorkflowError("kind", f"loại thiết bị phải là một trong: {', '.join(KINDS)}", 422)
    if not 0 <= data.volume <= 100:
        raise WorkflowError("volume", "âm lượng từ 0 đến 100", 422)
    for window in filter(None, (w.strip() for w in data.windows.split(","))):
        if not _WINDOW.match(window):
            raise WorkflowError("windows", "khung giờ có dạng GG:PP-GG:PP, cách nhau bằng dấu phẩy", 422)
    if data.kind == "stream" and not data.rtp_address.startswith(("http://", "https://")):
        raise WorkflowError(
            "rtp_address", "thiết bị thu luồng cần địa chỉ mount Icecast, ví dụ http://127.0.0.1:8000/loa.mp3", 422
        )
    if data.kind == "rtp":
        host, _, port = data.rtp_address.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise WorkflowError("rtp_address", "loa RTP cần địa chỉ dạng máy:cổng, ví dụ 239.10.0.1:5004", 422)
        if data.codec not in CODECS:
            raise WorkflowError("codec", f"mã hóa phải là một trong: {', '.join(CODECS)}", 422)


async def create(session: AsyncSession, actor: str, data: DeviceIn) -> tuple[Device, str]:
    """Register a device; returns it with its token, which is shown this once."""
    _check(data)
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


async def rotate_token(session: AsyncSession, actor: str, code: str) -> str:
    device = await get(session, code)
    token = secrets.token_urlsafe(24)
    device.token_sha256 = token_hash(token)
    await audit(session, actor, "device_token", "device", code)
    await session.commit()
    forget_tokens()
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


AUTH_TTL = 15.0  # seconds a disabled device or a rotated token may still be answered
_auth: dict[str, tuple[float, DeviceRef]] = {}


async def authenticate(session: AsyncSession, token: str) -> DeviceRef | None:
    if not token:
        return None
    digest = token_hash(token)
    cached = _auth.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    query = select(Device).where(Device.token_sha256 == digest, Device.enabled.is_(True))
    device = (await session.execute(query)).scalar_one_or_none()
    if device is None:
        _auth.pop(digest, None)
        return None
    ref = DeviceRef(device.id, device.code, device.area_id, device.volume, device.windows)
    if len(_auth) > 100_000:
        _auth.clear()
    _auth[digest] = (time.monotonic() + AUTH_TTL, ref)
    return ref


def forget_tokens() -> None:
    """After a token rotation or a device change, answer from the database again."""
    _auth.clear()


def online(device: Device, now: datetime | None = None) -> bool:
    return device.last_seen_at is not None and (now or utcnow()) - device.last_seen_at <= ONLINE_FOR
