"""What the IVR needs from the gateway, over the database: the latest bulletins for a
caller's area, filing a recording as a case (through the same intake as the API, so a
recording is spooled before anything can fail), a case's status by ticket code, and an
opt-out pressed on the keypad."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import areas as areas_tree
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, Artifact, Bulletin, Case, Render, Subscriber, Target
from gateway.db.states import BulletinStatus
from gateway.feedback import service as cases
from gateway.feedback.intake import Recording, Spool, receive
from gateway.feedback.ticket import is_valid
from gateway.phones import to_e164
from gateway.sms.service import SmsService

log = logging.getLogger(__name__)
HEARD_STATES = (BulletinStatus.DELIVERING, BulletinStatus.DONE, BulletinStatus.PARTLY_FAILED)


def _e164(caller: str) -> str:
    try:
        return to_e164(caller, "caller") if caller else ""
    except WorkflowError:
        return ""  # anonymous or foreign caller ID: the call goes on without it


class DatabaseBackend:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool: Spool,
        recordings_dir: Path,
        sms: SmsService | None = None,
    ) -> None:
        self.sessions = sessions
        self.spool = spool
        self.recordings_dir = recordings_dir
        self.sms = sms

    async def _area(self, session: AsyncSession, phone: str) -> Area | None:
        if not phone:
            return None
        area_id = (
            await session.execute(select(Subscriber.area_id).where(Subscriber.phone == phone))
        ).scalar_one_or_none()
        return await session.get(Area, area_id) if area_id is not None else None

    async def caller_area(self, caller: str) -> str | None:
        """The area of a subscribed caller, by number."""
        async with self.sessions() as session:
            area = await self._area(session, _e164(caller))
            return area.code if area is not None else None

    async def area_choices(self) -> list[tuple[str, str]]:
        """What an unknown caller may choose from: the villages (the communes where no
        villages are registered), by code."""
        async with self.sessions() as session:
            for level in ("village", "commune"):
                rows = (
                    await session.execute(select(Area.code, Area.name).where(Area.level == level).order_by(Area.code))
                ).all()
                if rows:
                    return [(code, name) for code, name in rows]
        return []

    async def latest_bulletins(self, area_code: str | None, count: int) -> list[Path]:
        """The newest bulletins sent to the area or the areas above it (every bulletin when
        no area is known), telephone renders only."""
        async with self.sessions() as session:
            query = (
                select(Artifact.path)
                .join(Render, Render.artifact_sha256 == Artifact.sha256)
                .join(Bulletin, (Bulletin.id == Render.bulletin_id) & (Bulletin.version == Render.version))
                .where(Render.purpose == "telephone", Bulletin.status.in_(HEARD_STATES), Bulletin.source != "reply")
                .order_by(Bulletin.updated_at.desc(), Bulletin.id.desc())
                .limit(count)
            )
            area = (
                (await session.execute(select(Area).where(Area.code == area_code))).scalar_one_or_none()
                if area_code
                else None
            )
            if area is not None:
                above = await areas_tree.ancestors(session, area.id)
                targeted = select(Target.bulletin_id).where(Target.area_id.in_(above | {area.id}))
                query = query.where(Bulletin.id.in_(targeted))
            return [Path(p) for p in (await session.execute(query)).scalars()]

    async def file_recording(self, data: bytes, name: str, caller: str, flow: str) -> str:
        """File a recording Loa already holds (read from the shared directory or fetched
        from Asterisk's ARI) as a case, through the same intake as the API."""
        phone = _e164(caller)
        async with self.sessions() as session:
            area = await self._area(session, phone)
        note = "Ghi âm qua đường dây nóng" if flow == "hotline" else "Ghi âm sau cuộc gọi bản tin"
        filed = await receive(
            self.spool,
            self.sessions,
            data,
            name,
            Recording("hotline", phone, area.code if area is not None else None, note),
        )
        if not isinstance(filed, Case):
            return ""
        if self.sms is not None and phone:
            text = f"Loa: đã nhận phản ánh của bạn, mã số {filed.ticket}. Gọi đường dây nóng, bấm 3 để hỏi kết quả."
            try:
                await self.sms.send(phone, text, f"t{filed.id}")
            except Exception:
                log.exception("ticket SMS for case %s not sent", filed.ticket)
        return filed.ticket

    async def case_status(self, ticket: str) -> str | None:
        if not is_valid(ticket):
            return None
        async with self.sessions() as session:
            try:
                case = await cases.get(session, ticket)
            except WorkflowError:
                return None
            return cases.status_sentence(case)

    async def recording_failed(self, caller: str, flow: str, call: str, why: str) -> None:
        """A message Asterisk could not record: in the audit log the console shows, with the
        caller's number so an officer can call back."""
        async with self.sessions() as session:
            phone = _e164(caller) or caller
            await audit(session, "ivr", "recording_failed", "call", call, caller=phone, flow=flow, why=why)
            await session.commit()

    async def opt_out(self, caller: str) -> None:
        phone = _e164(caller)
        if not phone:
            return
        async with self.sessions() as session:
            row = (await session.execute(select(Subscriber).where(Subscriber.phone == phone))).scalar_one_or_none()
            if row is None:
                session.add(Subscriber(phone=phone, opted_out=True, source="ivr"))
            else:
                row.opted_out = True
            await audit(session, "ivr", "opt_out", "subscriber", phone, via="call")
            await session.commit()
