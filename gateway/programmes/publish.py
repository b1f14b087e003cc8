"""Publish a rendered programme: its renders stored, a scheduled bulletin (source
``programme``) carrying them to the loudspeakers of the template's areas at the air
time, the items used marked done, the run's chapters, what was dropped and why. Only
once: a renderer whose run was taken over and already published (it was slow, not dead)
publishes nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.service import audit
from gateway.db.models import Area, Bulletin, ProgrammeRun, ProgrammeTemplate, Render, Schedule, Target
from gateway.db.session import write_lock
from gateway.db.states import BulletinStatus, ProgrammeRunStatus
from gateway.programmes.assemble import Assembled
from gateway.programmes.importer import system_user
from gateway.programmes.items import Item
from gateway.programmes.runs import Claim
from gateway.storage.artifacts import ArtifactStore, record


async def publish(
    sessions: async_sessionmaker[AsyncSession],
    store: ArtifactStore,
    zone: ZoneInfo,
    claim: Claim,
    template: ProgrammeTemplate,
    chosen: list[Item],
    dropped: list[Item],
    audio: Assembled,
    air_at: datetime,
    limit: float,
) -> ProgrammeRun:
    async with sessions() as session:
        now = await session.get(ProgrammeRun, claim.run_id)
        assert now is not None  # runs are never deleted
        if now.status != ProgrammeRunStatus.COMPILING or now.renderer != claim.renderer:
            return now  # taken over: store nothing
    stored: dict[str, tuple[str, Path, int]] = {}  # ext -> (sha256, path, size)
    for ext, path in (("wav", audio.loudspeaker), ("ulaw", audio.telephone), ("mp3", audio.web)):
        if path is not None:
            stored[ext] = await asyncio.to_thread(store.put_file, path, ext)
    local = air_at.astimezone(zone)
    async with sessions() as session:
        await write_lock(session)
        held = (
            await session.execute(select(ProgrammeRun).where(ProgrammeRun.id == claim.run_id).with_for_update())
        ).scalar_one()
        if held.status != ProgrammeRunStatus.COMPILING or held.renderer != claim.renderer:  # taken over: a slow attempt
            session.expunge(held)  # as it is now, kept whole through the rollback
            await session.rollback()
            return held
        author = await system_user(session)
        body = "\n\n".join(f"{i.title}. {i.body}" for i in chosen)
        bulletin = Bulletin(
            title=f"{template.name} {local:%d/%m/%Y}",
            body=body[:50_000],
            status=BulletinStatus.SCHEDULED,
            source="programme",
            voice=template.voice,
            created_by=author.id,
            approved_by=author.id,
        )
        session.add(bulletin)
        await session.flush()
        for ext, (sha, path, size) in stored.items():
            await record(session, sha, path, size, ext)
        for ext, purpose in (("wav", "loudspeaker"), ("ulaw", "telephone")):
            session.add(
                Render(
                    bulletin_id=bulletin.id,
                    version=bulletin.version,
                    purpose=purpose,
                    artifact_sha256=stored[ext][0],
                    format=ext,
                    sample_rate=audio.sample_rate if ext == "wav" else 8000,
                    duration_seconds=audio.duration,
                    voice=template.voice,
                )
            )
        codes = [c.strip() for c in template.areas.split(",") if c.strip()]
        for area_id in (await session.execute(select(Area.id).where(Area.code.in_(codes)))).scalars():
            session.add(Target(bulletin_id=bulletin.id, channel="loudspeaker", area_id=area_id))
        session.add(Schedule(bulletin_id=bulletin.id, run_at=air_at))
        for item in chosen:
            used = await session.get(Bulletin, item.id)
            if used is not None:
                used.status, used.for_programme = BulletinStatus.DONE, False
        run = held
        run.status = ProgrammeRunStatus.READY
        run.heartbeat_at = None
        run.renderer = None
        run.bulletin_id = bulletin.id
        run.duration_seconds = round(audio.duration, 1)
        run.chapters = [vars(c) for c in audio.chapters]
        run.dropped = [{"bulletin_id": i.id, "title": i.title, "estimate_seconds": round(i.estimate)} for i in dropped]
        run.web_sha256 = stored["mp3"][0] if "mp3" in stored else None
        if dropped:
            names = "; ".join(i.title for i in dropped[:5])
            run.warning = (
                f"Chương trình giới hạn {limit / 60:g} phút: {len(dropped)} tin chuyển sang lần sau ({names})."
            )
        elif audio.duration > limit:
            run.warning = f"Chương trình dài {audio.duration / 60:.1f} phút, quá giới hạn {limit / 60:g} phút."
        await audit(session, "loa", "programme_compiled", "programme", template.name, run=run.id, items=len(chosen))
        await session.commit()
        return run
