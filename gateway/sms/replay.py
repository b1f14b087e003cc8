""" "Phát lại" for an SMS ledger row: send again exactly the parts no receipt confirmed.

A ``failed`` row is sent again at once. An ``unknown`` row (a part's answer was lost, or a
worker died mid-submit) or a row still ``sent`` may have reached the resident in part:
the operator is told which parts would go out again and must confirm, since a resident
may then get them twice. Confirmed, the unconfirmed parts (stale ``submitting`` and
``unknown`` ones included) are removed in the transaction that queues the row again, so
the next attempt sends them, and only them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Delivery
from gateway.db.states import DeliveryState
from gateway.sms import parts

REPLAYABLE = (DeliveryState.FAILED, DeliveryState.UNKNOWN, DeliveryState.SENT)
NEEDS_CONFIRMATION = (DeliveryState.UNKNOWN, DeliveryState.SENT)


async def prepare(session: AsyncSession, row: Delivery, confirm: bool) -> tuple[DeliveryState, ...]:
    """Clear what will be sent again (the caller's transaction commits it with the retry)
    and return the states the row may be queued again from."""
    if row.state not in REPLAYABLE:
        return ()
    missing = await parts.undelivered(session, row.id)
    which = ", ".join(str(seq) for seq in missing) if missing else "chưa ghi nhận"
    if row.state in NEEDS_CONFIRMATION and not confirm:
        raise WorkflowError(
            "confirm",
            f"sẽ gửi lại phần {which} (chưa có báo nhận); người nhận có thể đã nhận và sẽ nhận trùng. "
            "Xác nhận để gửi lại (confirm=true)",
            409,
        )
    await parts.clear_undelivered(session, row.id)
    return REPLAYABLE
