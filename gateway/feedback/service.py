"""Feedback cases: filed from any channel, then new -> assigned -> in_progress -> answered
-> closed (or rejected / duplicate with a reason). Every change is audited and guarded
by the case's version, so two officers editing at once cannot overwrite each other.

A case is committed before anything that can fail later (transcription, routing), so an
accepted SMS or recording is never lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, Case, SmsPart, utcnow
from gateway.db.states import CaseStatus, TranscriptStatus
from gateway.feedback import taxonomy
from gateway.feedback.ticket import is_valid, new_ticket
from gateway.phones import to_e164
from gateway.vietnamese import fold

OPEN = (CaseStatus.NEW, CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS, CaseStatus.ANSWERED)
TRANSITIONS = {
    CaseStatus.NEW: (CaseStatus.ASSIGNED, CaseStatus.REJECTED, CaseStatus.DUPLICATE),
    CaseStatus.ASSIGNED: (CaseStatus.IN_PROGRESS, CaseStatus.ANSWERED, CaseStatus.REJECTED, CaseStatus.DUPLICATE),
    CaseStatus.IN_PROGRESS: (CaseStatus.ANSWERED, CaseStatus.REJECTED, CaseStatus.DUPLICATE),
    CaseStatus.ANSWERED: (CaseStatus.CLOSED, CaseStatus.IN_PROGRESS),
    CaseStatus.CLOSED: (),
    CaseStatus.REJECTED: (),
    CaseStatus.DUPLICATE: (),
}
STATUS_LABELS = {
    CaseStatus.NEW: "Mới",
    CaseStatus.ASSIGNED: "Đã giao",
    CaseStatus.IN_PROGRESS: "Đang xử lý",
    CaseStatus.ANSWERED: "Đã trả lời",
    CaseStatus.CLOSED: "Đã đóng",
    CaseStatus.REJECTED: "Từ chối",
    CaseStatus.DUPLICATE: "Trùng",
}
TRANSCRIPT_LABELS = {
    TranscriptStatus.NONE: "không có bản ghi âm",
    TranscriptStatus.AWAITING: (
        "chờ gỡ băng (máy nhận dạng đang xếp hàng, hoặc chưa cài mô hình: cán bộ nghe và gõ lại)"
    ),
    TranscriptStatus.RUNNING: "máy đang nhận dạng",
    TranscriptStatus.DONE: "đã gỡ băng",
    TranscriptStatus.FAILED: "máy không nhận dạng được",
}
CHANNELS = ("hotline", "sms", "console", "api")
REPLY_NOT_RECEIVED = "Tin nhắn trả lời không đến được máy người dân"
REPLY_REFERENCE = re.compile(r"c(\d+)v\d+")  # the SMS parts of an answer to case <id>
DUPLICATE_WINDOW = timedelta(days=14)
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Intake:
    channel: str
    text: str = ""
    caller: str = ""
    area_code: str | None = None
    category: str | None = None
    audio_sha256: str | None = None


def _similar(a: str, b: str) -> float:
    wa, wb = set(fold(a).split()), set(fold(b).split())
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


async def file_case(session: AsyncSession, intake: Intake, actor: str, intake_ref: str | None = None) -> Case:
    if intake.channel not in CHANNELS:
        raise WorkflowError("channel", f"kênh phải là một trong: {', '.join(CHANNELS)}", 422)
    text = intake.text.strip()
    if len(text) > MAX_TEXT:
        raise WorkflowError("text", f"nội dung quá dài (tối đa {MAX_TEXT} ký tự)", 422)
    if not text and not intake.audio_sha256:
        raise WorkflowError("text", "cần nội dung phản ánh hoặc bản ghi âm", 422)
    caller = to_e164(intake.caller, "caller") if intake.caller.strip() else ""
    area_id = None
    if intake.area_code:
        area = (await session.execute(select(Area).where(Area.code == intake.area_code))).scalar_one_or_none()
        if area is None:
            raise WorkflowError("area", f"không có địa bàn mã '{intake.area_code}'", 422)
        area_id = area.id
    categories = taxonomy.load()
    category = intake.category or taxonomy.suggest(text)
    if category not in categories:
        raise WorkflowError("category", f"nhóm '{category}' không có trong danh mục", 422)
    now = utcnow()
    for _ in range(10):  # a ticket collision is rare; draw again
        case = Case(
            ticket=new_ticket(),
            channel=intake.channel,
            caller=caller,
            area_id=area_id,
            category=category,
            text=text,
            audio_sha256=intake.audio_sha256,
            transcript_status=TranscriptStatus.AWAITING if intake.audio_sha256 else TranscriptStatus.NONE,
            intake_ref=intake_ref,
            sla_due_at=now + timedelta(hours=categories[category].sla_hours),
        )
        session.add(case)
        try:
            await session.flush()
            break
        except IntegrityError:
            await session.rollback()
            if intake_ref is not None:
                raise  # the same recording, filed already: the caller looks it up
    else:
        raise WorkflowError("ticket", "không cấp được mã phản ánh, hãy thử lại", 503)
    case.possible_duplicate_of = await find_duplicate(session, case)
    await audit(session, actor, "file", "case", case.ticket, channel=intake.channel, category=category)
    await session.commit()
    return case


async def find_duplicate(session: AsyncSession, case: Case) -> int | None:
    """An open case of the same area (or caller) from the last two weeks saying much the same."""
    said = case.text or case.transcript_correction or case.transcript_normalized
    if not said:
        return None
    query = select(Case).where(
        Case.id != case.id, Case.status.in_(OPEN), Case.created_at >= utcnow() - DUPLICATE_WINDOW
    )
    if case.area_id is not None:
        query = query.where(Case.area_id == case.area_id)
    elif case.caller:
        query = query.where(Case.caller == case.caller)
    else:
        return None
    for other in (await session.execute(query.order_by(Case.id.desc()).limit(200))).scalars():
        if _similar(said, other.text or other.transcript_correction or other.transcript_normalized) >= 0.5:
            return other.id
    return None


async def get(session: AsyncSession, ticket: str) -> Case:
    code = ticket.strip().replace(" ", "")
    if not is_valid(code):
        raise WorkflowError("ticket", "mã phản ánh gồm 8 chữ số và số cuối là số kiểm tra: hãy kiểm tra lại", 422)
    case = (await session.execute(select(Case).where(Case.ticket == code))).scalar_one_or_none()
    if case is None:
        raise WorkflowError("ticket", f"không có phản ánh mã {code}", 404)
    return case


def check_version(case: Case, version: int | None) -> None:
    if version is not None and version != case.version:
        raise WorkflowError("version", "phản ánh vừa được người khác cập nhật: hãy tải lại trước khi sửa", 409)


async def transition(
    session: AsyncSession,
    actor: str,
    ticket: str,
    to: CaseStatus,
    version: int | None = None,
    reason: str = "",
    assignee: str = "",
    answer: str = "",
) -> Case:
    case = await get(session, ticket)
    check_version(case, version)
    if to not in TRANSITIONS.get(case.status, ()):
        raise WorkflowError(
            "status", f"không chuyển được từ '{STATUS_LABELS[case.status]}' sang '{STATUS_LABELS.get(to, to)}'", 409
        )
    if to in (CaseStatus.REJECTED, CaseStatus.DUPLICATE) and not reason.strip():
        raise WorkflowError("reason", "cần ghi lý do", 422)
    if to == CaseStatus.ASSIGNED and not assignee.strip():
        raise WorkflowError("assignee", "cần ghi phòng ban hoặc cán bộ được giao", 422)
    if to == CaseStatus.ANSWERED and not answer.strip():
        raise WorkflowError("answer", "cần nội dung trả lời người dân", 422)
    old = case.status
    case.status = to
    case.status_reason = reason.strip() or case.status_reason
    if assignee.strip():
        case.assignee = assignee.strip()
    if answer.strip():
        case.answer = answer.strip()
        case.answered_at = utcnow()
    if to == CaseStatus.CLOSED:
        case.closed_at = utcnow()
    case.version += 1
    await audit(
        session, actor, "case_" + to, "case", case.ticket, **{"from": old, "reason": reason, "assignee": assignee}
    )
    await session.commit()
    return case


async def correct_transcript(session: AsyncSession, actor: str, ticket: str, text: str, version: int | None) -> Case:
    """Staff transcription or correction, kept beside the machine transcript."""
    case = await get(session, ticket)
    check_version(case, version)
    case.transcript_correction = text.strip()
    if case.transcript_status in (TranscriptStatus.AWAITING, TranscriptStatus.FAILED, TranscriptStatus.NONE):
        case.transcript_status = TranscriptStatus.DONE
    if case.category == taxonomy.DEFAULT:
        case.category = taxonomy.suggest(text)
    case.version += 1
    await audit(session, actor, "case_transcript", "case", case.ticket)
    await session.commit()
    return case


# An answered case waits for the resident, not for the office: its SLA clock has stopped.
RUNNING = tuple(s for s in OPEN if s != CaseStatus.ANSWERED)


def is_overdue(case: Case) -> bool:
    return case.status in RUNNING and case.sla_due_at < utcnow()


def filtered(
    query: Select[Case],
    status: str | None,
    category: str | None,
    area: str | None,
    overdue: bool,
    transcript: str | None = None,
) -> Select[Case]:
    """The inbox filters, for the API and the console alike."""
    if transcript:
        query = query.where(Case.transcript_status == transcript)
    if status:
        query = query.where(Case.status == status)
    if category:
        query = query.where(Case.category == category)
    if area:
        query = query.join(Area, Area.id == Case.area_id).where(Area.code == area)
    if overdue:
        query = query.where(Case.status.in_(RUNNING), Case.sla_due_at < utcnow())
    return query


def status_sentence(case: Case) -> str:
    """What the hotline and SMS say about a case, in Vietnamese."""
    label = STATUS_LABELS[case.status].lower()
    sentence = f"Phản ánh mã {case.ticket} đang ở trạng thái {label}."
    if case.status in (CaseStatus.ANSWERED, CaseStatus.CLOSED) and case.answer:
        sentence += f" Trả lời: {case.answer}"
    return sentence


async def answers_not_received(session: AsyncSession, failed: dict[str, str]) -> list[Case]:
    """SMS answers the network reported undeliverable (``failed``: part reference ->
    receipt detail): a case still "answered" by that answer, its newest, goes back to
    "in_progress" with the reason, so the officer answers again. Does not commit (the
    SMS service commits it with the receipt)."""
    reopened: list[Case] = []
    for reference, detail in sorted(failed.items()):
        match = REPLY_REFERENCE.fullmatch(reference)
        if match is None:
            continue
        case = await session.get(Case, int(match[1]))
        newest = (
            await session.execute(
                select(SmsPart.reference)
                .where(SmsPart.reference.like(f"c{match[1]}v%"), SmsPart.delivery_id.is_(None))
                .order_by(SmsPart.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if case is None or case.status != "answered" or newest != reference:
            continue
        case.status = CaseStatus.IN_PROGRESS
        case.status_reason = f"{REPLY_NOT_RECEIVED} ({detail or 'tổng đài báo không gửi được'})"[:500]
        case.version += 1
        await audit(session, "sms", "case_reply_failed", "case", case.ticket, reference=reference, detail=detail[:200])
        reopened.append(case)
    return reopened
