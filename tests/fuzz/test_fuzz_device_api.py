"""The loudspeaker clusters' pull API (/api/device/v1): the JSON of play reports and
heartbeats, and the staff's device registration, through the models at the HTTP edge
and the checks behind them."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.api.schemas import DeviceIn, HeartbeatIn, PlayReportsIn
from gateway.bulletins.errors import WorkflowError
from gateway.loudspeakers import proof, registry
from tests.fuzz.harness import TEST, survive, text

TIMES = st.sampled_from(
    ["2026-11-23T06:00:00+07:00", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2026-11-23"]
) | text(max_size=30)
VALUE = st.none() | st.booleans() | st.integers() | st.floats() | text(max_size=20) | TIMES
REPORT = st.fixed_dictionaries(
    {
        "item": st.sampled_from(["12:3", "1:1"]) | text(max_size=10),
        "event": st.sampled_from(["started", "finished", "failed"]) | text(max_size=8),
        "at": TIMES,
    },
    optional={"seq": VALUE, "detail": VALUE, "extra": VALUE},
)
HEARTBEAT = st.fixed_dictionaries(
    {"clock": TIMES}, optional={"signal": VALUE, "battery": VALUE, "playing": VALUE, "agent_version": VALUE}
)
DEVICE = st.fixed_dictionaries(
    {
        "code": text(max_size=12),
        "name": text(max_size=12),
        "area": text(max_size=8),
        "kind": st.sampled_from(["pull", "rtp", "stream"]) | text(max_size=6),
    },
    optional={"volume": VALUE, "windows": text(max_size=30), "rtp_address": text(max_size=30), "codec": VALUE},
)


def _encode(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _reports(body: bytes) -> None:
    data = PlayReportsIn.model_validate_json(body)
    for report in data.reports:
        proof.parse_item(report.item)
        proof.report_time(report.at)


def _heartbeat(body: bytes) -> None:
    proof.skew(HeartbeatIn.model_validate_json(body).clock)


def _device(body: bytes) -> None:
    registry.check(registry.DeviceIn(**DeviceIn.model_validate_json(body).model_dump()))


ERRORS = (ValidationError, WorkflowError)


@TEST
@given(st.lists(REPORT, max_size=3).map(lambda r: _encode({"reports": r})) | st.binary(max_size=200))
@example(_encode({"reports": [{"item": "²:1", "event": "finished", "at": "2026-11-23T06:00:00+07:00"}]})).via(
    "found by fuzzing: int('²') after str.isdigit()"
)
@example(_encode({"reports": [{"item": "1:1", "event": "finished", "at": "0001-01-01T00:00:00+23:59"}]})).via(
    "found by fuzzing: OverflowError converting a time at the edge of the calendar to UTC"
)
def test_device_play_reports_json(body: bytes) -> None:
    survive(_reports, body, allowed=ERRORS)


@TEST
@given(HEARTBEAT.map(_encode) | st.binary(max_size=200))
@example(_encode({"clock": "9999-12-31T23:59:59-23:59"})).via("the edge of the calendar")
@example(_encode({"clock": "0001-01-01T00:00:00+23:59"})).via("the other edge")
def test_device_heartbeat_json(body: bytes) -> None:
    survive(_heartbeat, body, allowed=ERRORS)


@TEST
@given(DEVICE.map(_encode) | st.binary(max_size=200))
@example(_encode({"code": "a", "name": "a", "area": "a", "kind": "rtp", "rtp_address": "h:²"})).via(
    "found by fuzzing: int('²') after str.isdigit() in the RTP port"
)
def test_device_registration_json(body: bytes) -> None:
    survive(_device, body, allowed=ERRORS)
