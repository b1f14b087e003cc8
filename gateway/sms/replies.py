"""Answer a resident's case by SMS: the SMS channel's encoding rules (accented only when
that costs no more parts) and ledger of parts; the case is marked answered by the feedback
domain (``gateway.feedback.replies.answered``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Case
from gateway.db.states import DeliveryState
from gateway.feedback import service
from gateway.feedback.replies import answered
from gateway.sms.encoding import plan
from gateway.sms.inbound import reply_text
from gateway.sms.service import SmsService

MAX_PARTS = 5


async def reply_by_sms(
    session: AsyncSession, sms: SmsService | None, actor: str, ticket: str, text: str, version: int | None
) -> tuple[Case, int]:
    """Send ``text`` to the case's caller by SMS and mark the case answered; (case, parts)."""
    case = await service.get(session, ticket)
    service.check_version(case, version)
    if sms is None:
        raise WorkflowError("via", "chưa cấu hình kênh SMS (sms_transport) nên không gửi được tin trả lời", 422)
    if not case.caller:
        raise WorkflowError("caller", "phản ánh không có số điện thoại người gửi để trả lời", 422)
    body = text.strip()
    if not body:
        raise WorkflowError("text", "cần nội dung trả lời", 422)
    message = reply_text(f"Loa trả lời phản ánh {case.ticket}: {body}")
    if plan(message).count > MAX_PARTS:
        raise WorkflowError("text", f"tin trả lời quá dài (tối đa {MAX_PARTS} tin nhắn); hãy rút gọn", 422)
    sent = await sms.send(case.caller, message, f"c{case.id}v{case.version}")
    if sent.kind == DeliveryState.RETRY:  # sending again resumes with the parts still missing (same reference)
        raise WorkflowError("sms", f"tổng đài tạm thời chưa nhận, hãy gửi lại sau ít phút ({sent.detail})", 503)
    if sent.kind != DeliveryState.SENT:
        raise WorkflowError("sms", f"không gửi được tin trả lời: {sent.detail}", 502)
    await audit(session, actor, "case_reply", "case", case.ticket, via="sms", parts=sent.parts, result=sent.kind)
    return await answered(session, actor, case, body), sent.parts
