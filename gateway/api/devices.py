"""Loudspeaker devices: the registry for staff (/api/v1/devices) and the pull API the
clusters call (/api/device/v1, authenticated by each device's own token)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db, require_role
from gateway.api.errors import error
from gateway.api.files import artifact_file
from gateway.api.schemas import DeviceIn, HeartbeatIn, PlayReportsIn
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Artifact, Device, PlayReport, utcnow
from gateway.loudspeakers import proof, registry, schedule

staff = APIRouter(prefix="/api/v1", tags=["devices"])
device_api = APIRouter(prefix="/api/device/v1", tags=["device pull API"])
MAX_WAIT = 30


def device_out(device: Device, area_code: str) -> dict[str, Any]:
    return {
        "code": device.code,
        "name": device.name,
        "area": area_code,
        "kind": device.kind,
        "volume": device.volume,
        "windows": device.windows,
        "rtp_address": device.rtp_address,
        "codec": device.codec,
        "enabled": device.enabled,
        "online": registry.online(device),
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
        "agent_version": device.agent_version,
        "signal": device.signal,
        "battery": device.battery,
        "playing": device.playing,
        "clock_skew_s": device.clock_skew_s,
    }


@staff.post("/devices", status_code=201)
async def create_device(
    data: DeviceIn, session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> dict[str, Any]:
    device, token = await registry.create(session, who.user.username, registry.DeviceIn(**data.model_dump()))
    out = device_out(device, data.area)
    if device.kind == "pull":
        out["token"] = token  # shown once: the agent's --token
    return out


@staff.get("/devices")
async def list_devices(session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> list[dict[str, Any]]:
    rows = await session.execute(select(Device, Area.code).join(Area, Area.id == Device.area_id).order_by(Device.code))
    return [device_out(device, code) for device, code in rows.all()]


@staff.get("/devices/{code}/plays")
async def plays(
    code: str, limit: int = 200, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> list[dict[str, Any]]:
    """Proof of play, newest first: what the device says it played, when, by its clock and ours."""
    device = await registry.get(session, code)
    rows = await session.execute(
        select(PlayReport)
        .where(PlayReport.device_id == device.id)
        .order_by(PlayReport.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [
        {
            "item": r.item,
            "event": r.event,
            "seq": r.seq,
            "device_at": r.device_at.isoformat(),
            "received_at": r.received_at.isoformat(),
            "detail": r.detail,
        }
        for r in rows.scalars()
    ]


@staff.post("/devices/{code}/token")
async def new_token(
    code: str, request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> dict[str, str]:
    tokens = request.app.state.services.device_tokens
    return {"code": code, "token": await registry.rotate_token(session, who.user.username, code, tokens)}


async def the_device(request: Request, session: AsyncSession = Depends(db)) -> registry.DeviceRef:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    device = await registry.authenticate(session, token, request.app.state.services.device_tokens)
    if device is None:
        raise WorkflowError("authorization", "mã truy cập của thiết bị không đúng hoặc thiết bị đã bị tắt", 401)
    return device


@device_api.get("/schedule")
async def device_schedule(
    request: Request,
    wait: int = 0,
    if_none_match: str = Header(default=""),
    session: AsyncSession = Depends(db),
    device: registry.DeviceRef = Depends(the_device),
) -> Response:
    """The device's schedule. With ``wait`` (seconds, at most 30) and the last ETag in
    If-None-Match, the answer waits until the schedule changes (long poll), else 304."""
    deadline = time.monotonic() + max(0, min(wait, MAX_WAIT))
    services = request.app.state.services
    notifier = getattr(services, "device_notifier", None)
    services.presence.seen(device.id, utcnow())
    while True:
        items = await services.schedules.items_for(session, device)
        body, etag = schedule.document(device, items, await services.schedules.off_air(session))
        left = deadline - time.monotonic()
        if etag != if_none_match or left <= 0:
            break
        await session.commit()  # end the read transaction (objects stay loaded): see rows committed meanwhile
        with contextlib.suppress(TimeoutError):
            await (notifier.wait(min(left, 2.0)) if notifier else asyncio.sleep(min(left, 2.0)))
    if etag == if_none_match:
        return Response(status_code=304, headers={"ETag": etag})
    body["server_time"] = utcnow().isoformat()
    return JSONResponse(body, headers={"ETag": etag, "Cache-Control": "no-store"})


@device_api.get("/audio/{sha256}")
async def device_audio(
    request: Request,
    sha256: str,
    session: AsyncSession = Depends(db),
    device: registry.DeviceRef = Depends(the_device),
) -> Any:
    """The audio of a schedule item; Range requests resume a broken download. The sha256
    in the path is the checksum of the whole file. Only audio scheduled for this device:
    anything else is answered as if it did not exist."""
    artifact = await session.get(Artifact, sha256)
    if artifact is None or not await request.app.state.services.schedules.may_download(session, device, sha256):
        return error("sha256", "not_found", "không có tệp âm thanh này trong lịch phát của thiết bị", 404)
    return await artifact_file(artifact.path, artifact.media_type, {"X-Checksum-Sha256": sha256})


@device_api.post("/reports")
async def device_reports(
    request: Request,
    data: PlayReportsIn,
    session: AsyncSession = Depends(db),
    device: registry.DeviceRef = Depends(the_device),
) -> dict[str, int]:
    reports = [proof.ReportIn(r.item, r.event, r.at, r.seq, r.detail) for r in data.reports]
    accepted, duplicates = await proof.record(session, device, reports)
    request.app.state.services.schedules.forget_device(device.code)
    return {"accepted": accepted, "duplicates": duplicates}


@device_api.post("/heartbeat")
async def heartbeat(
    request: Request, data: HeartbeatIn, device: registry.DeviceRef = Depends(the_device)
) -> dict[str, Any]:
    """State as the device reports it; written with the next presence flush (seconds)."""
    skew = proof.skew(data.clock)
    request.app.state.services.presence.seen(
        device.id,
        utcnow(),
        agent_version=data.agent_version,
        signal=data.signal,
        battery=data.battery,
        playing=data.playing,
        clock_skew_s=skew,
    )
    return {"server_time": utcnow().isoformat(), "clock_skew_s": skew}
