"""The FastAGI entry point: which flow a connection runs, and the hand-over between the
telephony channel (which dials) and the IVR (which talks) for outbound calls.

Asterisk runs ``AGI(agi://<loa>/hotline)`` for incoming calls and the telephony channel
originates each call into ``agi://<loa>/outbound?call=<attempt>&key=<random>``; the attempt
id links the AGI session to the ledger row the channel is waiting on. A session of a flow
Loa originates (``outbound``, ``reply``), or one naming a call, runs only for a call Loa
issued and is waiting on, once, with that call's random key: attempt ids are guessable,
and such a session speaks for the number Loa dialled (its keypad opts that number out).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from pathlib import Path

from gateway.ivr.flows import Flow
from gateway.ivr.runner import CallState, Runner
from gateway.ivr.server import AgiSession

log = logging.getLogger(__name__)
ORIGINATED = ("outbound", "reply")  # flows only Loa's own Originates start


class OutboundCalls:
    """Attempt id -> the bulletin to play, and the state the call ended in."""

    def __init__(self) -> None:
        self.bulletins: dict[str, tuple[Path | None, str]] = {}  # (telephone render, number dialled)
        self.results: dict[str, asyncio.Future[CallState]] = {}
        self.connected: set[str] = set()  # Asterisk opened the IVR session: the call was answered
        self.keys: dict[str, str] = {}  # attempt id -> the random key its AGI URL carries

    def expect(self, call_id: str, bulletin: Path | None, number: str) -> asyncio.Future[CallState]:
        self.bulletins[call_id] = (bulletin, number)
        self.keys[call_id] = secrets.token_urlsafe(16)
        future: asyncio.Future[CallState] = asyncio.get_running_loop().create_future()
        self.results[call_id] = future
        return future

    def forget(self, call_id: str) -> None:
        self.connected.discard(call_id)
        self.bulletins.pop(call_id, None)
        self.results.pop(call_id, None)
        self.keys.pop(call_id, None)

    def started(self, call_id: str) -> bool:
        return call_id in self.bulletins

    def issued(self, call_id: str, key: str) -> bool:
        """A call Loa originated and waits on, with its key, not yet connected."""
        expected = self.keys.get(call_id)
        if expected is None or call_id in self.connected:
            return False
        return hmac.compare_digest(key.encode(), expected.encode())

    def finish(self, call_id: str, state: CallState) -> None:
        future = self.results.get(call_id)
        if future is not None and not future.done():
            future.set_result(state)


class IvrApp:
    def __init__(self, runner: Runner, flows: dict[str, Flow], outbound: OutboundCalls) -> None:
        self.runner = runner
        self.flows = flows
        self.outbound = outbound
        self.calls = 0

    async def __call__(self, session: AgiSession) -> None:
        env = session.env
        flow = self.flows.get(env.script)
        if flow is None:
            log.error("FastAGI script %r has no flow in ivr_flows/ (have: %s)", env.script, ", ".join(self.flows))
            await session.send("HANGUP")
            return
        call_id = env.query.get("call", "")
        if (call_id or env.script in ORIGINATED) and not self.outbound.issued(call_id, env.query.get("key", "")):
            log.warning(
                "FastAGI %s session %s ignored: call %r was not issued by this Loa (or is already connected)",
                env.script,
                env.uniqueid,
                call_id,
            )
            await session.send("HANGUP")
            return
        self.calls += 1
        state = CallState(env.caller, env.uniqueid or call_id)
        if call_id:
            state.bulletin, state.caller = self.outbound.bulletins.get(call_id, (None, ""))
            self.outbound.connected.add(call_id)
        try:
            await self.runner.run(session, flow, state)
        finally:
            if call_id:
                self.outbound.finish(call_id, state)
