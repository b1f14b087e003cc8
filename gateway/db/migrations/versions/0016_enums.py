"""state columns take only their states: a CHECK constraint on each

Revision ID: 0014_enums
Revises: 0010_calls
Create Date: 2026-11-26 16:20:00

The values are written out here, not read from ``gateway.db.states``: a migration says
what the schema was at its revision. A later state is added by a later migration (and
``tests/gateway/test_states.py`` fails until it is).
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0014_enums"
down_revision = "0014_schedule"
branch_labels = None
depends_on = None

STATES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "deliveries",
        "state",
        ("pending", "retry", "in_progress", "delivered", "sent", "failed", "unknown", "cancelled", "expired"),
    ),
    ("sms_parts", "state", ("submitting", "submitted", "delivered", "failed", "unknown")),
    ("sms_pending_receipts", "outcome", ("delivered", "failed")),
    (
        "bulletins",
        "status",
        (
            "draft",
            "submitted",
            "approved",
            "returned",
            "scheduled",
            "rendering",
            "ready",
            "delivering",
            "done",
            "partly_failed",
            "cancelled",
            "stopped",
        ),
    ),
    ("cases", "status", ("new", "assigned", "in_progress", "answered", "closed", "rejected", "duplicate")),
    ("cases", "transcript_status", ("none", "awaiting", "running", "done", "failed")),
    (
        "call_attempts",
        "outcome",
        (
            "dialing",
            "answered",
            "delivered",
            "heard_unknown",
            "lost",
            "voicemail",
            "partial",
            "hung_up",
            "config",
            "error",
            "trunk",
            "busy",
            "no_answer",
            "rejected",
            "invalid",
            "congestion",
            "unknown",
            "failed",
        ),
    ),
    ("programme_runs", "status", ("compiling", "ready", "empty", "failed")),
    ("import_runs", "status", ("running", "ok", "partial", "failed")),
    ("cap_messages", "outcome", ("broadcast", "test_group", "stored", "cancel")),
)


def _by_table() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    tables: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for table, column, values in STATES:
        tables[table].append((column, values))
    return tables


def _refuse_strays(table: str, column: str, values: tuple[str, ...]) -> None:
    """A row already holding another word would make the constraint fail half-way: name
    it instead, so the operator can correct it and run the upgrade again."""
    col: sa.ColumnClause[str] = sa.column(column)
    stray = (
        op.get_bind()
        .execute(sa.select(col).select_from(sa.table(table, col)).where(col.not_in(values)).distinct().limit(5))
        .scalars()
        .all()
    )
    if stray:
        raise RuntimeError(
            f"bảng {table}, cột {column}: có giá trị ngoài danh sách trạng thái {stray!r}; "
            f"sửa các dòng đó thành một trong {values!r} rồi chạy lại loa db upgrade"
        )


def upgrade() -> None:
    for table, columns in _by_table().items():
        for column, values in columns:
            _refuse_strays(table, column, values)
        # SQLite rebuilds the table (foreign keys are off meanwhile: gateway.db.session.migrate)
        with op.batch_alter_table(table) as batch:
            for column, values in columns:
                batch.create_check_constraint(f"ck_{table}_{column}", sa.column(column).in_(values))


def downgrade() -> None:
    for table, columns in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for column, _ in columns:
                batch.drop_constraint(f"ck_{table}_{column}", type_="check")
