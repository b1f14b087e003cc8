"""Where the Asterisk stand-in follows Asterisk's own source rather than the happy path
(issue 19, "Against a real Asterisk"), and what Loa makes of it: SIP codes chan_pjsip
folds into causes 21 and 1, GET DATA's -1 with the caller still there, Originate
permissions, the ring-timeout cause of older releases, chan_pjsip's Reason 0, the
Uniqueid of a call that made no channel, event order, and RECORD FILE errors."""

# ruff: noqa: F811 (the fixtures of test_telephony, imported, are the tests' arguments)

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db.models import AuditLog, Case, Delivery
from gateway.telephony.setup import Telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_telephony import (  # noqa: F401 (fixtures)
    _speech,
    asterisk,
    attempts,
    dialled,
    release,
    settle,
    subscribe,
    telephony,
)
from tests.support.asterisk import Asterisk, Script
from tests.support.smsc import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]


async def _rows(gateway: Gateway, bid: int) -> dict[str, Delivery]:
    async with gateway.services.sessions() as s:
        rows = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars().all()
    return {r.target: r for r in rows}


@pytest.mark.parametrize("tech_cause", [False, True])
async def test_a_trunk_answering_401_403_407_404_to_every_number_keeps_them_and_pauses_res_pjsip_sip2cause(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, tech_cause: bool
) -> None:
    """res_pjsip.c ast_sip_hangup_sip2cause: 401/403/407 -> 21 (Call Rejected), 404 -> 1
    (Unallocated): a wrong trunk password or dial format looks like every number refusing."""
    asterisk.tech_cause = tech_cause
    users = await seed(gateway)
    numbers = [f"+8491200020{i}" for i in range(8)]
    for i, number in enumerate(numbers):
        asterisk.scripts["0" + number[3:]] = Script(("sip403", "sip401", "sip407", "sip404")[i % 4])
    await subscribe(gateway, numbers)
    bid = await release(gateway, users)
    trunk = telephony.channel.pool.trunks[0]
    await wait_until(lambda: bool(trunk.problem), within=60)
    assert "trung kế từ chối" in trunk.problem
    rows = await _rows(gateway, bid)
    assert not [r.target for r in rows.values() if r.state == "failed"], [r.detail for r in rows.values()]
    for number in numbers:  # the trunk is fixed: every number is still called and hears the bulletin
        asterisk.scripts["0" + number[3:]] = Script("answer")
    settled = await settle(gateway, bid, within=90)
    assert {r.state for r in settled.values()} == {"delivered"}, [r.detail for r in settled.values()]
    assert not trunk.problem


async def test_a_resident_declining_with_603_is_not_a_trunk_problem_res_pjsip_sip2cause(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """TechCause 603 (Decline) is the person, not the trunk: not retried, trunk not paused."""
    asterisk.tech_cause = True
    users = await seed(gateway)
    asterisk.scripts["0912000301"] = Script("sip603")
    await subscribe(gateway, ["+84912000301"])
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    assert rows["+84912000301"].state == "failed" and "không gọi lại" in rows["+84912000301"].detail
    assert dialled(asterisk, "+84912000301") == 1
    assert not telephony.channel.pool.trunks[0].problem


async def test_get_data_minus_one_with_the_caller_on_the_line_is_not_a_hangup_res_agi_c_handle_getdata(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """res_agi.c handle_getdata answers ``200 result=-1`` when ast_app_getdata_full fails,
    which a prompt Asterisk cannot play does as well as a hang-up: the channel decides."""
    await seed(gateway)
    url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
    ask = await telephony.prompts.path(telephony.flows["hotline"].nodes["ask_ticket"].text)
    log = await asterisk.call_in("0987000555", url, Script(keys=["3", "12345678#"], unreadable=(ask,)))
    commands = [c for c, _ in log.commands]
    at = next(i for i, c in enumerate(commands) if c.startswith("GET DATA"))
    assert log.commands[at][1] == "200 result=-1"
    assert commands[at + 1] == "CHANNEL STATUS"  # asked, not assumed
    not_found = await telephony.prompts.path(telephony.flows["hotline"].nodes["status"].not_found_text)
    assert any(not_found in p for p in log.played)  # the flow went on
    assert commands[-1] == "HANGUP"  # ended by Loa's goodbye, not by a supposed hang-up


async def test_originate_goes_to_the_loa_outbound_context_and_needs_only_write_originate_manager_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """manager.c action_originate: an Application matching AGI needs write=system
    ("Originate Access Forbidden"); an Exten in the dialplan needs only write=originate."""
    asterisk.write = {"originate"}  # nothing else: the Originate needs only this class
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000401"])
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    assert rows["+84912000401"].state == "delivered", rows["+84912000401"].detail
    sent = asterisk.originates[-1]
    assert (sent["context"], sent["exten"], sent["priority"]) == ("loa-outbound", "s", "1")
    assert "application" not in sent
    call = asterisk.calls[sent["channelid"]]
    assert call.variables["LOA_CALL"] == sent["channelid"] and call.variables["LOA_FLOW"] == "outbound"


async def test_a_refused_originate_is_a_configuration_error_not_the_numbers_failure_manager_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """An AMI user without write=originate gets ``Permission denied`` for every Originate:
    no number loses an attempt, the trunk pauses and says why."""
    asterisk.write = {"call"}
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000402"])
    bid = await release(gateway, users)
    trunk = telephony.channel.pool.trunks[0]
    await wait_until(lambda: "cấu hình" in trunk.problem, within=30)
    assert "Permission denied" in trunk.problem
    row = (await _rows(gateway, bid))["+84912000402"]
    assert row.state in ("retry", "in_progress", "pending") and row.attempts <= 1
    admin, _ = users["admin"]
    servers = (await admin.get("/api/v1/telephony/status")).json()["servers"]
    assert "Permission denied" in servers[0]["problem"]
    asterisk.write = {"originate"}  # fixed in manager.conf
    rows = await settle(gateway, bid, within=60)
    assert rows["+84912000402"].state == "delivered"


async def test_cause_0_with_reason_3_is_no_answer_before_asterisk_20_18_dial_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """Before 20.18 / 22.8 the ring timeout hung the channel up with cause 0 (Unknown);
    the OriginateResponse still says Reason 3 (RINGING)."""
    asterisk.ring_timeout_cause = 0
    users = await seed(gateway)
    asterisk.scripts["0912000501"] = Script("no_answer")
    await subscribe(gateway, ["+84912000501"])
    bid = await release(gateway, users)
    await settle(gateway, bid)
    calls = (await attempts(gateway))["+84912000501"]
    assert [(a.reason, a.cause, a.outcome) for a in calls] == [(3, 0, "no_answer")] * 3


async def test_pjsip_reason_0_with_the_hangup_missed_is_retried_as_unknown_pbx_c_pbx_dial_reason(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """chan_pjsip failures all give Reason 0; the Hangup carries the cause. Without the
    Hangup nothing says busy or congested: the number is retried, never given up at once."""
    asterisk.drop_hangup = True
    users = await seed(gateway)
    asterisk.scripts["0912000502"] = Script("sip404")
    await subscribe(gateway, ["+84912000502"])
    bid = await release(gateway, users)
    await wait_until(lambda: dialled(asterisk, "+84912000502") >= 2, within=60)
    asterisk.drop_hangup = False
    await settle(gateway, bid)
    calls = (await attempts(gateway))["+84912000502"]
    assert (calls[0].reason, calls[0].cause, calls[0].outcome) == (0, None, "unknown")
    assert "không rõ" in calls[0].detail  # and it was dialled again


async def test_no_channel_uniqueid_is_the_channelid_and_frees_the_slot_at_once_manager_c_fast_originate(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """fast_originate prints the assigned ChannelId as Uniqueid even when no channel was
    made; there is no Newchannel and no Hangup to wait for."""
    users = await seed(gateway)
    asterisk.scripts["0912000503"] = Script("chanunavail")
    await subscribe(gateway, ["+84912000503"])
    bid = await release(gateway, users)
    await settle(gateway, bid)
    calls = (await attempts(gateway))["+84912000503"]
    assert all(c.ended_at is not None and c.ended_at - c.started_at < timedelta(seconds=4) for c in calls)
    assert calls[0].reason == 0 and calls[0].cause is None


async def test_originate_response_before_hangup_still_gets_the_cause_manager_c_fast_originate(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """The dial thread sends OriginateResponse; the channel's Hangup may follow it."""
    asterisk.hangup_first = False
    users = await seed(gateway)
    asterisk.scripts["0912000504"] = Script("busy")
    await subscribe(gateway, ["+84912000504"])
    bid = await release(gateway, users)
    await settle(gateway, bid)
    calls = (await attempts(gateway))["+84912000504"]
    assert [(a.cause, a.outcome) for a in calls] == [(17, "busy"), (17, "busy")]


@pytest.mark.parametrize("error", ["writefile", "randomerror"])
async def test_record_file_errors_tell_the_caller_and_the_operator_res_agi_c_handle_recordfile(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, tmp_path: Path, error: str
) -> None:
    """``200 result=-1 (writefile)``: nothing recorded; ``(randomerror)``: cut short."""
    await seed(gateway)
    url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
    script = Script(keys=["2", "#"], say=_speech(tmp_path / "y.wav"), record_error=error)
    log = await asterisk.call_in("0987000666", url, script)
    from gateway.ivr.runner import RECORDING_CUT, RECORDING_LOST

    told = await telephony.prompts.path(RECORDING_LOST if error == "writefile" else RECORDING_CUT)
    assert any(told in p for p in log.played)
    async with gateway.services.sessions() as s:
        audits = (await s.execute(select(AuditLog).where(AuditLog.action == "recording_failed"))).scalars().all()
        cases = (await s.execute(select(Case))).scalars().all()
    assert len(audits) == 1 and audits[0].detail["why"] == error and audits[0].detail["caller"] == "+84987000666"
    assert len(cases) == (1 if error == "randomerror" else 0)  # what was recorded is still filed
