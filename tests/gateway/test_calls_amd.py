"""Answering-machine detection and what counts as delivered (issue 19): AMD() in the
shipped dialplan sets AMDSTATUS and AMDCAUSE (app_amd.c: MACHINE, HUMAN, NOTSURE, HANGUP);
Loa leaves a machine a short message and counts the attempt as ``voicemail``; a call is
``delivered`` only when a person heard the bulletin to its end or pressed the key."""

from __future__ import annotations

# ruff: noqa: F811 (the fixtures of test_telephony, imported, are the tests' arguments)
import dataclasses

import pytest

from gateway.ivr.flows import FlowError, parse
from gateway.telephony.setup import Telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_telephony import (  # noqa: F401 (fixtures)
    asterisk,
    attempts,
    dialled,
    release,
    settle,
    subscribe,
    telephony,
)
from tests.support.asterisk import Asterisk, Script

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]


async def _one_call(gateway: Gateway, asterisk: Asterisk, number: str, script: Script):  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    asterisk.scripts["0" + number[3:]] = script
    await subscribe(gateway, [number])
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    return users, bid, rows[number], (await attempts(gateway))[number]


async def test_an_answering_machine_gets_the_short_message_and_counts_as_voicemail_app_amd_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    users, bid, row, calls = await _one_call(gateway, asterisk, "+84912000701", Script(amd="MACHINE"))
    log = asterisk.calls[calls[0].call_id]
    assert ("AMD", "") in log.execs and log.variables["AMDCAUSE"].startswith("LONGGREETING")
    short = await telephony.prompts.path(telephony.flows["outbound"].nodes["detect"].text)
    assert [p.rsplit(".", 1)[0] for p in log.played] == [short]  # no bulletin for a machine
    # tried again later (a person may answer), up to the daily cap of answered calls (2)
    assert [c.outcome for c in calls] == ["voicemail"] * 2 and row.state == "failed"
    assert all("hộp thư thoại" in c.detail for c in calls)
    admin, _ = users["admin"]
    listed = (await admin.get(f"/api/v1/bulletins/{bid}/calls")).json()["calls"]
    assert {(c["outcome"], c["amd"]) for c in listed} == {("voicemail", "MACHINE")}
    exported = await admin.get(f"/api/v1/bulletins/{bid}/calls.csv")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("call_id,number,server,outcome,amd") and len(lines) == 3
    assert all(",voicemail,MACHINE," in line for line in lines[1:])


@pytest.mark.parametrize("status", ["HUMAN", "NOTSURE"])
async def test_a_person_or_an_unsure_detection_hears_the_bulletin_app_amd_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, status: str
) -> None:
    _, _, row, calls = await _one_call(gateway, asterisk, "+84912000702", Script(amd=status))
    assert row.state == "delivered" and "nghe hết" in row.detail
    assert calls[0].amd_status == status and calls[0].bulletin_complete


async def test_amd_hangup_ends_the_dialplan_before_the_ivr_app_amd_c(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    _, _, row, calls = await _one_call(gateway, asterisk, "+84912000703", Script(amd="HANGUP"))
    assert row.state == "failed" and calls[0].outcome == "hung_up" and calls[0].connected_at is None
    assert telephony.ivr.calls == 0


async def test_hanging_up_mid_bulletin_is_not_delivered(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    """ANSWER, GET VARIABLE AMDSTATUS, the intro, then the bulletin (command 3) is cut."""
    _, _, row, calls = await _one_call(gateway, asterisk, "+84912000704", Script(hangup_at=3))
    assert [c.outcome for c in calls] == ["partial"] * 2 and all(c.heard_seconds > 0 for c in calls)
    assert row.state == "failed" and all("chưa nghe hết" in c.detail for c in calls)


async def test_pressing_the_heard_key_during_the_bulletin_confirms_it(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    flow = telephony.flows["outbound"]  # the flow as an operator configures it: heard_key 5
    nodes = dict(flow.nodes, bulletin=dataclasses.replace(flow.nodes["bulletin"], heard_key="5", heard_when="key"))
    telephony.flows["outbound"] = dataclasses.replace(flow, nodes=nodes)
    _, _, row, calls = await _one_call(gateway, asterisk, "+84912000705", Script(keys=["5"]))
    assert row.state == "delivered" and "xác nhận" in row.detail
    assert calls[0].confirmed and dialled(asterisk, "+84912000705") == 1


async def test_heard_when_key_only_counts_the_key(gateway: Gateway, telephony: Telephony) -> None:
    raw = {
        "flow": "x",
        "start": "b",
        "nodes": {
            "b": {"kind": "play", "bulletin": "current", "heard_key": "5", "heard_when": "sometimes", "next": "h"},
            "h": {"kind": "hangup"},
        },
    }
    with pytest.raises(FlowError) as problem:
        parse(raw, "x.yaml: ")
    assert "heard_when" in str(problem.value)
