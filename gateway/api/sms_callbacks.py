"""Callbacks from SMS gateways: Kannel's sms-service get-url (MO) and dlr-url (reports).

Kannel calls these from the same host, with the shared key from the configuration in the
URL; anything else is refused. An MO is filed (and answered) before the request returns,
so Kannel retries if Loa was down: nothing a resident sent is lost.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from gateway.api.errors import error
from gateway.sms.kannel import key_matches, parse_dlr, parse_mo
from gateway.sms.service import SmsService

router = APIRouter(tags=["sms"])


def _service(request: Request) -> SmsService | None:
    """The SMS service, when the request carries the shared key of a configured Kannel."""
    services = request.app.state.services
    expected = getattr(services, "sms_callback_key", "")
    if not key_matches(request.query_params.get("key", ""), expected):
        return None
    service: SmsService | None = getattr(services, "sms", None)
    return service


@router.get("/sms/kannel/mo", response_class=PlainTextResponse)
async def kannel_mo(request: Request) -> object:
    service = _service(request)
    if service is None:
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    await service.on_mo(parse_mo(request.query_params))  # filed before we answer
    return PlainTextResponse("")


@router.get("/sms/kannel/dlr", response_class=PlainTextResponse)
async def kannel_dlr(request: Request) -> object:
    service = _service(request)
    if service is None:
        return error("key", "forbidden", "khóa gọi lại SMS không đúng", 403)
    await service.on_receipt(parse_dlr(request.query_params))
    return PlainTextResponse("")
