"""shared by every process: the SMS account's bind slots and rate, and render claims; the handset
of a receipt kept under a converted spelling of its id

Revision ID: 0014_scale
Revises: 0010_calls
Create Date: 2026-11-26 16:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_scale"
down_revision = "0014_enums"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_binds",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account", "slot"),
    )
    op.create_table(
        "sms_rate",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    with op.batch_alter_table("sms_pending_receipts") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=24), nullable=False, server_default=""))
    op.create_table(
        "render_claims",
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bulletin_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("render_claims")
    with op.batch_alter_table("sms_pending_receipts") as batch:
        batch.drop_column("sender")
    op.drop_table("sms_rate")
    op.drop_table("sms_binds")
