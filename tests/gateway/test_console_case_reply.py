"""A case answered by SMS from the console, against an independent SMSC on loopback: an
answer the SMSC refuses never marks the case answered, and one it accepts but cannot
deliver is shown as not received."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.db.models import Case
from gateway.sms.service import SmsService
from gateway.sms.smpp import pdu
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_console_pages import console, csrf_of
from tests.support.smsc import Smsc, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)]


@pytest_asyncio.fixture
async def sms(gateway: Gateway, smsc: Smsc) -> AsyncIterator[SmsService]:
    session = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, max_submit_tries=1)
    service = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(session, sender="UBNDXA")))
    await service.start()
    gateway.services.sms = service
    await wait_until(lambda: smsc.esmes)
    yield service
    await service.close()


async def test_an_sms_answer_that_was_not_sent_or_not_received_is_not_shown_as_answered(
    gateway: Gateway, sms: SmsService, smsc: Smsc
) -> None:
    await seed(gateway)
    client = await console(gateway, "bientap")
    intake = {"csrf_token": csrf_of((await client.get("/cases")).text), "text": "Đèn hỏng", "caller": "0912345678"}
    filed = await client.post("/cases", data=intake)
    url = filed.headers["location"]
    page = (await client.get(url)).text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version
    form = {"csrf_token": csrf_of(page), "version": version[1], "action": "reply_sms", "answer": "Đã sửa đèn."}

    smsc.decide = lambda _n: pdu.ESME_RSYSERR  # the SMSC refuses the answer
    r = await client.post(f"{url}/action", data=form)
    assert "error=" in r.headers["location"]
    assert not unquote(r.headers["location"]).split("error=")[1].startswith("sms:")  # a sentence
    async with gateway.services.sessions() as session:
        case = (await session.execute(select(Case).where(Case.ticket == url.rsplit("/", 1)[1]))).scalar_one()
        assert case.status != "answered" and not case.answer

    smsc.decide = lambda _n: None  # accepted now, then reported undeliverable
    r = await client.post(f"{url}/action", data=form)
    assert "error" not in r.headers["location"], unquote(r.headers["location"])
    await wait_until(lambda: smsc.accepted)
    assert "chờ tổng đài báo" in (await client.get(url)).text
    assert await smsc.receipt(smsc.accepted[-1].message_id, "UNDELIV") == 0
    for _ in range(100):
        if "không đến được máy người dân" in (await client.get(url)).text:
            break
        await asyncio.sleep(0.1)
    assert "Tin nhắn trả lời không đến được máy người dân" in (await client.get(url)).text


async def test_an_sms_answer_reported_undeliverable_puts_the_case_back_in_the_queue(
    gateway: Gateway, sms: SmsService, smsc: Smsc
) -> None:
    """SMPP 3.4 Appendix B: a receipt with stat UNDELIV, REJECTD or EXPIRED is final; the
    case is no longer "Đã trả lời" and the officer sees it among the cases to handle."""
    await seed(gateway)
    client = await console(gateway, "bientap")
    for stat in ("UNDELIV", "REJECTD", "EXPIRED"):
        token = csrf_of((await client.get("/cases")).text)
        intake = {"csrf_token": token, "text": f"Đèn hỏng {stat}", "caller": "0912345678"}
        url = (await client.post("/cases", data=intake)).headers["location"]
        ticket = url.rsplit("/", 1)[1]
        page = (await client.get(url)).text
        version = re.search(r'name="version" value="(\d+)"', page)
        assert version
        form = {"csrf_token": csrf_of(page), "version": version[1], "action": "reply_sms", "answer": "Đã sửa đèn."}
        sent = len(smsc.accepted)
        r = await client.post(f"{url}/action", data=form)
        assert "error" not in r.headers["location"], unquote(r.headers["location"])
        await wait_until(lambda sent=sent: len(smsc.accepted) > sent)
        async with gateway.services.sessions() as session:
            case = (await session.execute(select(Case).where(Case.ticket == ticket))).scalar_one()
            assert case.status == "answered"
        assert await smsc.receipt(smsc.accepted[-1].message_id, stat) == 0

        for _ in range(100):
            async with gateway.services.sessions() as session:
                case = (await session.execute(select(Case).where(Case.ticket == ticket))).scalar_one()
            if case.status != "answered":
                break
            await asyncio.sleep(0.1)
        assert case.status == "in_progress", (stat, case.status)
        page = (await client.get(url)).text
        assert "Đang xử lý" in page and "Tin nhắn trả lời không đến được" in page
        inbox = (await client.get("/cases")).text
        row = re.search(rf'<a href="/cases/{ticket}">.*?</tr>', inbox, re.S)
        assert row and "Đang xử lý" in row[0] and "Đã trả lời" not in row[0] and "không đến được" in row[0], row
