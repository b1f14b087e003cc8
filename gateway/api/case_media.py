"""Recordings into cases, their audio out, and answers back to the resident."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.cases import out
from gateway.api.deps import Caller, caller, db
from gateway.api.files import artifact_file
from gateway.api.schemas import CaseReplyIn
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Artifact
from gateway.feedback import replies, service
from gateway.feedback.intake import Recording, receive

router = APIRouter(prefix="/api/v1", tags=["cases"])


@router.post("/cases/recording", status_code=201)
async def file_recording(
    request: Request,
    audio: UploadFile = File(...),
    caller_number: str = Form("", alias="caller"),
    area: str = Form(""),
    channel: str = Form("hotline"),
    text: str = Form(""),
    who: Caller = Depends(caller),
) -> Any:
    """A resident's recording (from the hotline's dialplan or an officer's upload): kept in
    the spool first, then filed. 201 with the case; 202 when the database could not take it
    yet (the recording is safe and will be filed by the worker)."""
    if channel not in service.CHANNELS:
        raise WorkflowError("channel", f"kênh phải là một trong: {', '.join(service.CHANNELS)}", 422)
    services = request.app.state.services
    recording = Recording(channel, caller_number.strip(), area or None, text.strip())
    filed = await receive(services.spool, services.sessions, audio.file, audio.filename or "", recording)
    if isinstance(filed, str):
        return JSONResponse(
            {"accepted": filed, "message": "đã nhận bản ghi; sẽ vào sổ phản ánh khi cơ sở dữ liệu sẵn sàng"},
            status_code=202,
        )
    services.feedback.wake.set()
    return out(filed, who)


@router.get("/cases/{ticket}/audio")
async def case_audio(ticket: str, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Any:
    case = await service.get(session, ticket)
    artifact = await session.get(Artifact, case.audio_sha256) if case.audio_sha256 else None
    if artifact is None:
        raise WorkflowError("audio", "phản ánh này không có bản ghi âm", 404)
    return await artifact_file(artifact.path, artifact.media_type)


@router.post("/cases/{ticket}/reply")
async def reply(
    ticket: str, data: CaseReplyIn, request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, Any]:
    services = request.app.state.services
    if data.via == "call":
        if "call" not in services.channels:
            raise WorkflowError("via", "chưa cấu hình tổng đài Asterisk ([[asterisk]]) nên không gọi trả lời được", 422)
        actor = (who.user.id, who.user.username)
        renderer, voice = services.renderer, services.settings.voice
        case, row = await replies.reply_by_call(session, renderer, actor, ticket, data.text, data.version, voice)
        services.dispatcher.wake.set()
        return out(case, who) | {"reply_delivery": row}
    case, parts = await replies.reply_by_sms(session, services.sms, who.user.username, ticket, data.text, data.version)
    return out(case, who) | {"reply_parts": parts}
