"""sms_parts.state takes ``queued`` (a part claimed and not written yet); sms_parts.attempt

Revision ID: 0014_wire
Revises: 0014_scale
Create Date: 2026-11-26 19:50:00

A worker claims a batch of parts ``queued`` and marks them ``submitting`` in small
groups just before their submit_sm are written; a part still ``queued`` after a crash
certainly never reached the SMSC, and the next attempt sends it on its own
(docs/sms.md). ``attempt`` names the attempt that queued a part: only that attempt may
mark it, so a worker that lost its rows to a take-over writes nothing more. The values
are written out here, as in 0014_enums.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_wire"
down_revision = "0014_scale"
branch_labels = None
depends_on = None

BEFORE = ("submitting", "submitted", "delivered", "failed", "unknown")
AFTER = ("queued", *BEFORE)
NAME = "ck_sms_parts_state"


def upgrade() -> None:
    # SQLite rebuilds the table (foreign keys are off meanwhile: gateway.db.session.migrate)
    with op.batch_alter_table("sms_parts") as batch:
        batch.add_column(sa.Column("attempt", sa.String(32), nullable=False, server_default=""))
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, sa.column("state").in_(AFTER))


def downgrade() -> None:
    # a part never written is one no SMSC has: removed, the next attempt sends it
    op.execute(sa.text("DELETE FROM sms_parts WHERE state = 'queued'"))
    with op.batch_alter_table("sms_parts") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, sa.column("state").in_(BEFORE))
        batch.drop_column("attempt")
