"""call context in the database: any worker's FastAGI server serves any call

Revision ID: 0010_calls
Revises: 0010_sms
Create Date: 2026-11-26 13:40:00
"""

import sqlalchemy as sa
from alembic import op

import gateway.db.models

revision = "0010_calls"
down_revision = "0010_sms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("key_hash", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("flow", sa.String(length=16), nullable=False, server_default="outbound"))
        batch.add_column(sa.Column("bulletin_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("connected_at", gateway.db.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("ivr_ended_at", gateway.db.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("bulletin_samples", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("bulletin_complete", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("amd_status", sa.String(length=16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        for column in (
            "amd_status",
            "confirmed",
            "bulletin_complete",
            "bulletin_samples",
            "ivr_ended_at",
            "connected_at",
            "bulletin_path",
            "flow",
            "key_hash",
        ):
            batch.drop_column(column)
