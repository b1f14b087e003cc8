"""Console: the composer's audio section. Upload a file or a recording made in the
browser instead of the synthesized voice, or go back to the voice (the work is in
gateway.bulletins.audio_choice; this module is the form's edge)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins import audio_choice, own_audio, voices
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, failed, templates, who

router = APIRouter(include_in_schema=False)
templates.env.globals.update(
    AUDIO_ACCEPT=own_audio.ACCEPT,
    AUDIO_MAX_MB=own_audio.MAX_BYTES // own_audio.MB,
    VOICES=voices.choices,  # read when the composer is shown: a voice installed meanwhile appears
    SPEED_LABELS=voices.SPEED_LABELS,
)


@router.post("/bulletins/{bulletin_id}/audio")
async def upload_audio(
    bulletin_id: int,
    request: Request,
    audio: UploadFile = File(...),
    csrf_token: str = Form(""),
    session: AsyncSession = Depends(db),
) -> Response:
    user, csrf = await who(request, session)
    url = f"/bulletins/{bulletin_id}"
    try:
        check_csrf(csrf, csrf_token)
        renderer = request.app.state.services.renderer
        await audio_choice.attach(session, renderer, user, bulletin_id, audio.file, audio.filename or "")
    except WorkflowError as exc:
        return failed(url, exc)
    return back(f"{url}?saved=1")


@router.post("/bulletins/{bulletin_id}/audio/remove")
async def remove_audio(
    bulletin_id: int, request: Request, csrf_token: str = Form(""), session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    url = f"/bulletins/{bulletin_id}"
    try:
        check_csrf(csrf, csrf_token)
        await audio_choice.detach(session, user, bulletin_id)
    except WorkflowError as exc:
        return failed(url, exc)
    return back(f"{url}?saved=1")
