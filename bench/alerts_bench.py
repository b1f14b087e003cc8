"""Time to silence (issue 13): an emergency on air on every channel at once (speaker agent,
RTP speaker, the live stream, a call on the Asterisk stand-in) is stopped, and each channel
is watched until it is silent (tests/support/silence.py says how each is observed).
Targets: RTP, streams and calls within 2 s; pull clusters within 10 s (the long poll wakes
them)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

TARGETS = {"pull cluster (agent)": 10.0, "RTP speaker": 2.0, "live stream": 2.0, "call (AMI)": 2.0}


def main() -> None:
    from tests.support.silence import measure

    print("time to silence (issue 13): one stop, every channel on air")
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(measure(Path(tmp), log=lambda line: print(f"  {line}", flush=True)))
    for channel, seconds in result.seconds.items():
        target = TARGETS[channel]
        if seconds is None:
            print(f"  {channel:22s} still sounding after the watch   (target <= {target:g} s)  MISSED")
            continue
        verdict = "ok" if seconds <= target else "MISSED"
        print(f"  {channel:22s} silent {seconds:6.2f} s after the stop     (target <= {target:g} s)  {verdict}")
    rows = "; ".join(f"{channel}: {', '.join(states)}" for channel, states in result.rows.items())
    print(f"  rows after the stop: {rows}")
