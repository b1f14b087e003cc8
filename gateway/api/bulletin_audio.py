"""/api/v1/bulletins/{id}/audio: the officer's own audio instead of synthesis (upload a
file, or a browser recording), or back to the voice."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.api.schemas import Strict
from gateway.bulletins import audio_choice, voices
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Bulletin
from tts.render import RenderSettings

router = APIRouter(prefix="/api/v1", tags=["bulletins"])
SAMPLES_PER_MINUTE = 6
SENTENCE_CHARS = 300


def first_sentence(text: str) -> str:
    """What "Nghe thử" reads: the first sentence (or line), at most ``SENTENCE_CHARS``."""
    stripped = text.strip()
    found = re.match(r"(.+?[.!?…])(\s|$)", stripped.split("\n", 1)[0].strip())
    sentence = found[1] if found else stripped.split("\n", 1)[0].strip()
    if len(sentence) > SENTENCE_CHARS:
        sentence = sentence[:SENTENCE_CHARS].rsplit(" ", 1)[0]
    if not any(ch.isalnum() for ch in sentence):
        raise WorkflowError("text", "cần một câu có chữ để nghe thử", 422)
    return sentence


class SampleLimit:
    """At most ``per_minute`` samples per user in any 60 seconds (in this process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.taken: dict[int, deque[float]] = {}

    def take(self, user_id: int) -> int:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic()
        times = self.taken.setdefault(user_id, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= self.per_minute:
            return int(60 - (now - times[0])) + 1
        times.append(now)
        return 0


samples_limit = SampleLimit(SAMPLES_PER_MINUTE)


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


class ListenIn(Strict):
    text: str = Field(min_length=1, max_length=5_000)
    voice: str = Field(default="vi-espeak", min_length=1, max_length=100)
    speed: float = Field(default=1.0, ge=0.8, le=1.2)


@router.post("/preview/audio", response_class=Response)
async def listen(data: ListenIn, request: Request, who: Caller = Depends(caller)) -> Response:
    """"Nghe thử": the first sentence of ``text`` in ``voice`` at ``speed``, as a WAV at the
    loudspeaker render's loudness, synthesized on the live lane (never behind a render).
    At most ``SAMPLES_PER_MINUTE`` a minute per user (429 past it)."""
    sentence = first_sentence(data.text)
    voices.check(data.voice, data.speed)
    wait = samples_limit.take(who.user.id)
    if wait:
        raise WorkflowError("text", f"đã nghe thử {SAMPLES_PER_MINUTE} lần trong một phút; hãy chờ {wait} giây", 429)
    renderer = request.app.state.services.renderer
    synth = await renderer.synthesizer(data.voice, "live", data.speed)
    with tempfile.TemporaryDirectory(dir=renderer.store.root) as tmp:
        out = Path(tmp) / "nghe-thu.wav"
        await synth.arender(sentence, out, RenderSettings(loudness_lufs=-16.0))
        audio = await asyncio.to_thread(out.read_bytes)
    return Response(audio, media_type="audio/wav", headers={"Cache-Control": "no-store"})
