"""Inbound SMS keywords end to end against the database (any transport calls this)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.db.models import Area, Bulletin, Case, Subscriber, Target, User
from gateway.sms.encoding import plan
from gateway.sms.inbound import handle
from gateway.vietnamese import fold
from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


async def test_pa_files_a_case_and_tt_reads_its_status(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as s:
        reply = await handle(s, "0912345678", "PA: rác thải đổ trộm ở đầu thôn")
        assert reply.case_ticket and reply.case_ticket in reply.text
        assert plan(reply.text).count == 1  # a basic phone gets one message
        case = (await s.execute(select(Case).where(Case.ticket == reply.case_ticket))).scalar_one()
        assert case.channel == "sms" and case.caller == "+84912345678" and case.category == "moi_truong"
        status = await handle(s, "0912345678", f"tt {reply.case_ticket}")
        assert reply.case_ticket in status.text and "moi" in fold(status.text)
        wrong = await handle(s, "0912345678", "TT 12345678")
        assert "so kiem tra" in fold(wrong.text)


async def test_subscribe_then_feedback_is_filed_in_the_area_then_opt_out(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as s:
        assert "thon hai" in fold((await handle(s, "+84912000111", "dk thon hai")).text)
        reply = await handle(s, "84912000111", "Đèn đường hỏng ba hôm nay")
        case = (await s.execute(select(Case).where(Case.ticket == reply.case_ticket))).scalar_one()
        area = await s.get(Area, case.area_id)
        assert area is not None and area.code == "T2"
        assert "ngung" in fold((await handle(s, "0912000111", "HUY")).text)
        sub = (await s.execute(select(Subscriber).where(Subscriber.phone == "+84912000111"))).scalar_one()
        assert sub.opted_out
        assert "khong tim thay" in fold((await handle(s, "0912000111", "DK Sao Hỏa")).text)


async def test_tin_sends_the_latest_bulletin_of_the_area(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as s:
        assert "chua co ban tin" in fold((await handle(s, "0912000222", "TIN")).text)
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
        t1 = (await s.execute(select(Area).where(Area.code == "T1"))).scalar_one()
        b = Bulletin(
            title="Mất điện",
            body="Mất điện chiều nay",
            sms_text="Mat dien 14h-16h chieu nay",
            status="done",
            created_by=admin.id,
        )
        s.add(b)
        await s.flush()
        s.add(Target(bulletin_id=b.id, channel="sms", area_id=t1.id))
        await s.commit()
        assert (await handle(s, "0912000222", "tin")).text == "Mat dien 14h-16h chieu nay"


async def test_long_texts_and_odd_senders_are_still_filed(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as s:
        long_text = "Đường ngập " * 1000  # 11 kB
        reply = await handle(s, "0912345678", long_text)
        case = (await s.execute(select(Case).where(Case.ticket == reply.case_ticket))).scalar_one()
        assert len(case.text) >= 10_000
        odd = await handle(s, "VIETTEL", "Xin hỏi lịch tiêm")
        case = (await s.execute(select(Case).where(Case.ticket == odd.case_ticket))).scalar_one()
        assert case.caller == "" and "VIETTEL" in case.text
