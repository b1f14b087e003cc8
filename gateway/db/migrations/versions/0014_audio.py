"""audio the officer brings (a bulletin's own recording, rendered instead of its text) and a speaking speed

Revision ID: 0014_audio
Revises: 0010_calls
Create Date: 2026-11-26 16:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_audio"
down_revision = "0010_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulletins") as batch:
        batch.add_column(sa.Column("audio_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("audio_name", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("speech_speed", sa.Float(), nullable=False, server_default="1.0"))


def downgrade() -> None:
    with op.batch_alter_table("bulletins") as batch:
        batch.drop_column("speech_speed")
        batch.drop_column("audio_name")
        batch.drop_column("audio_sha256")
