"""Starting points for the notices a commune reads most often. "Bắt đầu từ mẫu" fills the
editor; the officer completes the bracketed parts before saving. The five usual ones
(mất điện, tiêm phòng, họp dân, bão lũ, thu thuế) are seeded by migration 0014;
administrators edit them, add others and switch them off."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import NoticeTemplate, User

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class Notice:
    label: str
    title: str
    body: str
    sms_text: str = ""
    priority: str = "normal"
    voice: str = "vi-espeak"


@dataclass(frozen=True)
class NoticeInput:
    slug: str
    label: str
    title: str
    body: str
    sms_text: str
    priority: str
    enabled: bool


async def offered(session: AsyncSession) -> dict[str, Notice]:
    """The enabled templates by slug, in the order they were made."""
    rows = await session.execute(
        select(NoticeTemplate).where(NoticeTemplate.enabled.is_(True)).order_by(NoticeTemplate.id)
    )
    return {t.slug: Notice(t.label, t.title, t.body, t.sms_text, t.priority) for t in rows.scalars()}


async def every(session: AsyncSession) -> list[NoticeTemplate]:
    return list((await session.execute(select(NoticeTemplate).order_by(NoticeTemplate.id))).scalars())


def _check(user: User, data: NoticeInput) -> None:
    if user.role != "admin":
        raise WorkflowError("role", "chỉ quản trị viên sửa được mẫu bản tin", 403)
    if not SLUG.match(data.slug):
        raise WorkflowError("slug", "mã mẫu gồm chữ thường không dấu, số và dấu gạch ngang (ví dụ: mat-nuoc)", 422)
    if not data.label.strip() or len(data.label) > 60:
        raise WorkflowError("label", "tên mẫu không được để trống và dài tối đa 60 ký tự", 422)
    if not data.title.strip() or not data.body.strip():
        raise WorkflowError("title", "mẫu cần có tiêu đề và nội dung đọc", 422)
    if data.priority not in ("normal", "priority"):
        raise WorkflowError("priority", "mẫu chỉ có mức Thường hoặc Ưu tiên; tin khẩn cấp soạn riêng", 422)


async def save(session: AsyncSession, user: User, template_id: int | None, data: NoticeInput) -> NoticeTemplate:
    """Creates (``template_id`` None) or changes a template; the slug stays unique."""
    _check(user, data)
    same = (await session.execute(select(NoticeTemplate).where(NoticeTemplate.slug == data.slug))).scalar_one_or_none()
    if same is not None and same.id != template_id:
        raise WorkflowError("slug", f"đã có mẫu mã '{data.slug}'", 409)
    if template_id is None:
        found = NoticeTemplate(slug=data.slug)
        session.add(found)
    else:
        got = await session.get(NoticeTemplate, template_id)
        if got is None:
            raise WorkflowError("template", f"không có mẫu số {template_id}", 404)
        found = got
    found.slug, found.label, found.title = data.slug, data.label.strip(), data.title.strip()
    found.body, found.sms_text, found.priority = data.body.strip(), data.sms_text.strip(), data.priority
    found.enabled, found.updated_by = data.enabled, user.username
    await session.flush()
    action = "template_create" if template_id is None else "template_update"
    await audit(session, user.username, action, "template", found.id, label=found.label, enabled=found.enabled)
    await session.commit()
    return found
