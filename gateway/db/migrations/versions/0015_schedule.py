"""editable notice templates (the five built-ins seeded) and contact groups

Revision ID: 0014_schedule
Revises: 0010_calls
Create Date: 2026-11-26 16:10:00
"""

import sqlalchemy as sa
from alembic import op

import gateway.db.models

revision = "0014_schedule"
down_revision = "0014_audio"
branch_labels = None
depends_on = None

# The notices a commune reads most often, as they were built in before they became rows.
BUILT_IN = (
    (
        "mat-dien",
        "Mất điện",
        "Thông báo lịch cắt điện",
        "Điện lực thông báo: từ [giờ] đến [giờ] ngày [ngày], cắt điện để [lý do] tại [khu vực].\n\n"
        "Bà con chủ động sắp xếp công việc, rút phích cắm các thiết bị điện.",
        "Cat dien tu [gio] den [gio] ngay [ngay] tai [khu vuc].",
        "normal",
    ),
    (
        "tiem-phong",
        "Tiêm phòng",
        "Lịch tiêm phòng",
        "Trạm y tế xã tổ chức tiêm [loại vắc xin] cho [đối tượng] vào [giờ] ngày [ngày] tại [địa điểm].\n\n"
        "Bà con mang theo sổ tiêm chủng và căn cước công dân.",
        "Tiem [vac xin] cho [doi tuong] luc [gio] ngay [ngay] tai [dia diem]. Mang so tiem.",
        "normal",
    ),
    (
        "hop-dan",
        "Họp dân",
        "Thông báo họp dân",
        "Mời đại diện các hộ gia đình dự họp về [nội dung] vào [giờ] ngày [ngày] tại [địa điểm].\n\n"
        "Đề nghị bà con đến đúng giờ.",
        "",
        "normal",
    ),
    (
        "bao-lu",
        "Bão lũ",
        "Cảnh báo bão lũ",
        "[Tên bão hoặc đợt mưa lũ] dự kiến ảnh hưởng đến địa phương từ [thời gian].\n\n"
        "Bà con gia cố nhà cửa, không ra sông suối, chuẩn bị lương thực, nước uống và thuốc men; "
        "hộ ở vùng trũng di chuyển đến [điểm sơ tán] trước [giờ].",
        "Canh bao [ten bao]: gia co nha cua, di chuyen den [diem so tan] truoc [gio].",
        "priority",
    ),
    (
        "thu-thue",
        "Thu thuế",
        "Thông báo nộp thuế, phí",
        "Ủy ban nhân dân xã thông báo: hạn nộp [loại thuế, phí] năm [năm] là ngày [ngày].\n\n"
        "Bà con nộp tại [địa điểm] hoặc chuyển khoản theo hướng dẫn của cán bộ thuế.",
        "",
        "normal",
    ),
)


def upgrade() -> None:
    templates = op.create_table(
        "notice_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(length=40), nullable=False, unique=True),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sms_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("priority", sa.String(length=16), nullable=False, server_default="normal"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("updated_by", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("updated_at", gateway.db.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint("priority IN ('normal', 'priority')", name="ck_notice_templates_priority"),
    )
    now = gateway.db.models.utcnow()
    op.bulk_insert(
        templates,
        [
            {
                "slug": slug,
                "label": label,
                "title": title,
                "body": body,
                "sms_text": sms,
                "priority": priority,
                "enabled": True,
                "updated_by": "",
                "updated_at": now,
            }
            for slug, label, title, body, sms, priority in BUILT_IN
        ],
    )
    op.create_table(
        "contact_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=120), nullable=False, unique=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("created_at", gateway.db.models.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "contact_group_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("contact_groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("added_at", gateway.db.models.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("group_id", "subscriber_id"),
    )
    op.create_index("ix_contact_group_members_group_id", "contact_group_members", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_group_members_group_id", table_name="contact_group_members")
    op.drop_table("contact_group_members")
    op.drop_table("contact_groups")
    op.drop_table("notice_templates")
