"""Issue 13, time to silence: one stop silences every channel of a bulletin on air — the
speaker agent (its own process, a real player), an RTP stream to a UDP capture, a listener
of the gateway's live stream, a call answered on the Asterisk stand-in — and settles every
row. Liveness only: the bounds are generous (the figures are in ``python -m bench
--only-alerts``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.silence import WATCH_S, measure

pytestmark = pytest.mark.timeout(420)


def test_one_stop_silences_the_agent_rtp_the_live_stream_and_the_call_and_settles_every_row(
    tmp_path: Path, ffmpeg: str
) -> None:
    result = asyncio.run(measure(tmp_path, log=lambda _line: None))
    silent = {channel: seconds for channel, seconds in result.seconds.items() if seconds is not None}
    assert silent.keys() == result.seconds.keys(), f"still sounding {WATCH_S:g} s after the stop: {result.seconds}"
    assert set(result.rows) == {"loudspeaker", "call"}
    assert result.rows["loudspeaker"] == ["cancelled"] * 3 and result.rows["call"] == ["cancelled"]
    assert result.stop_answer["settled"] == 4 and result.stop_answer["status"] == "stopped"
