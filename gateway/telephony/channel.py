"""The call channel: one ledger row is one resident's number; each attempt is an
Originate (Async) into the shipped ``[loa-outbound]`` context (``Exten=s``, channel
variables ``LOA_CALL``, ``LOA_KEY``, ``LOA_FLOW``), which needs only ``write=originate``
and runs the IVR flow over FastAGI, tracked by its ActionID/ChannelId -> OriginateResponse
-> Hangup, written to ``call_attempts`` and classified by ``outcomes.RetryPolicy``.

Before dialling (``admission``): the number may have opted out since the campaign was
planned, the daily cap may be reached (emergencies exempt), and outside the call window
only emergencies ring (a deferral does not count as an attempt). A row taken over from a
worker that died mid-call is settled from its attempt record, never dialled twice
blindly: an attempt that reached the resident counts, one that left no trace is retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.schedule import in_quiet_hours
from gateway.config import QuietHours
from gateway.db.models import utcnow
from gateway.db.states import DeliveryState
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.ivr.calls import CallContexts, IvrReport
from gateway.pacing import Pacer
from gateway.sms import recipients
from gateway.telephony import admission
from gateway.telephony.ami import AmiDisconnected, AmiError, header_int
from gateway.telephony.attempts import AGI_GRACE, MAX_CALL_SECONDS, Attempts
from gateway.telephony.outcomes import CallResult, RetryPolicy
from gateway.telephony.trunks import HangupInfo, Trunk, TrunkPool

log = logging.getLogger(__name__)
HANGUP_GRACE = 10.0  # after the IVR ended, how long the Hangup event may take
OUTBOUND_CONTEXT = "loa-outbound"  # conf/asterisk/extensions.conf
CONFIG_ERRORS = ("permission denied", "access forbidden", "extension does not exist", "invalid channel")  # no number


class CallChannel:
    name = "call"
    quiet_hours_apply = True
    background = True  # calls last minutes: the dispatcher keeps slots filled, not batches
    empty_detail = "không có người đăng ký nhận cuộc gọi ở địa bàn này"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: TrunkPool,
        contexts: CallContexts,
        agi_url: str,
        policy: RetryPolicy,
        cps: float,
        ring_seconds: int = 30,
        daily_cap: int = 2,
        window: QuietHours | None = None,
        timezone: str = "Asia/Ho_Chi_Minh",
        lease: tuple[str, int] = ("", 60),
        agi_secret: str = "",
    ) -> None:
        self.sessions = sessions
        self.pool = pool
        self.contexts = contexts
        self.attempts = Attempts(sessions, contexts, policy)
        self.agi_url = agi_url.rstrip("/")
        self.agi_secret = agi_secret
        self.policy = policy
        self.pacer = Pacer(cps)
        self.ring_seconds = ring_seconds
        self.daily_cap = daily_cap
        self.window = window
        self.zone = ZoneInfo(timezone)
        self.worker, self.lease_seconds = lease
        self.concurrency = max(1, pool.capacity)
        self.rate = cps  # the dispatcher claims about two seconds of calls at a time
        self.originated: list[float] = []  # monotonic times of Originates, for the benchmark
        self.active: dict[int, tuple[Trunk, str]] = {}  # ledger row -> (trunk, call id) of the call on it

    async def targets_query(self, session: AsyncSession, area_ids: list[int], emergency: bool = False) -> Select[Any]:
        return await recipients.query(session, area_ids, emergency)

    async def close(self) -> None:
        await self.pool.close()

    def live_rows(self) -> set[int]:
        return set(self.active)

    async def cut(self, rows: set[int]) -> int:
        """A stop: hang up the calls on these rows (AMI ``Hangup``; Asterisk finds a channel
        by name or by Uniqueid, which is our ChannelId). The Hangup event then ends the
        call as any other; its row is settled already."""
        calls = [self.active[row] for row in rows & set(self.active)]
        results = await asyncio.gather(*(self._hang_up(trunk, call_id) for trunk, call_id in calls))
        return sum(results)

    async def _hang_up(self, trunk: Trunk, call_id: str) -> bool:
        try:
            await trunk.client.action({"Action": "Hangup", "Channel": call_id, "Cause": "16"}, wait=5.0)
        except (AmiError, TimeoutError) as exc:  # already ended, or the server is gone (the call with it)
            log.info("hangup of %s: %s", call_id, exc)
            return False
        return True

    # --- the call ------------------------------------------------------------------------
    async def deliver(self, job: Job) -> Outcome:
        if job.claim.recovered:
            settled = await self.attempts.recover(job, self._keep_lease, self.channel_up)
            if settled is not None:
                return settled
        refusal = await admission.refusal(self.sessions, job, self.window, self.zone, self.daily_cap)
        if refusal is not None:
            return refusal
        trunk = await self.pool.acquire(wait=30.0)
        if trunk is None:
            busy = "chưa có tổng đài Asterisk sẵn sàng (mất kết nối hoặc hết kênh)"
            return Outcome(DeliveryState.RETRY, detail=busy, retry_after=60, defer=True)
        # unique even when a deferral gives the row its attempt back
        call_id = f"loa-{job.claim.id}-{job.claim.attempts}-{secrets.token_hex(3)}"
        key = secrets.token_urlsafe(16)  # 128 random bits: the AGI session must present it
        try:
            await self.pacer.wait()
            await self.attempts.begin(job, trunk.name, call_id, key)
            keep = asyncio.create_task(self._keep_lease(job.claim.id))
            self.active[job.claim.id] = (trunk, call_id)
            try:
                result = await self._call(job, trunk, call_id, key)
            finally:
                keep.cancel()
                self.active.pop(job.claim.id, None)
        finally:
            await self.pool.release(trunk)
        result = self._note(trunk, result)
        decision = self.policy.decide(result, max(1, await self.attempts.calls_made(job.claim.id)))
        if decision.trunk_backoff:
            trunk.back_off(self.policy.congestion_backoff)
            if decision.defer:
                trunk.problem = decision.detail
                log.error("trunk %s: %s", trunk.name, decision.detail)
        await self.attempts.end(call_id, result, decision.label, decision.detail)
        detail = f"{decision.detail} [{trunk.name}]"
        if decision.kind == DeliveryState.RETRY:
            after = self._outside_window(decision, job)
            return Outcome(
                DeliveryState.RETRY, reference=call_id, detail=detail, retry_after=after, defer=decision.defer
            )
        return Outcome(decision.kind, reference=call_id, detail=detail)

    @staticmethod
    def _note(trunk: Trunk, result: CallResult) -> CallResult:
        """Keep the trunk's streak of causes 1/21: a trunk that refuses every number."""
        cause = result.cause
        if result.answered or cause in (17, 18, 19, 20) or (not cause and result.reason in (3, 5)):
            trunk.reached_a_phone()
        elif cause in (1, 21) and trunk.refused():
            return dataclasses.replace(result, trunk_refusing=True)
        return result

    def _outside_window(self, decision: Any, job: Job) -> float:
        """A retry that would ring at night waits for the morning (emergencies do not)."""
        delay = float(decision.retry_after)
        if self.window is None or job.priority == "emergency":
            return delay
        at = utcnow() + timedelta(seconds=delay)
        resume = in_quiet_hours(at, self.window.start, self.window.end, self.zone)
        return delay if resume is None else (resume - utcnow()).total_seconds()

    async def _call(self, job: Job, trunk: Trunk, call_id: str, key: str) -> CallResult:
        agi_done = asyncio.ensure_future(self.contexts.report(call_id))
        try:
            return await self._dial(job, trunk, call_id, key, agi_done)
        finally:  # also when the attempt is cancelled (the worker stops): no watch, no poller left
            agi_done.cancel()
            trunk.unwatch(call_id)

    async def _dial(
        self, job: Job, trunk: Trunk, call_id: str, key: str, agi_done: asyncio.Future[IvrReport]
    ) -> CallResult:
        config = trunk.client.config
        number = job.claim.target
        national = "0" + number[3:] if number.startswith("+84") else number
        hangup = trunk.watch(call_id)
        headers: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": call_id,
            "ChannelId": call_id,
            "Channel": config.dial.format(number=national, e164=number),
            "Context": OUTBOUND_CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(self.ring_seconds * 1000),
            "Async": "true",
            "Variable": [
                f"LOA_CALL={call_id}",
                f"LOA_KEY={key}",
                f"LOA_FLOW={'reply' if job.source == 'reply' else 'outbound'}",  # the row says so too
                f"LOA_BULLETIN={job.bulletin_id}",
            ],
        }
        if config.caller_id:
            headers["CallerID"] = config.caller_id
        self.originated.append(asyncio.get_running_loop().time())
        try:
            answer = await trunk.client.action(headers, wait=self.ring_seconds + 30)
        except AmiDisconnected:
            return await self._settle(hangup, agi_done, call_id, trunk, answered=None)
        except AmiError as exc:
            trunk.unwatch(call_id)
            agi_done.cancel()
            refused = any(text in str(exc).lower() for text in CONFIG_ERRORS)
            return CallResult(error=f"Asterisk từ chối lệnh gọi: {exc}", config_error=refused)
        final = answer[-1] if isinstance(answer, list) else answer
        reason = header_int(final.get("Reason", ""))
        answered = final.get("Response", "") == "Success" and final.get("Event", "") == "OriginateResponse"
        if not answered and (call_id not in trunk.created or final.get("Uniqueid", "") in ("<unknown>", "<null>")):
            # No channel was created (ast_dial_prerun failed): no Newchannel, and no Hangup
            # will come. The Uniqueid is our ChannelId all the same (fast_originate).
            trunk.unwatch(call_id)
            agi_done.cancel()
            return CallResult(reason=reason)
        return await self._settle(hangup, agi_done, call_id, trunk, answered=answered, reason=reason)

    async def _settle(
        self,
        hangup: asyncio.Future[HangupInfo],
        agi_done: asyncio.Future[IvrReport],
        call_id: str,
        trunk: Trunk,
        answered: bool | None,
        reason: int | None = None,
    ) -> CallResult:
        """Wait for the end of the call: the Hangup event of our channel, and the IVR's
        report when the call was answered."""
        lost = False
        info: HangupInfo | None = None
        try:
            if answered is False:
                # The Hangup came first or comes right after; a channel that was never
                # created (Reason 0, Uniqueid <unknown>) has none: the Reason decides.
                info = await asyncio.wait_for(asyncio.shield(hangup), 5.0)
            else:
                if answered:
                    await self.attempts.mark_answered(call_id)
                # Until the Hangup, or the IVR's end plus a grace for the event to arrive:
                # a lost event must not hold a line of the trunk for half an hour.
                either: set[asyncio.Future[Any]] = {hangup, agi_done}
                await asyncio.wait(either, timeout=MAX_CALL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                info = await asyncio.wait_for(asyncio.shield(hangup), HANGUP_GRACE)
        except AmiDisconnected:
            lost = True
        except TimeoutError:
            lost = answered is None  # nothing heard of a call cut by a drop; otherwise it simply ended
        finally:
            trunk.unwatch(call_id)
        state: IvrReport | None = None
        if answered or (answered is None and await self.contexts.connected(call_id)):
            try:
                state = await asyncio.wait_for(asyncio.shield(agi_done), AGI_GRACE)
            except TimeoutError:  # the IVR's process died with the session: what it wrote so far
                state = await self.contexts.heard_so_far(call_id)
        agi_done.cancel()
        if answered is None:
            answered = state is not None  # the IVR ran: Asterisk had answered before the drop
        heard = (state.bulletin_samples / 8000) if state is not None else 0.0
        return CallResult(
            answered=bool(answered),
            reason=reason,
            cause=info.cause if info is not None else None,
            tech_cause=info.tech_cause if info is not None else None,
            heard_seconds=heard,
            bulletin_complete=bool(state and state.bulletin_complete),
            confirmed=bool(state and state.confirmed),
            amd=state.amd if state is not None else "",
            lost=lost,
        )

    async def channel_up(self, server: str, call_id: str) -> bool | None:
        """Is the call's channel still up on its Asterisk? False once this process saw its
        Hangup, or once ``CoreShowChannels`` (manager.c: one ``CoreShowChannel`` event per
        live channel, its Uniqueid our ChannelId) does not list it; None when Asterisk
        cannot say (not connected, or the AMI user lacks write=reporting)."""
        trunk = next((t for t in self.pool.trunks if t.name == server), None)
        if trunk is None:
            return None
        if call_id in trunk.ended:
            return False
        if not trunk.client.ready:
            return None
        try:
            answer = await trunk.client.action({"Action": "CoreShowChannels"}, wait=10.0)
        except AmiDisconnected:
            return None
        except AmiError as exc:  # Permission denied: the call's Hangup event is all we have
            log.info("CoreShowChannels on %s: %s", server, exc)
            return None
        events = answer if isinstance(answer, list) else [answer]
        complete = any(str(e.get("Event", "")).endswith("Complete") for e in events)
        if not complete:
            return None
        return any(e.get("Event") == "CoreShowChannel" and e.get("Uniqueid") == call_id for e in events)

    async def _keep_lease(self, claim_id: int) -> None:
        if not self.worker:
            return
        while True:
            await asyncio.sleep(max(5.0, self.lease_seconds / 3))
            async with self.sessions() as session:
                await ledger.extend(session, claim_id, self.worker, self.lease_seconds)
