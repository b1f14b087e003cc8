"""The FastAGI entry point: which flow a connection runs, and the hand-over between the
telephony channel (which dials) and the IVR (which talks) for outbound calls.

Asterisk runs ``AGI(agi://<loa>/hotline)`` for incoming calls and the telephony channel
originates each call into ``agi://<loa>/outbound?call=<attempt>``; the attempt id links
the AGI session to the ledger row the channel is waiting on.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway.ivr.flows import Flow
from gateway.ivr.runner import CallState, Runner
from gateway.ivr.server import AgiSession

log = logging.getLogger(__name__)


class OutboundCalls:
    """Attempt id -> the bulletin to play, and the state the call ended in."""

    def __init__(self) -> None:
        self.bulletins: dict[str, tuple[Path | None, str]] = {}  # (telephone render, number dialled)
        self.results: dict[str, asyncio.Future[CallState]] = {}
        self.connected: set[str] = set()  # Asterisk opened the IVR session: the call was answered

    def expect(self, call_id: str, bulletin: Path | None, number: str) -> asyncio.Future[CallState]:
        self.bulletins[call_id] = (bulletin, number)
        future: asyncio.Future[CallState] = asyncio.get_running_loop().create_future()
        self.results[call_id] = future
        return future

    def forget(self, call_id: str) -> None:
        self.connected.discard(call_id)
        self.bulletins.pop(call_id, None)
        self.results.pop(call_id, None)

    def started(self, call_id: str) -> bool:
        return call_id in self.bulletins

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
        self.calls += 1
        call_id = env.query.get("call", "")
        state = CallState(env.caller, env.uniqueid or call_id)
        if call_id:
            if not self.outbound.started(call_id):
                log.warning("outbound AGI for unknown call %s (the worker restarted?)", call_id)
            state.bulletin, state.caller = self.outbound.bulletins.get(call_id, (None, ""))
            self.outbound.connected.add(call_id)
        try:
            await self.runner.run(session, flow, state)
        finally:
            if call_id:
                self.outbound.finish(call_id, state)
