"""The one small interface every channel implements: claim -> act -> report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gateway.delivery.ledger import Claim, Outcome


@dataclass(frozen=True)
class Job:
    """What a channel needs to deliver one ledger row."""

    claim: Claim
    bulletin_id: int
    title: str
    priority: str
    sms_text: str
    artifacts: dict[str, Path] = field(default_factory=dict)  # purpose -> file
    source: str = ""  # console | api | cap | reply (an answer to a resident's case)
    expires_at: datetime | None = None  # a CAP <expires>: nothing starts after it


class Channel(Protocol):
    name: str
    quiet_hours_apply: bool  # calls and SMS respect quiet hours; loudspeakers follow their schedule

    async def deliver(self, job: Job) -> Outcome:
        """Act once. With ``job.claim.recovered`` a previous attempt may have acted: confirm
        it if the channel can, report ``unknown`` if it cannot, never act twice blindly."""
        ...
