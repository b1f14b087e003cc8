"""Feedback reports for the People's Committee: for a period (local dates, both included),
per area, how many residents' messages were received and how many processed, how fast
they were answered, and how many within their deadline.

- received: cases filed in the period; processed: of those, answered, closed, rejected or
  marked duplicate (as of now); the goal is 100%.
- time to answer: answered_at - created_at, median in hours.
- on time: processed by their SLA deadline, over processed plus still-open overdue cases.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Case, utcnow
from gateway.db.states import CaseStatus
from gateway.feedback import taxonomy

PROCESSED = (CaseStatus.ANSWERED, CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.DUPLICATE)
NO_AREA = ("", "Chưa rõ địa bàn")
MAX_DAYS = 366


@dataclass
class Row:
    code: str
    name: str
    received: int = 0
    processed: int = 0
    overdue_open: int = 0
    on_time: int = 0
    answer_hours: list[float] = field(default_factory=list)

    @property
    def open(self) -> int:
        return self.received - self.processed

    @property
    def processed_pct(self) -> float | None:
        return round(100 * self.processed / self.received, 1) if self.received else None

    @property
    def median_answer_hours(self) -> float | None:
        return round(statistics.median(self.answer_hours), 1) if self.answer_hours else None

    @property
    def on_time_pct(self) -> float | None:
        judged = self.processed + self.overdue_open
        return round(100 * self.on_time / judged, 1) if judged else None


@dataclass
class Report:
    start: date
    end: date
    rows: list[Row]
    total: Row
    categories: list[tuple[str, str, int]]  # key, name, received
    channels: dict[str, int]
    days: list[tuple[date, int, int]]  # day, received, processed


def period(start: str, end: str) -> tuple[date, date]:
    """Parse and check the period; errors name the field."""
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise WorkflowError("start", "ngày bắt đầu phải có dạng NNNN-TT-NN, ví dụ 2026-11-01", 422) from None
    try:
        last = date.fromisoformat(end)
    except ValueError:
        raise WorkflowError("end", "ngày kết thúc phải có dạng NNNN-TT-NN, ví dụ 2026-11-30", 422) from None
    if last < first:
        raise WorkflowError("end", "ngày kết thúc phải sau hoặc bằng ngày bắt đầu", 422)
    if (last - first).days >= MAX_DAYS:
        raise WorkflowError("end", f"mỗi báo cáo tối đa {MAX_DAYS} ngày", 422)
    return first, last


def _handled_at(case: Case) -> datetime:
    return case.answered_at or case.closed_at or case.updated_at


async def build(session: AsyncSession, first: date, last: date, zone: ZoneInfo) -> Report:
    since = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    areas = {a.id: a for a in (await session.execute(select(Area))).scalars()}
    cases = (
        (await session.execute(select(Case).where(Case.created_at >= since, Case.created_at < until))).scalars().all()
    )
    rows: dict[str, Row] = {}
    total = Row("*", "Tổng cộng")
    categories: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    now = utcnow()
    for case in cases:
        area = areas.get(case.area_id) if case.area_id is not None else None
        code, name = (area.code, area.name) if area else NO_AREA
        row = rows.setdefault(code, Row(code, name))
        processed = case.status in PROCESSED
        day = case.created_at.astimezone(zone).date()
        days[day][0] += 1
        categories[case.category] += 1
        channels[case.channel] += 1
        for target in (row, total):
            target.received += 1
            if processed:
                target.processed += 1
                target.on_time += _handled_at(case) <= case.sla_due_at
            elif case.sla_due_at < now:
                target.overdue_open += 1
            if case.answered_at is not None:
                target.answer_hours.append((case.answered_at - case.created_at).total_seconds() / 3600)
        if processed:
            days[day][1] += 1
    names = taxonomy.load()
    return Report(
        first,
        last,
        sorted(rows.values(), key=lambda r: (r.code == "", r.code)),
        total,
        [(key, names[key].name if key in names else key, n) for key, n in categories.most_common()],
        dict(channels.most_common()),
        [(d, days[d][0], days[d][1]) for d in sorted(days)],
    )


COLUMNS = (
    "Mã địa bàn",
    "Địa bàn",
    "Tiếp nhận",
    "Đã xử lý",
    "Tỷ lệ xử lý (%)",
    "Còn mở",
    "Quá hạn chưa xử lý",
    "Trung vị thời gian trả lời (giờ)",
    "Đúng hạn (%)",
)


def table(report: Report) -> list[list[object]]:
    """The per-area table, total last, as CSV and XLSX write it."""
    out: list[list[object]] = []
    for row in [*report.rows, report.total]:
        out.append(
            [
                row.code,
                row.name,
                row.received,
                row.processed,
                row.processed_pct,
                row.open,
                row.overdue_open,
                row.median_answer_hours,
                row.on_time_pct,
            ]
        )
    return out
