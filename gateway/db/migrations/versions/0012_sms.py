"""sms: pending receipts, residents' message parts, recipient index for the daily cap

Revision ID: 0010_sms
Revises: 0010_cap
Create Date: 2026-11-26 13:10:00
"""

import sqlalchemy as sa
from alembic import op

import gateway.db.models

revision = "0010_sms"
down_revision = "0010_cap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_pending_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=80), nullable=False),
        sa.Column("receipt_key", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", gateway.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sms_pending_receipts") as batch:
        batch.create_index("ix_sms_pending_receipts_message", ["transport", "message_id"], unique=False)
        batch.create_index(batch.f("ix_sms_pending_receipts_receipt_key"), ["receipt_key"], unique=False)
    op.create_table(
        "sms_mo_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("concat_ref", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", gateway.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transport", "sender", "concat_ref", "total", "seq"),
    )
    with op.batch_alter_table("sms_mo_parts") as batch:
        batch.create_index(batch.f("ix_sms_mo_parts_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("sms_parts") as batch:
        batch.create_index("ix_sms_parts_recipient", ["recipient", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_parts") as batch:
        batch.drop_index("ix_sms_parts_recipient")
    with op.batch_alter_table("sms_mo_parts") as batch:
        batch.drop_index(batch.f("ix_sms_mo_parts_created_at"))
    op.drop_table("sms_mo_parts")
    with op.batch_alter_table("sms_pending_receipts") as batch:
        batch.drop_index(batch.f("ix_sms_pending_receipts_receipt_key"))
        batch.drop_index("ix_sms_pending_receipts_message")
    op.drop_table("sms_pending_receipts")
