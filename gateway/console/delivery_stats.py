"""A bulletin's delivery statistics per channel, in the four words an officer asks about:
received, failed, still waiting, unknown (and what was called off)."""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = (  # (key, Vietnamese label, ledger states)
    ("delivered", "Đã nhận", ("delivered",)),
    ("failed", "Lỗi", ("failed",)),
    ("pending", "Đang chờ", ("pending", "in_progress", "retry", "sent")),
    ("unknown", "Không rõ kết quả", ("unknown",)),
    ("cancelled", "Đã hủy, hết hạn", ("cancelled", "expired")),
)
LABELS = {key: label for key, label, _ in GROUPS}


@dataclass(frozen=True)
class ChannelStats:
    channel: str
    counts: dict[str, int]  # group key -> rows
    total: int

    @property
    def delivered_percent(self) -> int:
        return round(100 * self.counts["delivered"] / self.total) if self.total else 0


def summarize(counts: dict[str, dict[str, int]]) -> list[ChannelStats]:
    """``service.delivery_counts`` (channel -> state -> rows) grouped per channel."""
    found = []
    for channel, states in sorted(counts.items()):
        grouped = {key: sum(states.get(s, 0) for s in members) for key, _, members in GROUPS}
        found.append(ChannelStats(channel, grouped, sum(states.values())))
    return found
