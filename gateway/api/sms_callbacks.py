"""Callbacks from SMS gateways: Kannel's sms-service get-url (MO) and dlr-url (reports).

Kannel calls these from the same host, with the shared key from the configuration in the
URL; anything else is refused. An MO is filed (and answered) before the request returns,
so Kannel retries if Loa was down: nothing a resident sent is lost.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.api.errors import error
from gateway.bulletins.service import audit
from gateway.delivery import ledger
from gateway.sms import inbound
from gateway.sms.adapter import REFERENCE_PREFIX
from gateway.sms.kannel import DLR_FINAL

router = APIRouter(tags=["sms"])


def _authorized(request: Request) -> bool:
    services = request.app.state.services
    expected = getattr(services, "sms_callback_key", "")
    given = request.query_params.get("key", "")
    return bool(expected) and hmac.compare_digest(given, expected)


@router.get("/sms/kannel/mo", response_class=PlainTextResponse)
async def kannel_mo(request: Request, session: AsyncSession = Depends(db)) -> object:
    if not _authorized(request):
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    q = request.query_params
    sender, text = q.get("from", ""), q.get("text", "")
    reply = await inbound.handle(session, sender, text)
    await audit(session, "kannel", "sms_mo", "sms", sender, ticket=reply.case_ticket, coding=q.get("coding"))
    await session.commit()
    transport = getattr(request.app.state.services, "sms_transport", None)
    if transport is not None and sender:
        await transport.send(sender, reply.text, f"reply-{reply.case_ticket or 'info'}")
    return PlainTextResponse("")


@router.get("/sms/kannel/dlr", response_class=PlainTextResponse)
async def kannel_dlr(request: Request, session: AsyncSession = Depends(db)) -> object:
    if not _authorized(request):
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    q = request.query_params
    ref, kind = q.get("ref", ""), q.get("type", "")
    await audit(session, "kannel", "sms_dlr", "sms", ref, type=kind, answer=q.get("answer"), smsc_id=q.get("smsc_id"))
    await session.commit()
    outcome = DLR_FINAL.get(int(kind)) if kind.isdigit() else None
    if outcome and ref.startswith(REFERENCE_PREFIX) and ref[1:].isdigit():
        await ledger.confirm(session, int(ref[1:]), outcome, f"báo nhận: {q.get('answer', '')}"[:500])
    return PlainTextResponse("")
