"""Contacts an officer manages: subscribers listed per area with search and paging, a CSV
or Excel (.xlsx) import that gives a reason for each rejected row, and who opted out
(when, how).

Rules match the API's: a number subscribes once (a second area moves it); a resident who
opted out stays out (only she can subscribe again, by SMS); numbers are stored E.164.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import areas as areas_tree
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, AuditLog, ContactGroupMember, Subscriber
from gateway.phones import to_e164

PAGE_SIZE = 50
MAX_ROWS = 20_000


@dataclass(frozen=True)
class Row:
    subscriber: Subscriber
    area: str


@dataclass
class ImportResult:
    added: int = 0
    moved: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, reason)


async def listing(
    session: AsyncSession, area_code: str, search: str, page: int, group: int = 0
) -> tuple[list[Row], int]:
    """One page of subscribers (the area and the areas under it, the members of ``group``
    when one is given), and how many match."""
    query = select(Subscriber, Area.name).outerjoin(Area, Area.id == Subscriber.area_id)
    if group:
        members = select(ContactGroupMember.subscriber_id).where(ContactGroupMember.group_id == group)
        query = query.where(Subscriber.id.in_(members))
    if area_code:
        area = (await session.execute(select(Area.id).where(Area.code == area_code))).scalar_one_or_none()
        ids = await areas_tree.subtree(session, [area]) if area is not None else set()
        query = query.where(Subscriber.area_id.in_(ids))
    digits = "".join(ch for ch in search if ch.isdigit())
    if digits:
        tail = digits[1:] if digits.startswith("0") else digits  # 0912... and +84912... both match
        query = query.where(or_(Subscriber.phone.contains(tail)))
    total = int((await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    rows = await session.execute(query.order_by(Subscriber.phone).offset(max(page - 1, 0) * PAGE_SIZE).limit(PAGE_SIZE))
    return [Row(s, name or "—") for s, name in rows.all()], total


async def opt_outs(session: AsyncSession, limit: int = 200) -> list[tuple[Subscriber, datetime, str]]:
    """Who opted out, when, and how (a call to the hotline, or an SMS)."""
    rows = (
        (
            await session.execute(
                select(Subscriber)
                .where(Subscriber.opted_out.is_(True))
                .order_by(Subscriber.updated_at.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    by_call = set(
        (
            await session.execute(
                select(AuditLog.entity_id).where(
                    AuditLog.action == "opt_out", AuditLog.entity_id.in_([r.phone for r in rows])
                )
            )
        ).scalars()
    )
    return [(r, r.updated_at, "gọi tổng đài, bấm phím từ chối" if r.phone in by_call else "nhắn tin HUY") for r in rows]


def read_csv(data: bytes) -> list[tuple[int, str, str]]:
    """(line, phone, area code) of each row; a first row without digits is a header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkflowError("file", "tệp phải là CSV mã UTF-8 (trong Excel: Lưu thành, CSV UTF-8)", 422) from exc
    sample = text[:2000]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows = []
    for n, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if not any(c.strip() for c in cells):
            continue
        if n == 1 and not any(ch.isdigit() for ch in cells[0]):
            continue
        rows.append((n, cells[0].strip(), cells[1].strip() if len(cells) > 1 else ""))
        if len(rows) > MAX_ROWS:
            raise WorkflowError("file", f"tệp có hơn {MAX_ROWS} dòng; hãy chia nhỏ", 422)
    return rows


def _cell(value: object) -> str:
    """A spreadsheet cell as text: a number typed into Excel lost its leading 0 and may be a float."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def read_xlsx(data: bytes) -> list[tuple[int, str, str]]:
    """(row, phone, area code) of the first sheet's rows, as ``read_csv`` reads a CSV: a
    first row without digits is a header. CPU work: call it in a thread."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError or its own errors on a broken file
        why = "không đọc được tệp Excel (.xlsx); hãy lưu lại bằng Excel rồi thử lại"
        raise WorkflowError("file", why, 422) from exc
    rows = []
    try:
        sheet = book.worksheets[0]
        for n, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            texts = [_cell(c) for c in cells[:2]]
            if not any(texts):
                continue
            if n == 1 and not any(ch.isdigit() for ch in texts[0]):
                continue
            rows.append((n, texts[0], texts[1] if len(texts) > 1 else ""))
            if len(rows) > MAX_ROWS:
                raise WorkflowError("file", f"tệp có hơn {MAX_ROWS} dòng; hãy chia nhỏ", 422)
    finally:
        book.close()
    return rows


def is_xlsx(name: str, data: bytes) -> bool:
    """An .xlsx is a ZIP archive; a CSV never starts with its signature."""
    return data[:4] == b"PK\x03\x04" or name.lower().endswith(".xlsx")


async def import_rows(
    session: AsyncSession, actor: str, rows: list[tuple[int, str, str]], default_area: str
) -> ImportResult:
    codes = {a.code: a for a in (await session.execute(select(Area))).scalars()}
    result = ImportResult()
    wanted: dict[str, tuple[int, Area]] = {}
    for line, raw, code in rows:
        area = codes.get(code or default_area)
        if area is None:
            reason = f"không có địa bàn mã '{code}'" if code else "chưa chọn địa bàn (cột thứ hai hoặc ô Địa bàn)"
            result.rejected.append((line, raw, reason))
            continue
        try:
            phone = to_e164(raw)
        except WorkflowError as exc:
            result.rejected.append((line, raw, exc.message))
            continue
        if phone in wanted:
            result.rejected.append((line, raw, f"trùng số với dòng {wanted[phone][0]}"))
            continue
        wanted[phone] = (line, area)
    existing = {
        s.phone: s
        for s in (await session.execute(select(Subscriber).where(Subscriber.phone.in_(list(wanted))))).scalars()
    }
    for phone, (line, area) in wanted.items():
        current = existing.get(phone)
        if current is None:
            session.add(Subscriber(phone=phone, area_id=area.id, source="import"))
            result.added += 1
        elif current.opted_out:
            reason = "người dân đã từ chối nhận tin; chỉ chính họ đăng ký lại được (nhắn DK)"
            result.rejected.append((line, phone, reason))
        elif current.area_id != area.id:
            current.area_id = area.id
            result.moved += 1
        else:
            result.unchanged += 1
    await audit(
        session,
        actor,
        "subscribers_import",
        "area",
        default_area or "",
        added=result.added,
        moved=result.moved,
        rejected=len(result.rejected),
    )
    await session.commit()
    return result
