"""The compressed rendition the console's audio player plays (MP3, 48 kbit/s mono, about a
twentieth of the WAV), made once per render with ffmpeg and kept beside the artifacts;
the WAV stays the download and what delivery uses."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins import service
from gateway.console.common import who
from gateway.db.models import Artifact, Render

router = APIRouter(include_in_schema=False)
BITRATE = "48k"


async def mp3_of(wav: Path, sha256: str, folder: Path, locks: dict[str, asyncio.Lock]) -> Path:
    """The MP3 of a WAV artifact, made on first use (ffmpeg off the event loop); ``locks``
    (the process's, ``Services.mp3_locks``) make one ffmpeg per file."""
    out = folder / f"{sha256}.mp3"
    async with locks.setdefault(sha256, asyncio.Lock()):
        if await asyncio.to_thread(_ready, out, folder):
            return out
        part = out.with_suffix(f".{os.getpid()}.part")
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
            "-ac", "1", "-codec:a", "libmp3lame", "-b:a", BITRATE, "-f", "mp3", str(part),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        if proc.returncode != 0:
            await asyncio.to_thread(part.unlink, True)
            raise HTTPException(500, detail=f"không nén được âm thanh: {err.decode(errors='replace')[:200]}")
        await asyncio.to_thread(part.replace, out)
    return out


def _ready(out: Path, folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return out.exists()


@router.get("/bulletins/{bulletin_id}/listen.mp3")
async def listen(bulletin_id: int, request: Request, session: AsyncSession = Depends(db)) -> FileResponse:
    await who(request, session)
    bulletin = await service.get(session, bulletin_id)
    row = (
        await session.execute(
            select(Artifact)
            .join(Render, Render.artifact_sha256 == Artifact.sha256)
            .where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version)
            .where(Render.purpose == "loudspeaker")
        )
    ).scalar_one_or_none()
    if row is None:
        raise HTTPException(404, detail="chưa có âm thanh cho phiên bản này")
    services = request.app.state.services
    folder = services.renderer.store.root / "listen"
    return FileResponse(await mp3_of(Path(row.path), row.sha256, folder, services.mp3_locks), media_type="audio/mpeg")
