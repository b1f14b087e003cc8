"""The FastAGI entry point: which flow a connection runs, and the hand-over between the
telephony channel (which dials) and the IVR (which talks) for outbound calls.

Asterisk runs ``AGI(agi://<loa>/hotline)`` for incoming calls; the telephony channel
originates each call into the ``[loa-outbound]`` context, whose dialplan runs
``AGI(${LOA}/${LOA_FLOW}?call=${LOA_CALL}&key=${LOA_KEY}&secret=…)``. The attempt id
links the AGI session to the attempt's row in the database (``calls.CallContexts``), so any
worker's FastAGI server serves any call. A session of a flow Loa originates (``outbound``,
``reply``), or one naming a call, runs only for a call Loa dialled and has not seen
connected or ended, once, with that call's random key: attempt ids are guessable, and such
a session speaks for the number Loa dialled (its keypad opts that number out).
"""

from __future__ import annotations

import logging

from gateway.ivr.calls import CallContexts, IvrReport
from gateway.ivr.flows import Flow
from gateway.ivr.peers import peer_address
from gateway.ivr.runner import CallState, Runner
from gateway.ivr.server import AgiSession

log = logging.getLogger(__name__)
ORIGINATED = ("outbound", "reply")  # flows only Loa's own Originates start


class IvrApp:
    def __init__(self, runner: Runner, flows: dict[str, Flow], calls: CallContexts) -> None:
        self.runner = runner
        self.flows = flows
        self.contexts = calls
        self.calls = 0

    async def __call__(self, session: AgiSession) -> None:
        env = session.env
        flow = self.flows.get(env.script)
        if flow is None:
            log.error("FastAGI script %r has no flow in ivr_flows/ (have: %s)", env.script, ", ".join(self.flows))
            await session.send("HANGUP")
            return
        call_id = env.query.get("call", "")
        context = None
        if call_id or env.script in ORIGINATED:
            context = await self.contexts.claim(call_id, env.query.get("key", ""))
            if context is None:
                log.warning(
                    "FastAGI %s session %s ignored: call %r was not issued by this Loa (or is already connected)",
                    env.script,
                    env.uniqueid,
                    call_id,
                )
                await session.send("HANGUP")
                return
        self.calls += 1
        state = CallState(env.caller, env.uniqueid or call_id, peer=peer_address(session))
        if context is not None:
            state.bulletin, state.caller = context.bulletin, context.number

            async def heard(now: CallState) -> None:
                report = IvrReport(now.bulletin_samples, now.bulletin_complete, now.confirmed, now.amd)
                await self.contexts.progress(call_id, report)

            state.heard = heard
        try:
            await self.runner.run(session, flow, state)
        finally:
            if context is not None:
                report = IvrReport(state.bulletin_samples, state.bulletin_complete, state.confirmed, state.amd)
                await self.contexts.finish(call_id, report)
