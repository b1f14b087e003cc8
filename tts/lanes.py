"""Synthesis lanes: ``live`` (IVR prompts, console previews, first phrases) and ``render``
(bulletin and programme renders).

Each lane has its own synthesizer and thread pools (see :class:`tts.engine.Synthesizer`),
so live work never queues behind a render's phrases. Two more things keep a render from
slowing a prompt on a busy machine: a render-lane phrase does not start while a live
phrase is pending (:data:`LIVE_FIRST`; this matters most for voices that serialize their
calls, like espeak-ng), and render threads run at nice +10 so the kernel gives the cores
to live work first.
"""

from __future__ import annotations

import os
import threading

LANES = ("live", "render")
RENDER_NICE = 10  # render threads yield the CPU to live work (Linux: nice is per thread)


class LiveFirst:
    """Process-wide: render-lane phrases wait while live-lane phrases are being synthesized."""

    def __init__(self) -> None:
        self._live = 0
        self._cond = threading.Condition()

    def live(self) -> _LiveTurn:
        return _LiveTurn(self)

    def wait_for_render(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._live == 0)

    def _enter(self) -> None:
        with self._cond:
            self._live += 1

    def _leave(self) -> None:
        with self._cond:
            self._live -= 1
            if self._live == 0:
                self._cond.notify_all()


class _LiveTurn:
    def __init__(self, gate: LiveFirst) -> None:
        self.gate = gate

    def __enter__(self) -> None:
        self.gate._enter()

    def __exit__(self, *exc: object) -> None:
        self.gate._leave()


LIVE_FIRST = LiveFirst()


def lower_priority() -> None:
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RENDER_NICE)
        except OSError:  # not allowed here: the live-first gate still orders the phrases
            pass


