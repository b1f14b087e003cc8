"""AMI (Asterisk Manager Interface) frames: the banner, ``Key: Value`` lines, messages
ended by a blank line, cut anywhere by TCP (UTF-8 included); then the headers a call's
outcome is read from (OriginateResponse Reason, Hangup Cause)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.telephony.ami import MAX_MESSAGE, AmiEvent, _flatten, _Protocol, header_int
from gateway.telephony.trunks import hangup_info
from tests.fuzz.harness import TEST, survive, text

KEYS = st.sampled_from(["Event", "Response", "ActionID", "Uniqueid", "Cause", "Cause-txt", "Reason", "Message"])
LINE = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", KEYS | text(max_size=12), text(max_size=30)),
    text(max_size=40),
)
MESSAGE = st.lists(LINE, max_size=8).map(lambda lines: "\r\n".join(lines) + "\r\n\r\n")
STREAM = st.builds(
    lambda banner, messages: (banner + "".join(messages)).encode("utf-8", "surrogatepass"),
    st.sampled_from(["Asterisk Call Manager/6.0.0\r\n", "", "garbage\r\n"]),
    st.lists(MESSAGE, max_size=6),
) | st.binary(max_size=600)


class _Collecting(_Protocol):
    """The gateway's own protocol class, with what it hands on kept for comparison."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.got: list[dict[str, str]] = []

    def handle_message(self, message: Any) -> None:
        self.got.append(_flatten(message))


def _parse(stream: bytes, cuts: list[int]) -> list[dict[str, str]]:
    protocol = _Collecting()
    protocol.connection_made(None)
    edges = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for start, end in pairwise(edges):
        protocol.data_received(stream[start:end])
    return protocol.got


def _read_frames(stream: bytes, cuts: list[int]) -> None:
    whole = _parse(stream, [])
    assert _parse(stream, cuts) == whole, "the same bytes cut differently by TCP must read the same"
    for headers in whole:
        event = AmiEvent(headers.get("event", ""), headers)
        hangup_info(event)
        header_int(event.get("reason"))


@TEST
@given(STREAM, st.lists(st.integers(0, 10_000), max_size=8))
def test_ami_frames_cut_anywhere(stream: bytes, cuts: list[int]) -> None:
    survive(_read_frames, stream, cuts, allowed=())


@TEST
@given(text(max_size=30) | st.integers(-(10**6), 10**6).map(str) | st.just("9" * 5000))
@example("²").via("str.isdigit() accepts '²', int() refuses it")
def test_ami_numeric_headers_reason_and_cause(value: str) -> None:
    survive(hangup_info, AmiEvent("Hangup", {"cause": value, "uniqueid": "x"}), allowed=())
    survive(header_int, value, allowed=())


def test_ami_a_message_that_never_ends_is_dropped_not_kept() -> None:
    """2.6 MB without a blank line (or without the banner's line end) must not grow the
    buffer without bound, nor cost a rescan of everything at each read; the next message counts."""
    for opening in (b"Asterisk Call Manager/6.0.0\r\nEvent: x", b"no banner line end "):
        protocol = _Collecting()
        protocol.connection_made(None)
        protocol.data_received(opening)
        for _ in range(40):
            protocol.data_received(b"y" * 65536)
            assert len(protocol.pending_text) <= MAX_MESSAGE
        protocol.data_received(b"\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n")
        assert protocol.got[-1]["event"] == "Hangup"
