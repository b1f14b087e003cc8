"""What a checked CAP 1.2 message does: the rules an alerting authority can rely on.

Everything is decided before anything changes: the sender the caller may speak for,
every ``<references>`` entry (same ``<sender>`` only; only an Actual message touches an
Actual alert), whether the message may be broadcast (``status``, ``scope``,
``expires``, the test group) and the areas it reaches. Then one transaction stores the
message, cancels what it references and creates its bulletin, or nothing happens.
A refusal that matters to the authority (a foreign sender) is audited on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins import service
from gateway.bulletins.cap import CapAlert, Reference
from gateway.bulletins.cap_cancel import cancel_referenced
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Bulletin, CapMessage, User, utcnow
from gateway.db.states import CapOutcome

TEST_STATUS = ("Exercise", "Test")
TITLE_PREFIX = {"Exercise": "[Diễn tập] ", "Test": "[Thử nghiệm] "}


@dataclass(frozen=True)
class Context:
    """What the gateway around the message provides."""

    actor: User
    channels: tuple[str, ...]  # channels configured here, loudspeaker only with a cluster
    voice: str
    test_areas: tuple[str, ...] = ()  # area codes of the test group (config cap_test_areas)
    senders: tuple[str, ...] | None = None  # the token's CAP senders; None: any
    wake: Callable[[], None] = lambda: None
    announce_stop: Callable[[int], Awaitable[object]] | None = None  # after the commit, per alert cancelled


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Found:
    reference: Reference
    status: str
    bulletin: Bulletin | None


async def _refuse(session: AsyncSession, ctx: Context, alert: CapAlert, error: WorkflowError) -> WorkflowError:
    """Nothing of the message is kept, but the attempt is audited (its own commit)."""
    actor = ctx.actor.username  # read before the rollback expires the user
    await session.rollback()
    await service.audit(
        session,
        actor,
        "cap_refused",
        "cap",
        alert.key[:64],
        field=error.field,
        reason=error.message,
        sender=alert.sender,
        references=[r.key for r in alert.references],
    )
    await session.commit()
    return error


async def _resolve(session: AsyncSession, ctx: Context, alert: CapAlert) -> tuple[list[_Found], list[str]]:
    found, unknown = [], []
    for ref in alert.references:
        if ref.sender != alert.sender:
            raise await _refuse(
                session,
                ctx,
                alert,
                WorkflowError(
                    "alert.references",
                    f"'{ref.key}' là cảnh báo của bên gửi khác ({ref.sender}); chỉ được tham chiếu cảnh báo "
                    f"của chính {alert.sender}",
                    409,
                    rule="cap_sender",
                ),
            )
        message = (await session.execute(select(CapMessage).where(CapMessage.key == ref.key))).scalar_one_or_none()
        bulletin_id = message.bulletin_id if message is not None else None
        bulletin = None
        if message is None:  # alerts received before CAP messages were stored: their bulletins only
            bulletin = (
                await session.execute(select(Bulletin).where(Bulletin.external_id == ref.key))
            ).scalar_one_or_none()
        elif bulletin_id is not None:
            bulletin = await session.get(Bulletin, bulletin_id)
        if message is None and bulletin is None:
            unknown.append(ref.key)
            continue
        status = message.status if message is not None else "Actual"
        if status == "Actual" and alert.status != "Actual":
            raise await _refuse(
                session,
                ctx,
                alert,
                WorkflowError(
                    "alert.status",
                    f"tin có status {alert.status} không được sửa hay hủy cảnh báo thật (Actual) '{ref.key}'",
                    409,
                    rule="cap_status",
                ),
            )
        found.append(_Found(ref, status, bulletin))
    return found, unknown


def _not_broadcast(alert: CapAlert, ctx: Context) -> tuple[str, str] | None:
    """(field, reason) when the message is stored but reaches nobody."""
    if alert.scope != "Public":
        return "alert.scope", f"scope {alert.scope}: chỉ cảnh báo Public được phát cho người dân"
    if alert.expires is not None and alert.expires <= utcnow():
        return "info.expires", f"cảnh báo đã hết hạn lúc {alert.expires.isoformat()}: đã lưu, không phát"
    if alert.status in TEST_STATUS and not ctx.test_areas:
        return "alert.status", f"status {alert.status}: chưa cấu hình nhóm thử (cap_test_areas), đã lưu, không phát"
    return None


async def _areas(session: AsyncSession, alert: CapAlert, ctx: Context) -> list[Area]:
    if alert.status in TEST_STATUS:  # a drill goes to the test group only, never to residents
        query = select(Area).where(Area.code.in_(ctx.test_areas))
    else:
        names = [n.lower() for n in alert.area_names]
        query = select(Area).where(Area.code.in_(set(alert.area_codes)) | func.lower(Area.name).in_(names))
    areas = list((await session.execute(query.order_by(Area.id))).scalars().all())
    if not areas:
        where = (
            "nhóm thử (cap_test_areas)" if alert.status in TEST_STATUS else "geocode value = mã, hoặc areaDesc = tên"
        )
        raise WorkflowError("info.area", f"không khớp địa bàn nào ({where})", 422)
    return areas


def _duplicate(alert: CapAlert) -> WorkflowError:
    return WorkflowError("alert.identifier", f"cảnh báo {alert.identifier} đã được nhận trước đó", 409)


def _store(
    alert: CapAlert, ctx: Context, xml: bytes, outcome: CapOutcome, reason: str, bulletin: int | None
) -> CapMessage:
    return CapMessage(
        key=alert.key,
        sender=alert.sender,
        identifier=alert.identifier,
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        outcome=outcome,
        reason=reason,
        bulletin_id=bulletin,
        expires_at=alert.expires,
        actor=ctx.actor.username,
        xml=xml.decode("utf-8", errors="replace"),
    )


async def ingest(session: AsyncSession, alert: CapAlert, xml: bytes, ctx: Context) -> Answer:
    if ctx.senders is not None and alert.sender not in ctx.senders:
        raise await _refuse(
            session,
            ctx,
            alert,
            WorkflowError(
                "alert.sender", f"mã truy cập này không được gửi thay cho '{alert.sender}'", 403, "cap_sender"
            ),
        )
    if (await session.execute(select(CapMessage.id).where(CapMessage.key == alert.key))).first() or (
        await session.execute(select(Bulletin.id).where(Bulletin.external_id == alert.key))
    ).first():
        raise _duplicate(alert)
    base: dict[str, Any] = {"accepted": True, "bulletin": None, "broadcast": False, "cancelled": []}
    if alert.msg_type in ("Ack", "Error") or alert.status in ("System", "Draft"):
        what, value = ("msgType", alert.msg_type) if alert.msg_type in ("Ack", "Error") else ("status", alert.status)
        reason = f"{what} {value}: chỉ lưu, không phát, không tác động cảnh báo nào"
        what = f"alert.{what}"
        message = _store(alert, ctx, xml, CapOutcome.STORED, reason, None)
        session.add(message)
        await service.audit(
            session, ctx.actor.username, "cap_ingest", "cap", alert.key[:64], outcome=CapOutcome.STORED, reason=reason
        )
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise _duplicate(alert) from exc
        return Answer(202, {**base, "message": message.id, "reason": {"field": what, "message": reason}})
    found, unknown = await _resolve(session, ctx, alert)
    if alert.msg_type == "Cancel" and alert.references and not found:
        raise WorkflowError("alert.references", f"không có cảnh báo nào được tham chiếu: {' '.join(unknown)}", 422)
    not_broadcast = None if alert.msg_type == "Cancel" else _not_broadcast(alert, ctx)
    areas = await _areas(session, alert, ctx) if alert.msg_type != "Cancel" and not_broadcast is None else []
    try:
        cancelled, bulletin, message = await _apply(session, alert, xml, ctx, found, unknown, areas, not_broadcast)
    except IntegrityError as exc:  # the same message posted twice at once: the other one won
        await session.rollback()
        raise _duplicate(alert) from exc
    if ctx.announce_stop is not None:
        for cancelled_id in cancelled:
            await ctx.announce_stop(cancelled_id)
    body = {**base, "message": message.id, "cancelled": cancelled, "unresolved": unknown}
    if not_broadcast is not None:
        return Answer(202, {**body, "reason": {"field": not_broadcast[0], "message": not_broadcast[1]}})
    if bulletin is None:
        return Answer(201, body)
    await _release(session, bulletin, alert, ctx)
    return Answer(
        201,
        {
            **body,
            "bulletin": bulletin.id,
            "broadcast": True,
            "test_group": alert.status in TEST_STATUS,
            "priority": alert.priority,
            "air_from": alert.air_from.isoformat() if alert.air_from else None,
            "expires": alert.expires.isoformat() if alert.expires else None,
        },
    )


async def _apply(
    session: AsyncSession,
    alert: CapAlert,
    xml: bytes,
    ctx: Context,
    found: list[_Found],
    unknown: list[str],
    areas: list[Area],
    not_broadcast: tuple[str, str] | None,
) -> tuple[list[int], Bulletin | None, CapMessage]:
    """Everything is checked: one transaction cancels, creates, stores and audits."""
    reason = f"hủy theo cảnh báo CAP {alert.identifier} ({alert.msg_type})"
    cancelled = await cancel_referenced(
        session, [f.bulletin for f in found if f.bulletin is not None], ctx.actor.username, reason, alert.key
    )
    bulletin = await _create(session, alert, ctx, areas) if areas else None
    outcome = CapOutcome.CANCEL if alert.msg_type == "Cancel" else CapOutcome.STORED
    if bulletin is not None:
        outcome = CapOutcome.TEST_GROUP if alert.status in TEST_STATUS else CapOutcome.BROADCAST
    why = not_broadcast[1] if not_broadcast else ""
    message = _store(alert, ctx, xml, outcome, why, bulletin.id if bulletin else None)
    session.add(message)
    await service.audit(
        session,
        ctx.actor.username,
        "cap_ingest",
        "bulletin" if bulletin else "cap",
        bulletin.id if bulletin else alert.key[:64],
        identifier=alert.identifier,
        sender=alert.sender,
        msg_type=alert.msg_type,
        status=alert.status,
        scope=alert.scope,
        outcome=outcome,
        cancelled=cancelled,
        unresolved=unknown,
    )
    await session.commit()
    return cancelled, bulletin, message


async def _create(session: AsyncSession, alert: CapAlert, ctx: Context, areas: list[Area]) -> Bulletin:
    title = TITLE_PREFIX.get(alert.status, "") + (alert.headline or alert.event)
    data = service.BulletinInput(
        title=title[:300],
        body=alert.text,
        sms_text=title[:300],
        priority=alert.priority,
        voice=ctx.voice,
        targets=tuple((c, a.code) for c in ctx.channels for a in areas),
    )
    bulletin = await service.create(session, ctx.actor, data, source="cap", external_id=alert.key, commit=False)
    bulletin.air_from, bulletin.expires_at = alert.air_from, alert.expires
    return bulletin


async def _release(session: AsyncSession, bulletin: Bulletin, alert: CapAlert, ctx: Context) -> None:
    user = ctx.actor
    if alert.priority == "emergency" and (user.can_skip_approval or user.role == "admin"):
        await service.emergency_release(session, user, bulletin.id)
        ctx.wake()
    else:
        await service.submit(session, user, bulletin.id)
