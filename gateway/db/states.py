"""Every state the gateway stores, one ``StrEnum`` per column.

A member *is* its string (``DeliveryState.DELIVERED == "delivered"``), so what is stored,
what the API answers and what a template prints stay the words they always were; mypy
checks that code only writes members, and each column carries a CHECK constraint
(:func:`state_type`, migration 0014) so the database refuses any other word too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeVar

from sqlalchemy import Enum


class DeliveryState(StrEnum):
    """A ledger row (``deliveries.state``): pending -> in_progress -> a final state, or
    retry (pending again later)."""

    PENDING = "pending"
    RETRY = "retry"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    SENT = "sent"  # handed over: a receipt or a device's report will settle it
    FAILED = "failed"
    UNKNOWN = "unknown"  # may or may not have reached the resident
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_DELIVERY = (DeliveryState.PENDING, DeliveryState.RETRY, DeliveryState.IN_PROGRESS)
FINAL_DELIVERY = tuple(s for s in DeliveryState if s not in OPEN_DELIVERY)
# What a channel may report (``ledger.Outcome``): any state but the queue's own.
OutcomeKind = Literal[
    DeliveryState.DELIVERED,
    DeliveryState.SENT,
    DeliveryState.RETRY,
    DeliveryState.FAILED,
    DeliveryState.UNKNOWN,
    DeliveryState.CANCELLED,
    DeliveryState.EXPIRED,
]
OUTCOME_KINDS: frozenset[DeliveryState] = frozenset(DeliveryState) - {DeliveryState.PENDING, DeliveryState.IN_PROGRESS}
# What a receipt from the network (an SMS report, a cluster's proof of play) settles a row as.
ReceiptKind = Literal[DeliveryState.DELIVERED, DeliveryState.FAILED]


class PartState(StrEnum):
    """One wire part of an SMS (``sms_parts.state``)."""

    QUEUED = "queued"  # claimed by a worker, not written to the SMSC yet: safe to send again
    SUBMITTING = "submitting"  # about to be written, or written: may have reached the SMSC
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"  # sent, the SMSC's answer lost


class ReceiptState(StrEnum):
    """What a delivery receipt says (``sms_pending_receipts.outcome``)."""

    DELIVERED = "delivered"
    FAILED = "failed"


class BulletinStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    SCHEDULED = "scheduled"
    RENDERING = "rendering"
    READY = "ready"
    DELIVERING = "delivering"
    DONE = "done"
    PARTLY_FAILED = "partly_failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"


class CaseStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class TranscriptStatus(StrEnum):
    NONE = "none"
    AWAITING = "awaiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CallOutcome(StrEnum):
    """What one dialling came to (``call_attempts.outcome``): the retry policy's labels
    (``telephony.outcomes``) and the states of a call still in progress or cut off."""

    DIALING = "dialing"
    ANSWERED = "answered"
    DELIVERED = "delivered"
    HEARD_UNKNOWN = "heard_unknown"  # answered, then the worker died: it may have been heard
    LOST = "lost"
    VOICEMAIL = "voicemail"
    PARTIAL = "partial"
    HUNG_UP = "hung_up"
    CONFIG = "config"
    ERROR = "error"
    TRUNK = "trunk"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    INVALID = "invalid"
    CONGESTION = "congestion"
    UNKNOWN = "unknown"
    FAILED = "failed"


class ProgrammeRunStatus(StrEnum):
    COMPILING = "compiling"
    READY = "ready"
    EMPTY = "empty"
    FAILED = "failed"


class ImportRunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class CapOutcome(StrEnum):
    """What Loa did with an accepted CAP message (``cap_messages.outcome``)."""

    BROADCAST = "broadcast"
    TEST_GROUP = "test_group"
    STORED = "stored"
    CANCEL = "cancel"


# (table, column, enum, length): every state column, its CHECK constraint named
# ``ck_<table>_<column>``. Migration 0014 adds exactly these.
STATE_COLUMNS: tuple[tuple[str, str, type[StrEnum], int], ...] = (
    ("deliveries", "state", DeliveryState, 16),
    ("sms_parts", "state", PartState, 12),
    ("sms_pending_receipts", "outcome", ReceiptState, 12),
    ("bulletins", "status", BulletinStatus, 20),
    ("cases", "status", CaseStatus, 16),
    ("cases", "transcript_status", TranscriptStatus, 16),
    ("call_attempts", "outcome", CallOutcome, 16),
    ("programme_runs", "status", ProgrammeRunStatus, 10),
    ("import_runs", "status", ImportRunStatus, 8),
    ("cap_messages", "outcome", CapOutcome, 12),
)


E = TypeVar("E", bound=StrEnum)


def parse(enum: type[E], value: str) -> E | None:
    """The member spelled ``value``, or None: for words that come from outside (a form)."""
    try:
        return enum(value)
    except ValueError:
        return None


def constraint_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def state_type(enum: type[StrEnum], table: str, column: str, length: int) -> Enum:
    """A VARCHAR(``length``) holding ``enum``'s values (not its member names), read back as
    members, with a named CHECK constraint: the same column on SQLite and PostgreSQL."""
    return Enum(
        enum,
        name=constraint_name(table, column),
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )
