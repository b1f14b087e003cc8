"""Inbound SMS, whatever the transport: route the keyword, act, and compose the reply.

Every message from a resident is kept: feedback (PA or any unmatched text) becomes a case
even from unknown or malformed senders. Replies follow the SMS encoding rules: the
accented text when it costs no more parts than the unaccented one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Bulletin, Subscriber, Target
from gateway.db.states import BulletinStatus
from gateway.feedback import service as cases
from gateway.phones import to_e164
from gateway.sms.encoding import plan
from gateway.sms.keywords import parse
from gateway.vietnamese import fold, strip_accents

ACTOR = "sms"


@dataclass(frozen=True)
class Reply:
    text: str
    case_ticket: str | None = None


def reply_text(text: str) -> str:
    """Accented if it costs no more parts than the unaccented variant."""
    plain = strip_accents(text)
    return text if plan(text).count <= plan(plain).count else plain


async def _subscriber(session: AsyncSession, phone: str) -> Subscriber | None:
    if not phone:
        return None
    return (await session.execute(select(Subscriber).where(Subscriber.phone == phone))).scalar_one_or_none()


async def _find_area(session: AsyncSession, name: str) -> Area | None:
    wanted = fold(name)
    for prefix in ("xa ", "phuong ", "thi tran ", "thon "):
        wanted = wanted.removeprefix(prefix)
    for area in (await session.execute(select(Area))).scalars():
        if fold(area.code) == wanted or fold(area.name) == wanted or fold(area.name).split(" ", 1)[-1] == wanted:
            return area
    return None


async def handle(session: AsyncSession, sender: str, text: str) -> Reply:
    try:
        phone = to_e164(sender, "from")
    except WorkflowError:
        phone = ""  # a short code or malformed sender: the message is still filed
    command = parse(text)
    subscriber = await _subscriber(session, phone)

    if command.kind == "status":
        if not command.argument:
            return Reply(reply_text("Loa: hãy nhắn TT và mã phản ánh 8 chữ số, ví dụ TT 12345678."))
        try:
            case = await cases.get(session, command.argument)
        except WorkflowError as exc:
            return Reply(reply_text(f"Loa: {exc.message}."))
        return Reply(reply_text("Loa: " + cases.status_sentence(case)))

    if command.kind == "subscribe" and phone:
        area = await _find_area(session, command.argument) if command.argument else None
        if area is None:
            return Reply(reply_text("Loa: không tìm thấy địa bàn. Nhắn DK và tên xã/phường, ví dụ DK Hòa Bình."))
        if subscriber is None:
            session.add(Subscriber(phone=phone, area_id=area.id, source="sms"))
        else:
            subscriber.area_id, subscriber.opted_out = area.id, False
        await session.commit()
        return Reply(reply_text(f"Loa: đã đăng ký nhận bản tin của {area.name}. Nhắn HUY để ngừng."))

    if command.kind == "optout" and phone:
        if subscriber is None:
            session.add(Subscriber(phone=phone, opted_out=True, source="sms"))
        else:
            subscriber.opted_out = True
        await session.commit()
        return Reply(
            reply_text("Loa: đã ngừng gửi bản tin đến số này (tin khẩn cấp vẫn gửi). Nhắn DK và tên xã để đăng ký lại.")
        )

    if command.kind == "news":
        query = (
            select(Bulletin)
            .join(Target, Target.bulletin_id == Bulletin.id)
            .where(
                Bulletin.status.in_((BulletinStatus.DELIVERING, BulletinStatus.DONE)),
                func.length(Bulletin.sms_text) > 0,
            )
            .order_by(Bulletin.updated_at.desc())
            .limit(1)
        )
        if subscriber is not None and subscriber.area_id is not None:
            query = query.where(Target.area_id == subscriber.area_id)
        latest = (await session.execute(query)).scalars().first()
        return Reply(reply_text(latest.sms_text if latest else "Loa: chưa có bản tin mới."))

    body = command.argument if command.kind == "feedback" else text
    if not phone and sender.strip():
        body = f"[từ {sender.strip()[:30]}] {body}"
    area_code = None
    if subscriber is not None and subscriber.area_id is not None:
        area = await session.get(Area, subscriber.area_id)
        area_code = area.code if area else None
    case = await cases.file_case(
        session, cases.Intake("sms", text=body[: cases.MAX_TEXT], caller=phone, area_code=area_code), ACTOR
    )
    return Reply(reply_text(f"Loa: đã nhận phản ánh, mã {case.ticket}. Tra cứu: nhắn TT {case.ticket}."), case.ticket)
