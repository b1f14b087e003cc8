"""Answer a resident by an outbound call that reads the answer with the TTS engine (a
one-row campaign on the call channel, so retries by cause, the call window and the ledger
apply), and record an answer on the case (``answered``, also used by the SMS channel's
``gateway.sms.replies``: the SMS package imports feedback, never the reverse)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.render import Renderer
from gateway.bulletins.service import audit
from gateway.db.models import Bulletin, Case, Delivery, SmsPart, utcnow
from gateway.db.states import BulletinStatus, CaseStatus, DeliveryState, PartState
from gateway.feedback import service


async def answered(session: AsyncSession, actor: str, case: Case, body: str) -> Case:
    """Mark the case answered with ``body`` (taking it on first when it is new)."""
    if case.status == CaseStatus.NEW:  # the officer who answers a new case has taken it on
        case = await service.transition(session, actor, case.ticket, CaseStatus.ASSIGNED, assignee=actor)
    if CaseStatus.ANSWERED in service.TRANSITIONS[case.status]:
        case = await service.transition(session, actor, case.ticket, CaseStatus.ANSWERED, answer=body)
    else:  # answered already: a further answer is recorded
        case.answer = body
        await session.commit()
    return case


def call_text(ticket: str, body: str) -> str:
    """What the call reads: the ticket digit by digit, then the answer."""
    return f"Mã số phản ánh của bạn là {' '.join(ticket)}.\n{body}"


async def reply_by_call(
    session: AsyncSession,
    renderer: Renderer,
    actor: tuple[int, str],
    ticket: str,
    text: str,
    version: int | None,
    voice: str,
) -> tuple[Case, int]:
    """Queue a call that reads ``text`` to the case's caller; (case, ledger row id). The
    answer is rendered now (off the event loop) so the call can ring at once."""
    case = await service.get(session, ticket)
    service.check_version(case, version)
    if not case.caller:
        raise WorkflowError("caller", "phản ánh không có số điện thoại người gửi để gọi trả lời", 422)
    body = text.strip()
    if not body:
        raise WorkflowError("text", "cần nội dung trả lời", 422)
    user_id, username = actor
    bulletin = Bulletin(
        title="Ủy ban nhân dân xã trả lời phản ánh",
        body=call_text(case.ticket, body),
        priority="normal",
        status=BulletinStatus.DELIVERING,
        source="reply",
        created_by=user_id,
        approved_by=user_id,
        voice=voice,
    )
    session.add(bulletin)
    await session.commit()
    await renderer.render(session, bulletin)
    row = Delivery(bulletin_id=bulletin.id, channel="call", target=case.caller, next_attempt_at=utcnow())
    session.add(row)
    await session.commit()
    await audit(session, username, "case_reply", "case", case.ticket, via="call", delivery=row.id)
    return await answered(session, username, case, body), row.id


async def sms_reply_state(session: AsyncSession, case_id: int) -> tuple[DeliveryState, str] | None:
    """Where the last SMS answer to a case stands, from its parts' receipts: ("delivered" |
    "failed" | "sent", detail), or None when none was sent. An answer the SMSC accepted may
    still never reach the resident; the officer sees it and answers another way."""
    parts = (
        (
            await session.execute(
                select(SmsPart).where(SmsPart.reference.like(f"c{case_id}v%")).order_by(SmsPart.id.desc())
            )
        )
        .scalars()
        .all()
    )
    if not parts:
        return None
    last = [p for p in parts if p.reference == parts[0].reference]
    failed = [p for p in last if p.state == PartState.FAILED]
    if failed:
        return DeliveryState.FAILED, failed[0].detail or "tổng đài báo không gửi được"
    if len(last) == last[0].total and all(p.state == PartState.DELIVERED for p in last):
        return DeliveryState.DELIVERED, ""
    return DeliveryState.SENT, ""
