"""Residents' multi-part messages, assembled in the database.

Each part is stored before the SMSC gets its deliver_sm_resp (SMPP 3.4 §4.6.2: an
acknowledged message is the ESME's), so a restart between two parts loses nothing. The
part that completes a message hands back its whole text, and the parts are removed in
the transaction that files it; a message still incomplete after ``max_age`` is filed
with what arrived, marked as incomplete.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import SmsMoPart, utcnow
from gateway.sms.transport import Mo

INCOMPLETE_MARK = "[tin nhắn thiếu phần] "


def _where(transport: str, sender: str, reference: int, total: int) -> tuple[ColumnElement[bool], ...]:
    return (
        SmsMoPart.transport == transport,
        SmsMoPart.sender == sender,
        SmsMoPart.concat_ref == reference,
        SmsMoPart.total == total,
    )


async def add_part(session: AsyncSession, mo: Mo) -> str | None:
    """Store one part (a redelivered part is stored once). The whole text when this part
    completed the message, its parts then deleted in the caller's transaction; else None.
    The caller commits."""
    if mo.concat is None:
        return mo.text
    where = _where(mo.transport, mo.sender, mo.concat.reference, mo.concat.total)
    stored = (await session.execute(select(SmsMoPart).where(*where))).scalars().all()
    if all(p.seq != mo.concat.seq for p in stored):
        session.add(
            SmsMoPart(
                transport=mo.transport,
                sender=mo.sender,
                concat_ref=mo.concat.reference,
                total=mo.concat.total,
                seq=mo.concat.seq,
                text=mo.text,
            )
        )
    texts = {p.seq: p.text for p in stored} | {mo.concat.seq: mo.text}
    if len(texts) < mo.concat.total:
        return None
    await session.execute(delete(SmsMoPart).where(*where))
    return "".join(texts[seq] for seq in sorted(texts))


async def stale(session: AsyncSession, max_age: timedelta) -> list[tuple[str, str]]:
    """Messages whose first part is older than ``max_age``: (sender, what arrived, marked),
    their parts deleted in the caller's transaction."""
    cutoff = utcnow() - max_age
    old = (
        (await session.execute(select(SmsMoPart).where(SmsMoPart.created_at < cutoff).order_by(SmsMoPart.seq)))
        .scalars()
        .all()
    )
    groups = dict.fromkeys((p.transport, p.sender, p.concat_ref, p.total) for p in old)
    out = []
    for transport, sender, reference, total in groups:
        rest = (
            (
                await session.execute(
                    select(SmsMoPart).where(*_where(transport, sender, reference, total)).order_by(SmsMoPart.seq)
                )
            )
            .scalars()
            .all()
        )
        out.append((sender, INCOMPLETE_MARK + "".join(p.text for p in rest)))
        await session.execute(delete(SmsMoPart).where(*_where(transport, sender, reference, total)))
    return out
