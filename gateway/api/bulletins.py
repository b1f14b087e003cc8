"""/api/v1/bulletins: write, submit, approve or return, schedule, follow delivery."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.api.files import artifact_file
from gateway.api.schemas import BulletinIn, BulletinOut, PreviewIn, ReturnIn, ScheduleIn, TargetIn
from gateway.bulletins import service, voices
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Artifact, Bulletin, Delivery, Render
from gateway.db.states import DeliveryState
from gateway.delivery import ledger
from gateway.phones import hides_numbers, mask_text
from gateway.sms import replay as sms_replay

router = APIRouter(prefix="/api/v1", tags=["bulletins"])


def to_input(data: BulletinIn) -> service.BulletinInput:
    return service.BulletinInput(
        data.title,
        data.body,
        data.sms_text,
        data.priority,
        data.voice,
        tuple((t.channel, t.area) for t in data.targets),
        data.speed,
    )


async def check_voice(request_voice: str) -> None:
    from tts.voices.base import VoiceError
    from tts.voices.registry import resolve

    try:
        resolve(request_voice)
    except VoiceError as exc:
        raise WorkflowError("voice", str(exc), 422) from exc


async def out(session: AsyncSession, bulletin: Bulletin) -> BulletinOut:
    targets = await service.targets_of(session, bulletin.id)
    data = {c: getattr(bulletin, c) for c in BulletinOut.model_fields if c != "targets"}
    return BulletinOut(**data, targets=[TargetIn.model_validate({"channel": c, "area": a}) for c, _, a in targets])


@router.get("/bulletins")
async def list_bulletins(
    status: str | None = None, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> list[BulletinOut]:
    query = select(Bulletin).where(Bulletin.source != "reply").order_by(Bulletin.id.desc()).limit(200)
    if status:
        query = query.where(Bulletin.status == status)
    return [await out(session, b) for b in (await session.execute(query)).scalars()]


@router.post("/bulletins", status_code=201)
async def create_bulletin(
    data: BulletinIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    voices.check(data.voice, data.speed)
    bulletin = await service.create(session, who.user, to_input(data), source="console" if who.csrf else "api")
    return await out(session, bulletin)


@router.get("/bulletins/{bulletin_id}")
async def get_bulletin(
    bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    return await out(session, await service.get(session, bulletin_id))


@router.put("/bulletins/{bulletin_id}")
async def update_bulletin(
    bulletin_id: int, data: BulletinIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    voices.check(data.voice, data.speed)
    return await out(session, await service.update(session, who.user, bulletin_id, to_input(data)))


@router.post("/bulletins/{bulletin_id}/submit")
async def submit(bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> BulletinOut:
    return await out(session, await service.submit(session, who.user, bulletin_id))


@router.post("/bulletins/{bulletin_id}/approve")
async def approve(bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> BulletinOut:
    return await out(session, await service.approve(session, who.user, bulletin_id))


@router.post("/bulletins/{bulletin_id}/return")
async def return_bulletin(
    bulletin_id: int, data: ReturnIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    return await out(session, await service.return_to_editor(session, who.user, bulletin_id, data.comment))


@router.post("/bulletins/{bulletin_id}/schedule")
async def schedule(
    bulletin_id: int, data: ScheduleIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    bulletin = await service.schedule(session, who.user, bulletin_id, data.run_at, data.recurrence)
    return await out(session, bulletin)


@router.post("/bulletins/{bulletin_id}/emergency")
async def emergency(
    bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> BulletinOut:
    return await out(session, await service.emergency_release(session, who.user, bulletin_id))


@router.get("/bulletins/{bulletin_id}/deliveries")
async def deliveries(
    bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, object]:
    await service.get(session, bulletin_id)
    rows = (
        (await session.execute(select(Delivery).where(Delivery.bulletin_id == bulletin_id).order_by(Delivery.id)))
        .scalars()
        .all()
    )
    shown = mask_text if hides_numbers(who.user.role) else str
    return {
        "counts": await service.delivery_counts(session, bulletin_id),
        "rows": [
            {
                "id": r.id,
                "channel": r.channel,
                "target": shown(r.target),
                "state": r.state,
                "attempts": r.attempts,
                "reference": shown(r.reference),
                "detail": shown(r.detail),
                "occurrence": r.occurrence,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
        ],
    }


@router.post("/deliveries/{delivery_id}/retry")
async def retry(
    delivery_id: int, confirm: bool = False, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, bool]:
    """Queue a row again. An SMS row that may have reached the resident in part
    (``unknown``, ``sent``) answers 409 naming the parts that would go again, until
    ``confirm=true``; then exactly those parts are sent."""
    if who.user.role not in ("admin", "operator"):
        raise WorkflowError("role", "chỉ quản trị hoặc vận hành được phát lại", 403)
    states: tuple[DeliveryState, ...] = (DeliveryState.FAILED, DeliveryState.UNKNOWN)
    row = await session.get(Delivery, delivery_id)
    if row is not None and row.channel == "sms":
        states = await sms_replay.prepare(session, row, confirm)
    if not await ledger.retry_now(session, delivery_id, states):
        raise WorkflowError("id", "chỉ phát lại được lượt gửi đã lỗi hoặc không xác định", 409)
    await service.audit(session, who.user.username, "retry", "delivery", delivery_id)
    await session.commit()
    return {"ok": True}


@router.get("/bulletins/{bulletin_id}/audio/{purpose}")
async def audio(
    bulletin_id: int, purpose: str, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> FileResponse:
    bulletin = await service.get(session, bulletin_id)
    row = (
        await session.execute(
            select(Artifact)
            .join(Render, Render.artifact_sha256 == Artifact.sha256)
            .where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version, Render.purpose == purpose)
        )
    ).scalar_one_or_none()
    if row is None:
        raise HTTPException(
            404,
            detail={
                "errors": [
                    {"field": "purpose", "rule": "not_rendered", "message": "chưa có âm thanh cho phiên bản này"}
                ]
            },
        )
    return await artifact_file(row.path, row.media_type)


@router.post("/preview")
async def preview(data: PreviewIn, request: Request, who: Caller = Depends(caller)) -> dict[str, object]:
    """What will be said: the normalized text the voice reads, and per line the runs the
    normalizer rewrote with their class ("marks": [[{written, spoken, class}, ...], ...])."""
    await check_voice(data.voice)
    renderer = request.app.state.services.renderer
    return {
        "spoken_text": await renderer.spoken_text(data.voice, data.text),
        "marks": await renderer.spoken_marks(data.voice, data.text),
    }
