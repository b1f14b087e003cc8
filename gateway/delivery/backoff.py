"""Renders that fail wait before they are tried again, and are told once.

A render fails for reasons that do not pass in a second (the artifacts folder read-only,
unmounted or gone; a voice missing): trying again on every worker tick filled the log
with 20-51 tracebacks a second. Each bulletin waits ``first`` seconds after its first
failure, twice as long after each next one, at most ``longest``; the reason is logged and
stored on the bulletin when it appears or changes, not at every try. When the store was
unusable at the failure and is usable again, the wait ends at once: the folder is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failing:
    reason: str
    delay: float
    next_at: float
    store_usable: bool


class RenderBackoff:
    def __init__(self, first: float = 1.0, longest: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.first, self.longest, self.clock = first, longest, clock
        self._failing: dict[int, _Failing] = {}

    def ready(self, bulletin_id: int, store_usable: bool) -> bool:
        """Whether the bulletin may be rendered now."""
        state = self._failing.get(bulletin_id)
        if state is None:
            return True
        return self.clock() >= state.next_at or (store_usable and not state.store_usable)

    def failed(self, bulletin_id: int, reason: str, store_usable: bool) -> bool:
        """Record a failure; True when the reason is new (log it, store it on the bulletin)."""
        state = self._failing.get(bulletin_id)
        delay = self.first if state is None else min(state.delay * 2, self.longest)
        self._failing[bulletin_id] = _Failing(reason, delay, self.clock() + delay, store_usable)
        return state is None or state.reason != reason

    def succeeded(self, bulletin_id: int) -> bool:
        """Forget the bulletin's failures; True when it had some."""
        return self._failing.pop(bulletin_id, None) is not None
