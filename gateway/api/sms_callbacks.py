"""Callbacks from SMS gateways: Kannel's sms-service get-url (MO) and dlr-url (reports).

Kannel calls these from the same host, with the shared key from the configuration in the
URL; anything else is refused. An MO is filed (and answered) before the request returns,
so Kannel retries if Loa was down: nothing a resident sent is lost.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from gateway.api.errors import error
from gateway.sms.kannel import DLR_FINAL
from gateway.sms.service import SmsService
from gateway.sms.transport import Mo, Receipt

router = APIRouter(tags=["sms"])


def _service(request: Request) -> SmsService | None:
    """The SMS service, when the request carries the shared key of a configured Kannel."""
    services = request.app.state.services
    expected = getattr(services, "sms_callback_key", "")
    given = request.query_params.get("key", "")
    if not expected or not hmac.compare_digest(given, expected):
        return None
    service: SmsService | None = getattr(services, "sms", None)
    return service


@router.get("/sms/kannel/mo", response_class=PlainTextResponse)
async def kannel_mo(request: Request) -> object:
    service = _service(request)
    if service is None:
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    q = request.query_params
    await service.on_mo(Mo(q.get("from", ""), q.get("text", ""), "kannel"))  # filed before we answer
    return PlainTextResponse("")


@router.get("/sms/kannel/dlr", response_class=PlainTextResponse)
async def kannel_dlr(request: Request) -> object:
    service = _service(request)
    if service is None:
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    q = request.query_params
    kind = q.get("type", "")
    outcome = DLR_FINAL.get(int(kind), "pending") if kind.isdigit() else "pending"
    detail = f"Kannel DLR {kind}: {q.get('answer', '')}"
    await service.on_receipt(Receipt(outcome, detail[:300], reference=q.get("ref", "")))
    return PlainTextResponse("")
