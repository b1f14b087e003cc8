"""/api/v1/bulletins/{id}/audio: the officer's own audio instead of synthesis (upload a
file, or a browser recording), or back to the voice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.bulletins import audio_choice
from gateway.db.models import Bulletin

router = APIRouter(prefix="/api/v1", tags=["bulletins"])


def audio_out(bulletin: Bulletin, seconds: float | None = None) -> dict[str, Any]:
    own = {"name": bulletin.audio_name, "seconds": round(seconds, 2)} if seconds is not None else None
    if bulletin.audio_sha256 and own is None:
        own = {"name": bulletin.audio_name}
    return {"id": bulletin.id, "version": bulletin.version, "status": bulletin.status, "audio": own}


@router.post("/bulletins/{bulletin_id}/audio")
async def upload_audio(
    bulletin_id: int,
    request: Request,
    audio: UploadFile = File(..., description="MP3, WAV, WebM or Ogg; at most 25 MB and 20 minutes"),
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> dict[str, Any]:
    """Use this recording instead of the synthesized text: checked, decoded off the event
    loop, loudness-normalized like a render; a new version (approval is per version)."""
    renderer = request.app.state.services.renderer
    bulletin, seconds = await audio_choice.attach(
        session, renderer, who.user, bulletin_id, audio.file, audio.filename or ""
    )
    return audio_out(bulletin, seconds)


@router.delete("/bulletins/{bulletin_id}/audio")
async def remove_audio(
    bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, Any]:
    """Back to the synthesized voice (a new version)."""
    return audio_out(await audio_choice.detach(session, who.user, bulletin_id))
