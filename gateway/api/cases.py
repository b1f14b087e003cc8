"""/api/v1/cases: residents' feedback from every channel, with ticket codes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.api.schemas import CaseIn, CaseTransitionIn, TranscriptIn
from gateway.db.models import Case
from gateway.db.states import CaseStatus
from gateway.feedback import service
from gateway.phones import masked

router = APIRouter(prefix="/api/v1", tags=["cases"])


def out(case: Case, who: Caller) -> dict[str, Any]:
    return {
        "ticket": case.ticket,
        "channel": case.channel,
        "caller": masked(case.caller) if who.user.role == "operator" else case.caller,
        "area_id": case.area_id,
        "category": case.category,
        "status": case.status,
        "status_reason": case.status_reason,
        "text": case.text,
        "transcript_status": case.transcript_status,
        "transcript": case.transcript_correction or case.transcript_normalized,
        "transcript_machine": case.transcript_raw,
        "transcript_error": case.transcript_error,
        "has_audio": bool(case.audio_sha256),
        "assignee": case.assignee,
        "answer": case.answer,
        "possible_duplicate_of": case.possible_duplicate_of,
        "sla_due_at": case.sla_due_at.isoformat(),
        "overdue": service.is_overdue(case),
        "version": case.version,
        "created_at": case.created_at.isoformat(),
    }


@router.post("/cases", status_code=201)
async def file_case(data: CaseIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> dict[str, Any]:
    intake = service.Intake(
        channel="console" if who.csrf else "api",
        text=data.text,
        caller=data.caller,
        area_code=data.area,
        category=data.category,
    )
    return out(await service.file_case(session, intake, who.user.username), who)


@router.get("/cases")
async def list_cases(
    status: str | None = None,
    category: str | None = None,
    area: str | None = None,
    overdue: bool = False,
    transcript: str | None = None,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> list[dict[str, Any]]:
    query = select(Case).order_by(Case.id.desc()).limit(500)
    query = service.filtered(query, status, category, area, overdue, transcript)
    return [out(c, who) for c in (await session.execute(query)).scalars()]


@router.get("/cases/{ticket}")
async def get_case(ticket: str, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> dict[str, Any]:
    return out(await service.get(session, ticket), who)


@router.get("/cases/{ticket}/status")
async def case_status(
    ticket: str, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, str]:
    """The sentence the hotline reads and the SMS reply sends."""
    return {"text": service.status_sentence(await service.get(session, ticket))}


@router.post("/cases/{ticket}/transition")
async def transition(
    ticket: str, data: CaseTransitionIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, Any]:
    case = await service.transition(
        session, who.user.username, ticket, CaseStatus(data.to), data.version, data.reason, data.assignee, data.answer
    )
    return out(case, who)


@router.put("/cases/{ticket}/transcript")
async def transcript(
    ticket: str, data: TranscriptIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, Any]:
    return out(await service.correct_transcript(session, who.user.username, ticket, data.text, data.version), who)
