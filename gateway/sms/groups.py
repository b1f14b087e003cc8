"""Groups of subscribers (the health volunteers, the village heads): made by officers,
listed, exported. A group is a list to look at and to export; a bulletin still goes to
areas (its targets are channel × area), so a group is not a bulletin target."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, ContactGroup, ContactGroupMember, Subscriber
from gateway.phones import to_e164

EDITORS = ("admin", "approver", "editor")
MAX_LINES = 2000


@dataclass
class AddResult:
    added: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, reason)


def may_edit(role: str) -> None:
    if role not in EDITORS:
        raise WorkflowError("role", "vai trò của bạn không được sửa nhóm người nhận", 403)


async def listing(session: AsyncSession) -> list[tuple[ContactGroup, int]]:
    """Every group with its number of members, by name."""
    rows = await session.execute(
        select(ContactGroup, func.count(ContactGroupMember.id))
        .outerjoin(ContactGroupMember, ContactGroupMember.group_id == ContactGroup.id)
        .group_by(ContactGroup.id)
        .order_by(ContactGroup.name)
    )
    return [(g, int(n)) for g, n in rows.all()]


async def create(session: AsyncSession, role: str, actor: str, name: str, note: str) -> ContactGroup:
    may_edit(role)
    name = " ".join(name.split())
    if not 2 <= len(name) <= 120:
        raise WorkflowError("name", "tên nhóm dài từ 2 đến 120 ký tự", 422)
    if (await session.execute(select(ContactGroup.id).where(ContactGroup.name == name))).first():
        raise WorkflowError("name", f"đã có nhóm tên '{name}'", 409)
    group = ContactGroup(name=name, note=note.strip(), created_by=actor)
    session.add(group)
    await session.flush()
    await audit(session, actor, "group_create", "group", group.id, name=name)
    await session.commit()
    return group


async def get(session: AsyncSession, group_id: int) -> ContactGroup:
    group = await session.get(ContactGroup, group_id)
    if group is None:
        raise WorkflowError("group", f"không có nhóm số {group_id}", 404)
    return group


async def members(session: AsyncSession, group_id: int) -> list[tuple[Subscriber, str]]:
    """The group's subscribers with their area's name, by number."""
    rows = await session.execute(
        select(Subscriber, Area.name)
        .join(ContactGroupMember, ContactGroupMember.subscriber_id == Subscriber.id)
        .outerjoin(Area, Area.id == Subscriber.area_id)
        .where(ContactGroupMember.group_id == group_id)
        .order_by(Subscriber.phone)
    )
    return [(s, name or "—") for s, name in rows.all()]


async def add(session: AsyncSession, role: str, actor: str, group_id: int, text: str) -> AddResult:
    """Adds the numbers of ``text`` (one a line); each line refused says why."""
    may_edit(role)
    await get(session, group_id)
    lines = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if len(lines) > MAX_LINES:
        raise WorkflowError("phones", f"mỗi lần thêm tối đa {MAX_LINES} số", 422)
    present = set(
        (
            await session.execute(
                select(ContactGroupMember.subscriber_id).where(ContactGroupMember.group_id == group_id)
            )
        ).scalars()
    )
    result, seen = AddResult(), set()
    for line, raw in lines:
        try:
            phone = to_e164(raw)
        except WorkflowError as exc:
            result.rejected.append((line, raw, exc.message))
            continue
        found = (await session.execute(select(Subscriber).where(Subscriber.phone == phone))).scalar_one_or_none()
        if found is None:
            reason = "số này chưa có trong danh sách người nhận tin; hãy nhập ở trang Người nhận tin trước"
            result.rejected.append((line, raw, reason))
        elif found.id in present or found.id in seen:
            result.rejected.append((line, raw, "số này đã ở trong nhóm"))
        else:
            seen.add(found.id)
            session.add(ContactGroupMember(group_id=group_id, subscriber_id=found.id))
            result.added += 1
    await audit(session, actor, "group_add", "group", group_id, added=result.added, rejected=len(result.rejected))
    try:
        await session.commit()
    except IntegrityError as exc:  # another officer added the same number at the same moment
        await session.rollback()
        raise WorkflowError("phones", "nhóm vừa được người khác sửa; hãy thêm lại", 409) from exc
    return result


async def remove(session: AsyncSession, role: str, actor: str, group_id: int, subscriber_id: int) -> None:
    may_edit(role)
    await session.execute(
        delete(ContactGroupMember).where(
            ContactGroupMember.group_id == group_id, ContactGroupMember.subscriber_id == subscriber_id
        )
    )
    await audit(session, actor, "group_remove", "group", group_id, subscriber=subscriber_id)
    await session.commit()


def to_csv(rows: list[tuple[Subscriber, str]]) -> bytes:
    """The members as CSV UTF-8 with a BOM (Excel opens it with the accents right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["so_dien_thoai", "dia_ban", "tinh_trang"])
    for s, area in rows:
        writer.writerow([s.phone, area, "đã từ chối nhận tin" if s.opted_out else "đang nhận tin"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
