"""Compile a programme from its template: greeting with the date, the approved items in
priority order (emergency, priority, normal; then oldest first) with bridges, closing.

Length: items are taken while the estimated length fits the template's limit; after
rendering, items are dropped from the end until the real length fits. What is dropped
stays approved for the next programme, and the officer gets a warning naming it. The
result is a bulletin (source ``programme``) with its renders already in place, targeted
at the template's areas on the loudspeaker channel and scheduled at the air time, so the
loudspeakers, the hotline's "latest bulletins" and the podcast all use the same audio.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.bulletins.service import audit
from gateway.db.models import (
    Area,
    Artifact,
    Bulletin,
    ProgrammeRun,
    ProgrammeTemplate,
    Render,
    Schedule,
    Target,
)
from gateway.programmes.assemble import Assembled, Segment, assemble, spoken_date
from gateway.programmes.importer import system_user
from gateway.storage.artifacts import MEDIA_TYPES

log = logging.getLogger(__name__)
CHARS_PER_SECOND = 13.0  # Vietnamese read aloud, for the first estimate only
DEFAULT_GREETING = "Đây là Đài truyền thanh xã. {date}. Mời bà con nghe chương trình {name}."
DEFAULT_CLOSING = "Chương trình {name} đến đây là kết thúc. Cảm ơn bà con đã lắng nghe."
DEFAULT_BRIDGE = "Tin tiếp theo."
RANK = case((Bulletin.priority == "emergency", 2), (Bulletin.priority == "priority", 1), else_=0)


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}.\n{self.body}"

    @property
    def estimate(self) -> float:
        return len(self.text) / CHARS_PER_SECOND


async def waiting_items(session: AsyncSession) -> list[Item]:
    rows = (
        await session.execute(
            select(Bulletin)
            .where(Bulletin.status == "approved", Bulletin.for_programme.is_(True))
            .order_by(RANK.desc(), Bulletin.created_at, Bulletin.id)
        )
    ).scalars()
    return [Item(b.id, b.title, b.body) for b in rows]


def segments_for(template: ProgrammeTemplate, items: list[Item], air_local: datetime) -> list[Segment]:
    fill = {"date": spoken_date(air_local.date()), "name": template.name}
    segments = [Segment((template.greeting or DEFAULT_GREETING).format(**fill))]
    for n, item in enumerate(items):
        if n:
            segments.append(Segment(template.bridge or DEFAULT_BRIDGE))
        segments.append(Segment(item.text, item.id, item.title))
    segments.append(Segment((template.closing or DEFAULT_CLOSING).format(**fill)))
    return segments


def choose(items: list[Item], limit_seconds: float) -> tuple[list[Item], list[Item]]:
    """Items in order while the estimate fits; the first item always goes (a programme
    with nothing in it helps no one, and the warning says it is long)."""
    chosen: list[Item] = []
    total = 40.0  # greeting, closing, jingles
    for item in items:
        if chosen and total + item.estimate + 2 > limit_seconds:
            continue
        chosen.append(item)
        total += item.estimate + 2
    return chosen, [i for i in items if i not in chosen]


class Compiler:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], renderer: Renderer, timezone: str = "Asia/Ho_Chi_Minh"
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.zone = ZoneInfo(timezone)

    async def compile(
        self,
        template_id: int,
        air_at: datetime,
        on_segment: Callable[[int, Segment, float], None] | None = None,
    ) -> ProgrammeRun:
        async with self.sessions() as session:
            template = await session.get(ProgrammeTemplate, template_id)
            if template is None:
                raise ValueError(f"no programme template {template_id}")
            run = ProgrammeRun(template_id=template.id, air_at=air_at)
            session.add(run)
            try:
                await session.commit()
            except IntegrityError:  # another worker compiles this one
                await session.rollback()
                same = (ProgrammeRun.template_id == template_id, ProgrammeRun.air_at == air_at)
                return (await session.execute(select(ProgrammeRun).where(*same))).scalar_one()
            items = await waiting_items(session)
        limit = template.max_minutes * 60.0
        chosen, dropped = choose(items, limit)
        if not chosen:
            nothing = "Không có tin nào đã duyệt để đưa vào chương trình."
            return await self._finish(run.id, status="empty", warning=nothing)
        with tempfile.TemporaryDirectory(dir=self.renderer.store.root) as tmp:
            while True:
                segments = segments_for(template, chosen, air_at.astimezone(self.zone))
                try:
                    audio = await assemble(
                        self.renderer, template.voice, segments, Path(tmp), template.jingle, on_segment
                    )
                except Exception as exc:
                    log.exception("programme %s failed to render", template.name)
                    return await self._finish(run.id, status="failed", warning=f"không tạo được âm thanh: {exc}")
                if audio.duration <= limit or len(chosen) == 1:
                    break
                dropped.insert(0, chosen.pop())  # the real length is over: the last item waits
            return await self._publish(run.id, template, chosen, dropped, audio, air_at, limit)

    async def _finish(self, run_id: int, status: str, warning: str) -> ProgrammeRun:
        async with self.sessions() as session:
            run = await session.get(ProgrammeRun, run_id)
            assert run is not None  # created by compile
            run.status, run.warning = status, warning
            await session.commit()
            return run

    async def _publish(
        self,
        run_id: int,
        template: ProgrammeTemplate,
        chosen: list[Item],
        dropped: list[Item],
        audio: Assembled,
        air_at: datetime,
        limit: float,
    ) -> ProgrammeRun:
        store = self.renderer.store
        stored: dict[str, str] = {}
        for ext, path in (("wav", audio.loudspeaker), ("ulaw", audio.telephone), ("mp3", audio.web)):
            if path is not None:
                sha, final, size = await asyncio.to_thread(store.put_file, path, ext)
                stored[ext] = sha
                stored[f"{ext}:path"] = str(final)
                stored[f"{ext}:size"] = str(size)
        local = air_at.astimezone(self.zone)
        async with self.sessions() as session:
            author = await system_user(session)
            body = "\n\n".join(f"{i.title}. {i.body}" for i in chosen)
            bulletin = Bulletin(
                title=f"{template.name} {local:%d/%m/%Y}",
                body=body[:50_000],
                status="scheduled",
                source="programme",
                voice=template.voice,
                created_by=author.id,
                approved_by=author.id,
            )
            session.add(bulletin)
            await session.flush()
            for ext, purpose in (("wav", "loudspeaker"), ("ulaw", "telephone")):
                sha = stored[ext]
                if await session.get(Artifact, sha) is None:
                    session.add(
                        Artifact(
                            sha256=sha,
                            path=stored[f"{ext}:path"],
                            size=int(stored[f"{ext}:size"]),
                            media_type=MEDIA_TYPES[ext],
                        )
                    )
                session.add(
                    Render(
                        bulletin_id=bulletin.id,
                        version=bulletin.version,
                        purpose=purpose,
                        artifact_sha256=sha,
                        format=ext,
                        sample_rate=audio.sample_rate if ext == "wav" else 8000,
                        duration_seconds=audio.duration,
                        voice=template.voice,
                    )
                )
            if "mp3" in stored and await session.get(Artifact, stored["mp3"]) is None:
                session.add(
                    Artifact(
                        sha256=stored["mp3"],
                        path=stored["mp3:path"],
                        size=int(stored["mp3:size"]),
                        media_type=MEDIA_TYPES.get("mp3", "audio/mpeg"),
                    )
                )
            codes = [c.strip() for c in template.areas.split(",") if c.strip()]
            for area_id in (await session.execute(select(Area.id).where(Area.code.in_(codes)))).scalars():
                session.add(Target(bulletin_id=bulletin.id, channel="loudspeaker", area_id=area_id))
            session.add(Schedule(bulletin_id=bulletin.id, run_at=air_at))
            for item in chosen:
                used = await session.get(Bulletin, item.id)
                if used is not None:
                    used.status, used.for_programme = "done", False
            run = await session.get(ProgrammeRun, run_id)
            assert run is not None  # created by compile
            run.status = "ready"
            run.bulletin_id = bulletin.id
            run.duration_seconds = round(audio.duration, 1)
            run.chapters = [vars(c) for c in audio.chapters]
            run.dropped = [
                {"bulletin_id": i.id, "title": i.title, "estimate_seconds": round(i.estimate)} for i in dropped
            ]
            run.web_sha256 = stored.get("mp3")
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
