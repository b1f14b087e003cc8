"""programme run heartbeat: a compile that stopped beating is taken over

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 19:50:00
"""

import sqlalchemy as sa
from alembic import op

import gateway.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programme_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", gateway.db.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("renderer", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("programme_runs") as batch:
        batch.drop_column("renderer")
        batch.drop_column("heartbeat_at")
