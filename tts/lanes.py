"""Synthesis lanes: ``live`` (IVR prompts, console previews, first phrases) and ``render``
(bulletin and programme renders).

Each lane has its own synthesizer and thread pools (see :class:`tts.engine.Synthesizer`),
so live work never queues behind a render's phrases, and a render-lane phrase does not
start while a live phrase is pending (:data:`LIVE_FIRST`): a prompt waits at most for the
render phrases already being synthesized, and with a voice that can stop mid-phrase
(espeak-ng: ``interruptible``) not even for that: the render phrase stops within a block of
audio and is synthesized again after the live work. (Render threads are not given a lower CPU
priority: with espeak-ng, whose calls are serialized process-wide, a render thread holding
that lock at nice +10 made prompts slower on a loaded machine, measured.)
"""

from __future__ import annotations

import threading

LANES = ("live", "render")


class LiveFirst:
    """Process-wide: render-lane phrases wait while live-lane phrases are being synthesized."""

    def __init__(self) -> None:
        self._live = 0
        self._cond = threading.Condition()

    def live(self) -> _LiveTurn:
        return _LiveTurn(self)

    def waiting(self) -> bool:
        """Whether live work is pending (an interruptible voice's ``yield_to``)."""
        return self._live > 0

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
