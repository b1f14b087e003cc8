"""What the SMSC said, stored in one transaction: answers to ``submit_sm`` (the SMSC's ids),
then receipts (which may name those ids), then the ledger rows and residents' cases they
settle. Called by the service's group-commit writer (``batching``), tried again there while
the database is unreachable."""

from __future__ import annotations

from sqlalchemy import delete, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.service import audit
from gateway.db.models import SmsPart
from gateway.db.states import PartState
from gateway.feedback.service import answers_not_received
from gateway.sms import parts, receipts
from gateway.sms.parts import Answer
from gateway.sms.transport import Receipt

BULLETIN_PREFIX = "d"  # part references of ledger rows: d<delivery id>


async def store(sessions: async_sessionmaker[AsyncSession], transport: str, batch: list[Answer | Receipt]) -> None:
    """Answers first (their ids), then receipts (which may name those ids), then the
    ledger rows they settle."""
    answers = [a for a in batch if isinstance(a, Answer)]
    found = [r for r in batch if isinstance(r, Receipt)]
    async with sessions() as session:
        ids = [a.message_id for a in answers]
        ids += [c for r in found if r.message_id for c in receipts.id_candidates(r.message_id)]
        await parts.lock_ids(session, ids)
        settle = await parts.record_answers(session, transport, [a for a in answers if a.state != "drop"])
        dropped = [(a.reference, a.seq) for a in answers if a.state == "drop"]
        if dropped:
            await session.execute(
                delete(SmsPart)
                .where(
                    tuple_(SmsPart.reference, SmsPart.seq).in_(dropped),
                    SmsPart.state.in_((PartState.QUEUED, PartState.SUBMITTING)),
                )
                .execution_options(synchronize_session=False)
            )
        kept, rows, loaded = await parts.record_receipts(session, transport, found)
        for receipt in kept:
            await audit(
                session, transport, "sms_receipt", "sms_part", receipt.message_id or receipt.reference,
                outcome=receipt.outcome, detail=receipt.detail[:200], matched=False,
            )  # fmt: skip
        await parts.settle(session, settle | rows, loaded)
        await _answers_not_received(session, answers, found)
        await session.commit()


async def _answers_not_received(session: AsyncSession, answers: list[Answer], found: list[Receipt]) -> None:
    """An answer to a case that failed (refused later, or a receipt UNDELIV, REJECTD,
    EXPIRED...) puts the case back among those to handle (never left "answered")."""
    bad = [r for r in found if r.outcome == "failed"]
    failed_ids = [c for r in bad if r.message_id for c in receipts.id_candidates(r.message_id)]
    # an early receipt kept for an id that lands now is applied with the answer
    failed_ids += [a.message_id for a in answers if a.message_id and not a.reference.startswith(BULLETIN_PREFIX)]
    references = [a.reference for a in answers if a.state == PartState.FAILED]
    references += [r.reference.rpartition(".")[0] for r in bad if r.reference]
    references = [r for r in references if r and not r.startswith(BULLETIN_PREFIX)]
    if failed_ids or references:
        failed = await parts.failed_answers(session, failed_ids, references)
        await answers_not_received(session, failed)
