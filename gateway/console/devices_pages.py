"""Console: the loudspeaker dashboard (online, last play, battery and signal as the devices
report them, proof of play) and device registration for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins.errors import WorkflowError
from gateway.console.admin_pages import area_list
from gateway.console.common import back, check_csrf, failed, page, who
from gateway.db.models import Area, Device, PlayReport
from gateway.loudspeakers import registry

router = APIRouter(include_in_schema=False)
EVENT_LABELS = {
    "started": "bắt đầu phát",
    "finished": "đã phát xong",
    "interrupted": "bị cắt ngang",
    "failed": "phát lỗi",
    "expired": "quá hạn, không phát",
}


@router.get("/devices", response_class=HTMLResponse)
async def dashboard(request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    by_area = select(Device, Area).join(Area, Area.id == Device.area_id).order_by(Area.name, Device.code)
    rows = (await session.execute(by_area)).all()
    plays = (
        await session.execute(
            select(PlayReport, Device.code)
            .join(Device, Device.id == PlayReport.device_id)
            .order_by(PlayReport.id.desc())
            .limit(30)
        )
    ).all()
    return page(
        request,
        "devices.html",
        user=user,
        csrf=csrf,
        devices=[(d, a, registry.online(d)) for d, a in rows],
        plays=plays,
        events=EVENT_LABELS,
        areas=await area_list(session),
        error=error,
    )


@router.post("/devices")
async def add_device(
    request: Request,
    session: AsyncSession = Depends(db),
    code: str = Form(""),
    name: str = Form(""),
    area: str = Form(""),
    kind: str = Form("pull"),
    rtp_address: str = Form(""),
    codec: str = Form("pcmu"),
    windows: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role != "admin":
            raise WorkflowError("role", "chỉ quản trị viên được thêm thiết bị", 403)
        data = registry.DeviceIn(code.strip(), name.strip(), area, kind, 80, windows, rtp_address.strip(), codec)
        device, token = await registry.create(session, user.username, data)
    except WorkflowError as exc:
        return failed("/devices", exc)
    if device.kind != "pull":
        return back("/devices")
    # The token is shown once, on the page the administrator is looking at.
    return page(request, "device_token.html", user=user, csrf=csrf, code=device.code, token=token)


@router.post("/devices/{code}/edit")
async def edit_device(
    code: str,
    request: Request,
    session: AsyncSession = Depends(db),
    name: str = Form(""),
    area: str = Form(""),
    rtp_address: str = Form(""),
    codec: str = Form("pcmu"),
    windows: str = Form(""),
    enabled: bool = Form(False),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role != "admin":
            raise WorkflowError("role", "chỉ quản trị viên được sửa thiết bị", 403)
        data = registry.DeviceIn(code, name, area, "pull", 80, windows, rtp_address.strip(), codec)
        await registry.update(session, user.username, data, enabled, request.app.state.services.device_tokens)
    except WorkflowError as exc:
        return failed("/devices", exc)
    return back("/devices")
