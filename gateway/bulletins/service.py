"""Bulletin workflow: draft -> submitted -> approved (or returned) -> scheduled ->
rendering -> ready -> delivering -> done / partly_failed; every transition audited.

Rules (Thông tư 39/2020 priorities): an approval covers one version. Nobody approves a
bulletin they wrote or whose current version they edited; an edit after submission (or
approval) returns the bulletin to draft; operators neither edit nor submit (except the
CAP alerts they file); a finished bulletin goes out again only after a new approval. An
emergency bulletin may skip approval only for a user allowed to (``can_skip_approval``),
and that is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, AuditLog, Bulletin, BulletinVersion, Delivery, Schedule, Target, User, utcnow
from gateway.db.states import BulletinStatus

PRIORITIES = ("normal", "priority", "emergency")
CHANNELS = ("file", "loudspeaker", "call", "sms")
EDITABLE = (BulletinStatus.DRAFT, BulletinStatus.RETURNED)
# An edit in these states withdraws the submission or the approval: back to draft.
REVISABLE = (*EDITABLE, BulletinStatus.SUBMITTED, BulletinStatus.APPROVED)
WRITERS = ("admin", "editor", "approver")
FINISHED = (BulletinStatus.DONE, BulletinStatus.PARTLY_FAILED)
STATUS_LABELS = {
    BulletinStatus.DRAFT: "Bản nháp",
    BulletinStatus.SUBMITTED: "Chờ duyệt",
    BulletinStatus.APPROVED: "Đã duyệt",
    BulletinStatus.RETURNED: "Trả lại",
    BulletinStatus.SCHEDULED: "Đã lên lịch",
    BulletinStatus.RENDERING: "Đang tạo âm thanh",
    BulletinStatus.READY: "Sẵn sàng",
    BulletinStatus.DELIVERING: "Đang phát",
    BulletinStatus.DONE: "Hoàn thành",
    BulletinStatus.PARTLY_FAILED: "Lỗi một phần",
    BulletinStatus.CANCELLED: "Đã hủy",
    BulletinStatus.STOPPED: "Đã dừng phát",
}
OFF_AIR = (
    BulletinStatus.CANCELLED,
    BulletinStatus.STOPPED,
)  # taken off the air: no item, row, call or SMS of it goes out


@dataclass(frozen=True)
class BulletinInput:
    title: str
    body: str
    sms_text: str = ""
    priority: str = "normal"
    voice: str = "vi-espeak"
    targets: tuple[tuple[str, str], ...] = ()  # (channel, area code)
    speed: float = 1.0  # speaking speed (gateway.bulletins.voices)


async def audit(session: AsyncSession, actor: str, action: str, entity: str, entity_id: Any, **detail: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, entity=entity, entity_id=str(entity_id), detail=detail))


async def _resolve_targets(session: AsyncSession, targets: tuple[tuple[str, str], ...]) -> list[tuple[str, Area]]:
    resolved = []
    for channel, code in dict.fromkeys(targets):  # the same target twice counts once
        if channel not in CHANNELS:
            raise WorkflowError("targets", f"kênh '{channel}' không hợp lệ (chọn: {', '.join(CHANNELS)})", 422)
        area = (await session.execute(select(Area).where(Area.code == code))).scalar_one_or_none()
        if area is None:
            raise WorkflowError("targets", f"không có địa bàn mã '{code}'", 422)
        resolved.append((channel, area))
    return resolved


async def create(
    session: AsyncSession,
    user: User,
    data: BulletinInput,
    source: str = "console",
    external_id: str | None = None,
    for_programme: bool = False,
    commit: bool = True,
) -> Bulletin:
    """A new draft. With ``commit=False`` the caller commits it with its own rows."""
    # Operators may file bulletins only from CAP alerts (the warning-centre integration).
    if user.role not in WRITERS and not (user.role == "operator" and source == "cap"):
        raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được soạn bản tin", 403)
    targets = await _resolve_targets(session, data.targets)
    bulletin = Bulletin(
        title=data.title,
        body=data.body,
        sms_text=data.sms_text,
        priority=data.priority,
        voice=data.voice,
        speech_speed=data.speed,
        created_by=user.id,
        source=source,
        external_id=external_id,
        for_programme=for_programme,
    )
    session.add(bulletin)
    await session.flush()
    session.add(
        BulletinVersion(
            bulletin_id=bulletin.id,
            version=1,
            title=data.title,
            body=data.body,
            sms_text=data.sms_text,
            edited_by=user.id,
        )
    )
    for channel, area in targets:
        session.add(Target(bulletin_id=bulletin.id, channel=channel, area_id=area.id))
    await audit(session, user.username, "create", "bulletin", bulletin.id, priority=data.priority, source=source)
    if commit:
        await session.commit()
    return bulletin


async def get(session: AsyncSession, bulletin_id: int) -> Bulletin:
    bulletin = await session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise WorkflowError("id", f"không có bản tin số {bulletin_id}", 404)
    return bulletin


def may_release_emergencies(user: User) -> bool:
    return user.can_skip_approval or user.role == "admin"


async def update(session: AsyncSession, user: User, bulletin_id: int, data: BulletinInput) -> Bulletin:
    """A new version; a submitted or approved bulletin goes back to draft (approval is per version)."""
    bulletin = await get(session, bulletin_id)
    if user.role not in WRITERS:
        raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được sửa bản tin", 403)
    if bulletin.status not in REVISABLE:
        raise WorkflowError(
            "status",
            f"chỉ sửa được bản tin chưa lên lịch phát (hiện: {STATUS_LABELS[bulletin.status]})",
        )
    targets = await _resolve_targets(session, data.targets)
    withdrawn = bulletin.status if bulletin.status in (BulletinStatus.SUBMITTED, BulletinStatus.APPROVED) else None
    bulletin.status, bulletin.approved_by = BulletinStatus.DRAFT, None
    bulletin.version += 1
    bulletin.title, bulletin.body, bulletin.sms_text = data.title, data.body, data.sms_text
    bulletin.priority, bulletin.voice, bulletin.speech_speed = data.priority, data.voice, data.speed
    session.add(
        BulletinVersion(
            bulletin_id=bulletin.id,
            version=bulletin.version,
            title=data.title,
            body=data.body,
            sms_text=data.sms_text,
            edited_by=user.id,
        )
    )
    await session.execute(sa_delete(Target).where(Target.bulletin_id == bulletin.id))
    for channel, area in targets:
        session.add(Target(bulletin_id=bulletin.id, channel=channel, area_id=area.id))
    await audit(
        session, user.username, "update", "bulletin", bulletin.id, version=bulletin.version, withdrawn=withdrawn
    )
    await session.commit()
    return bulletin


async def _transition(
    session: AsyncSession,
    user: User,
    bulletin: Bulletin,
    allowed: tuple[BulletinStatus, ...],
    new: BulletinStatus,
    action: str,
    **detail: Any,
) -> Bulletin:
    if bulletin.status not in allowed:
        raise WorkflowError(
            "status", f"không thể '{action}' khi bản tin đang ở trạng thái '{STATUS_LABELS[bulletin.status]}'"
        )
    old = bulletin.status
    bulletin.status = new
    await audit(session, user.username, action, "bulletin", bulletin.id, **{"from": old, "to": new, **detail})
    await session.commit()
    return bulletin


async def submit(session: AsyncSession, user: User, bulletin_id: int) -> Bulletin:
    """For approval; a finished bulletin is submitted again before it can go out again."""
    bulletin = await get(session, bulletin_id)
    own_alert = bulletin.source == "cap" and bulletin.created_by == user.id and bulletin.version == 1
    if user.role not in WRITERS and not (user.role == "operator" and own_alert):
        raise WorkflowError("role", "chỉ biên tập viên, người duyệt hoặc quản trị được gửi duyệt bản tin", 403)
    count = (
        await session.execute(select(func.count()).select_from(Target).where(Target.bulletin_id == bulletin.id))
    ).scalar_one()
    if not count and not bulletin.for_programme:  # a programme item goes where its programme goes
        raise WorkflowError("targets", "bản tin cần ít nhất một nơi nhận (kênh và địa bàn) trước khi gửi duyệt", 422)
    bulletin.approved_by = None
    return await _transition(session, user, bulletin, (*EDITABLE, *FINISHED), BulletinStatus.SUBMITTED, "submit")


async def approve(session: AsyncSession, user: User, bulletin_id: int) -> Bulletin:
    bulletin = await get(session, bulletin_id)
    if user.role not in ("approver", "admin"):
        raise WorkflowError("role", "chỉ người duyệt hoặc quản trị được duyệt bản tin", 403)
    if bulletin.created_by == user.id:
        raise WorkflowError("approved_by", "người soạn không được tự duyệt bản tin của mình", 403)
    last_editor = (
        await session.execute(
            select(BulletinVersion.edited_by).where(
                BulletinVersion.bulletin_id == bulletin.id, BulletinVersion.version == bulletin.version
            )
        )
    ).scalar_one_or_none()
    if last_editor == user.id:
        raise WorkflowError("approved_by", "người sửa phiên bản này không được tự duyệt nó", 403)
    bulletin.approved_by = user.id
    return await _transition(session, user, bulletin, (BulletinStatus.SUBMITTED,), BulletinStatus.APPROVED, "approve")


async def return_to_editor(session: AsyncSession, user: User, bulletin_id: int, comment: str) -> Bulletin:
    bulletin = await get(session, bulletin_id)
    if user.role not in ("approver", "admin"):
        raise WorkflowError("role", "chỉ người duyệt hoặc quản trị được trả lại bản tin", 403)
    if not comment.strip():
        raise WorkflowError("comment", "cần ghi lý do trả lại", 422)
    bulletin.return_comment = comment.strip()
    return await _transition(
        session, user, bulletin, (BulletinStatus.SUBMITTED,), BulletinStatus.RETURNED, "return", comment=comment.strip()
    )


async def emergency_release(session: AsyncSession, user: User, bulletin_id: int) -> Bulletin:
    """Send an emergency bulletin without approval (only users allowed to; audited)."""
    bulletin = await get(session, bulletin_id)
    if bulletin.priority != "emergency":
        raise WorkflowError("priority", "chỉ bản tin khẩn cấp được phát không qua duyệt", 422)
    if not may_release_emergencies(user):
        raise WorkflowError("can_skip_approval", "tài khoản này không được phát tin khẩn không qua duyệt", 403)
    bulletin.approved_by = user.id
    await _transition(
        session,
        user,
        bulletin,
        (*EDITABLE, BulletinStatus.SUBMITTED),
        BulletinStatus.APPROVED,
        "approve_skip",
        emergency=True,
    )
    return await schedule(session, user, bulletin_id, utcnow(), "")


async def schedule(
    session: AsyncSession, user: User, bulletin_id: int, run_at: datetime | None, recurrence: str
) -> Bulletin:
    """Schedule an air time. Without ``run_at``: now for a one-off; for a recurrence, its
    next daily time (filling in only the recurrence never airs the bulletin now)."""
    from gateway.bulletins.schedule import next_occurrence, parse_recurrence

    bulletin = await get(session, bulletin_id)
    if user.role not in ("approver", "admin", "operator", "editor"):
        raise WorkflowError("role", "tài khoản không được lên lịch", 403)
    parse_recurrence(recurrence)
    if run_at is None:
        run_at = next_occurrence(recurrence, utcnow()) or utcnow()
    if run_at.tzinfo is None:
        raise WorkflowError("run_at", "thời điểm phát phải kèm múi giờ", 422)
    if bulletin.status in FINISHED and not may_release_emergencies(user):
        # The approval covered the run that is over (an old emergency made daily is a new broadcast).
        raise WorkflowError(
            "approved_by", "bản tin đã phát xong: cần gửi duyệt lại trước khi lên lịch phát lần nữa", 403
        )
    if bulletin.air_from is not None and run_at < bulletin.air_from:  # a CAP <onset>/<effective>
        run_at = bulletin.air_from
    if bulletin.expires_at is not None and run_at >= bulletin.expires_at:
        raise WorkflowError(
            "run_at", f"bản tin hết hạn lúc {bulletin.expires_at.isoformat()} (CAP <expires>): không phát sau đó", 422
        )
    session.add(Schedule(bulletin_id=bulletin.id, run_at=run_at, recurrence=recurrence))
    return await _transition(
        session,
        user,
        bulletin,
        (BulletinStatus.APPROVED, BulletinStatus.READY, BulletinStatus.DONE, BulletinStatus.PARTLY_FAILED),
        BulletinStatus.SCHEDULED,
        "schedule",
        run_at=run_at.isoformat(),
        recurrence=recurrence,
    )


async def targets_of(session: AsyncSession, bulletin_id: int) -> list[tuple[str, int, str]]:
    """(channel, area id, area code) of each of the bulletin's targets."""
    rows = await session.execute(
        select(Target.channel, Area.id, Area.code)
        .join(Area, Area.id == Target.area_id)
        .where(Target.bulletin_id == bulletin_id)
        .order_by(Target.id)
    )
    return [(channel, area_id, code) for channel, area_id, code in rows]


async def delivery_counts(session: AsyncSession, bulletin_id: int) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.bulletin_id == bulletin_id)
        .group_by(Delivery.channel, Delivery.state)
    )
    counts: dict[str, dict[str, int]] = {}
    for channel, state, n in rows:
        counts.setdefault(channel, {})[state] = n
    return counts
