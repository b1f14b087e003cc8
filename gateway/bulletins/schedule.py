"""Schedules in Asia/Ho_Chi_Minh: one-off times, daily programmes ("daily 06:00,17:00"),
and quiet hours per channel (no calls or SMS at night unless emergency)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.bulletins.errors import WorkflowError

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def _hhmm(text: str, field: str) -> time:
    try:
        hh, mm = text.strip().split(":")
        return time(int(hh), int(mm))
    except ValueError as exc:
        raise WorkflowError(field, f"giờ '{text}' phải có dạng GG:PP (00:00 đến 23:59)", 422) from exc


def parse_recurrence(spec: str) -> list[time]:
    """'' (one-off) or 'daily HH:MM[,HH:MM...]'."""
    spec = spec.strip()
    if not spec:
        return []
    kind, _, rest = spec.partition(" ")
    if kind != "daily" or not rest.strip():
        raise WorkflowError("recurrence", "lặp lại phải để trống hoặc dạng 'daily 06:00,17:00'", 422)
    return sorted(_hhmm(part, "recurrence") for part in rest.split(","))


def next_occurrence(spec: str, after: datetime, tz: ZoneInfo = LOCAL) -> datetime | None:
    """The first daily time strictly after ``after`` (UTC in, UTC out)."""
    times = parse_recurrence(spec)
    if not times:
        return None
    local = after.astimezone(tz)
    for day in range(0, 3):
        date = (local + timedelta(days=day)).date()
        for t in times:
            candidate = datetime.combine(date, t, tzinfo=tz)
            if candidate > local:
                return candidate.astimezone(UTC)
    return None


def in_quiet_hours(now: datetime, start: str, end: str, tz: ZoneInfo = LOCAL) -> datetime | None:
    """If ``now`` is inside the quiet window, the UTC time it ends; else None."""
    s, e = _hhmm(start, "quiet_hours.start"), _hhmm(end, "quiet_hours.end")
    local = now.astimezone(tz)
    t = local.time()
    inside = (s <= t or t < e) if s > e else (s <= t < e)
    if not inside:
        return None
    end_date = local.date() if t < e else local.date() + timedelta(days=1)
    return datetime.combine(end_date, e, tzinfo=tz).astimezone(UTC)


def local_text(moment: datetime | None, tz: ZoneInfo = LOCAL) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y") if moment else ""
