"""A bulletin's audio chosen by the officer: their own file or recording instead of the
synthesized text, or back to the voice. Either way it is a new version (what an approver
approved is what airs), rendered at once so the composer and the approval card play it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins import own_audio, service
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.render import Renderer
from gateway.db.models import Bulletin, BulletinVersion, User
from gateway.db.states import BulletinStatus
from gateway.storage.artifacts import record


async def _editable(session: AsyncSession, user: User, bulletin_id: int) -> Bulletin:
    bulletin = await service.get(session, bulletin_id)
    if user.role not in service.WRITERS:
        raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được đổi âm thanh bản tin", 403)
    if bulletin.status not in service.REVISABLE:
        label = service.STATUS_LABELS[bulletin.status]
        raise WorkflowError("status", f"chỉ đổi âm thanh được khi bản tin chưa lên lịch phát (hiện: {label})", 409)
    return bulletin


async def _new_version(session: AsyncSession, user: User, bulletin: Bulletin, action: str, **detail: object) -> None:
    withdrawn = bulletin.status if bulletin.status in ("submitted", "approved") else None
    bulletin.status, bulletin.approved_by = BulletinStatus.DRAFT, None
    bulletin.version += 1
    session.add(
        BulletinVersion(
            bulletin_id=bulletin.id,
            version=bulletin.version,
            title=bulletin.title,
            body=bulletin.body,
            sms_text=bulletin.sms_text,
            edited_by=user.id,
        )
    )
    await service.audit(
        session, user.username, action, "bulletin", bulletin.id, version=bulletin.version, withdrawn=withdrawn, **detail
    )
    await session.commit()


async def attach(
    session: AsyncSession, renderer: Renderer, user: User, bulletin_id: int, upload: BinaryIO, name: str
) -> tuple[Bulletin, float]:
    """Check, decode and keep ``upload`` as the bulletin's audio; (bulletin, seconds).
    Decoding runs in a thread; a refusal names the field ``audio`` and the rule."""
    bulletin = await _editable(session, user, bulletin_id)
    name = Path(name or "ghi-am").name[:200]
    store = renderer.store
    saved = await asyncio.to_thread(own_audio.save_upload, upload, store.root)
    master = saved.with_suffix(".wav")
    try:
        decoded = await asyncio.to_thread(own_audio.decode, saved, name)
        await asyncio.to_thread(own_audio.write_master, decoded, master)
        sha, path, size = await asyncio.to_thread(store.put_file, master, "wav")
    finally:
        saved.unlink(missing_ok=True)
        master.unlink(missing_ok=True)
    await record(session, sha, path, size, "wav")
    bulletin.audio_sha256, bulletin.audio_name = sha, name
    await _new_version(session, user, bulletin, "audio_upload", name=name, seconds=round(decoded.seconds, 1))
    await renderer.render(session, bulletin)
    return bulletin, decoded.seconds


async def detach(session: AsyncSession, user: User, bulletin_id: int) -> Bulletin:
    """Back to the synthesized voice (a new version, rendered when submitted)."""
    bulletin = await _editable(session, user, bulletin_id)
    if bulletin.audio_sha256 is None:
        return bulletin
    bulletin.audio_sha256, bulletin.audio_name = None, ""
    await _new_version(session, user, bulletin, "audio_remove")
    return bulletin
