"""schedules can be paused (a daily recurrence stops airing until resumed)

Revision ID: 0010_stop
Revises: 0009
Create Date: 2026-11-26 13:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_stop"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("paused")
