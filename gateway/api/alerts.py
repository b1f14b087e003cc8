"""POST /api/v1/alerts/cap: CAP 1.2 alerts become emergency or priority bulletins.

201: a bulletin was created (or a Cancel took effect); 202: the message is stored but
reaches nobody (``reason`` names the field: status, scope, expires, msgType); 4xx:
refused, nothing changed. The rules are in ``gateway/bulletins/cap_ingest.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.api.deps import Caller, caller, db
from gateway.bulletins.cap import parse_cap
from gateway.bulletins.cap_ingest import Context, ingest
from gateway.db.models import Device
from gateway.delivery.stop import announce_stop

router = APIRouter(prefix="/api/v1", tags=["alerts"])
CAP_CHANNELS = ("file", "loudspeaker", "call", "sms")


@router.post("/alerts/cap", status_code=201)
async def ingest_cap(
    request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> JSONResponse:
    body = await request.body()
    alert = parse_cap(body)
    services = request.app.state.services
    channels = [c for c in CAP_CHANNELS if c in services.channels]
    if not (await session.execute(select(Device.id).where(Device.enabled.is_(True)).limit(1))).first():
        channels = [c for c in channels if c != "loudspeaker"]  # no cluster registered yet
    header = request.headers.get("authorization", "")
    senders = await auth.token_senders(session, header[7:].strip()) if who.csrf is None else None
    test_areas = tuple(c.strip() for c in services.settings.cap_test_areas.split(",") if c.strip())
    ctx = Context(
        actor=who.user,
        channels=tuple(channels),
        voice=services.settings.voice,
        test_areas=test_areas,
        senders=senders,
        wake=services.dispatcher.wake.set,
        announce_stop=lambda bulletin_id: announce_stop(services, bulletin_id),
    )
    answer = await ingest(session, alert, body, ctx)
    return JSONResponse(answer.body, status_code=answer.status_code)
