"""CAP 1.2 done right: every CAP message stored, bulletins carry air_from/expires_at,
API tokens may be bound to CAP senders

Revision ID: 0010_cap
Revises: 0010_stop
Create Date: 2026-11-26 13:10:00
"""

import sqlalchemy as sa
from alembic import op

import gateway.db.models

revision = "0010_cap"
down_revision = "0010_stop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cap_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=400), nullable=False, unique=True),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), sa.ForeignKey("bulletins.id"), nullable=True),
        sa.Column("expires_at", gateway.db.models.UTCDateTime(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("received_at", gateway.db.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cap_messages_sender", "cap_messages", ["sender"])
    with op.batch_alter_table("bulletins") as batch:
        batch.add_column(sa.Column("air_from", gateway.db.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("expires_at", gateway.db.models.UTCDateTime(), nullable=True))
        batch.create_index("ix_bulletins_expires_at", ["expires_at"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("cap_senders", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("cap_senders")
    with op.batch_alter_table("bulletins") as batch:
        batch.drop_index("ix_bulletins_expires_at")
        batch.drop_column("expires_at")
        batch.drop_column("air_from")
    op.drop_index("ix_cap_messages_sender", "cap_messages")
    op.drop_table("cap_messages")
