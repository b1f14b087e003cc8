"""What goes into a programme: the approved items waiting for one, in priority order
(emergency, priority, normal; then oldest first), the segments read around them
(greeting with the spoken date, bridges, closing), and the first choice by estimated
length (the real length is checked after rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Bulletin, ProgrammeTemplate
from gateway.db.states import BulletinStatus
from gateway.programmes.assemble import Segment, spoken_date

CHARS_PER_SECOND = 13.0  # Vietnamese read aloud, for the first estimate only
DEFAULT_GREETING = "Đây là Đài truyền thanh xã. {date}. Mời bà con nghe chương trình {name}."
DEFAULT_CLOSING = "Chương trình {name} đến đây là kết thúc. Cảm ơn bà con đã lắng nghe."
DEFAULT_BRIDGE = "Tin tiếp theo."
RANK = case((Bulletin.priority == "emergency", 2), (Bulletin.priority == "priority", 1), else_=0)


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}.\n{self.body}"

    @property
    def estimate(self) -> float:
        return len(self.text) / CHARS_PER_SECOND


async def waiting_items(session: AsyncSession) -> list[Item]:
    rows = (
        await session.execute(
            select(Bulletin)
            .where(Bulletin.status == BulletinStatus.APPROVED, Bulletin.for_programme.is_(True))
            .order_by(RANK.desc(), Bulletin.created_at, Bulletin.id)
        )
    ).scalars()
    return [Item(b.id, b.title, b.body) for b in rows]


def segments_for(template: ProgrammeTemplate, items: list[Item], air_local: datetime) -> list[Segment]:
    fill = {"date": spoken_date(air_local.date()), "name": template.name}
    segments = [Segment((template.greeting or DEFAULT_GREETING).format(**fill))]
    for n, item in enumerate(items):
        if n:
            segments.append(Segment(template.bridge or DEFAULT_BRIDGE))
        segments.append(Segment(item.text, item.id, item.title))
    segments.append(Segment((template.closing or DEFAULT_CLOSING).format(**fill)))
    return segments


def choose(items: list[Item], limit_seconds: float) -> tuple[list[Item], list[Item]]:
    """Items in order while the estimate fits; the first item always goes (a programme
    with nothing in it helps no one, and the warning says it is long)."""
    chosen: list[Item] = []
    total = 40.0  # greeting, closing, jingles
    for item in items:
        if chosen and total + item.estimate + 2 > limit_seconds:
            continue
        chosen.append(item)
        total += item.estimate + 2
    return chosen, [i for i in items if i not in chosen]
