"""SMPP 3.4 PDUs from the SMSC: the header (§3.2), deliver_sm with its TLVs (§4.6.1, §5.3),
submit_sm_resp (§4.4.2), and what the transport reads out of a deliver_sm (UDH, data
coding, Appendix B receipts)."""

from __future__ import annotations

import struct

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.sms import codec, receipts
from gateway.sms.smpp import pdu
from gateway.sms.smpp.transport import _sar
from tests.fuzz.harness import TEST, survive, text

CSTRING = st.binary(max_size=30).map(lambda b: b.replace(b"\0", b"") + b"\0")
TLV_TAGS = st.sampled_from(
    [
        pdu.TLV_RECEIPTED_MESSAGE_ID,
        pdu.TLV_MESSAGE_STATE,
        pdu.TLV_MESSAGE_PAYLOAD,
        pdu.TLV_SAR_MSG_REF_NUM,
        pdu.TLV_SAR_TOTAL_SEGMENTS,
        pdu.TLV_SAR_SEGMENT_SEQNUM,
    ]
) | st.integers(0, 0xFFFF)
TLV = st.builds(
    lambda tag, value, lie: struct.pack(">HH", tag, (len(value) + lie) % 0x10000) + value,
    TLV_TAGS,
    st.binary(max_size=20),
    st.sampled_from([0, 0, 0, 1, -1, 300]),
)
RECEIPT_TEXT = st.builds(
    lambda mid, stat, err: f"id:{mid} sub:001 dlvrd:001 submit date:2611230600 stat:{stat} err:{err}",
    text(max_size=12),
    st.sampled_from(["DELIVRD", "UNDELIV", "ENROUTE", "x"]) | text(max_size=8),
    text(max_size=4),
).map(lambda t: t.encode("latin-1", "replace"))


@st.composite
def deliver_sm_body(draw: st.DrawFn) -> bytes:
    text = draw(RECEIPT_TEXT | st.binary(max_size=160))
    length = draw(st.sampled_from([len(text), len(text), len(text) + 3, max(0, len(text) - 1), 255])) % 256
    body = (
        draw(CSTRING)
        + draw(st.binary(min_size=2, max_size=2))
        + draw(CSTRING)
        + draw(st.binary(min_size=2, max_size=2))
        + draw(CSTRING)
        + bytes((draw(st.sampled_from([0, pdu.ESM_RECEIPT, pdu.ESM_UDHI, 0xFF])), 0, 0))
        + draw(CSTRING)
        + draw(CSTRING)
        + bytes((1, 0, draw(st.sampled_from([0, 1, 3, 8, 0xFF])), 0, length))
        + text
        + b"".join(draw(st.lists(TLV, max_size=4)))
    )
    cut = draw(st.one_of(st.none(), st.integers(0, len(body))))
    return body if cut is None else body[:cut]


def _read_deliver_sm(body: bytes) -> None:
    """As SmppSession._on_request and SmppTransport._on_deliver read it."""
    message = pdu.parse_short_message(body)
    data = message.short_message or message.tlvs.get(pdu.TLV_MESSAGE_PAYLOAD, b"")
    if message.esm_class & pdu.ESM_UDHI:
        _concat, data = codec.split_udh(data)
    text = codec.decode(data, message.data_coding)
    receipt = receipts.parse(text, message.tlvs)
    if receipt is not None:
        receipt.outcome  # noqa: B018
        receipts.id_candidates(receipt.message_id)
    if pdu.TLV_SAR_MSG_REF_NUM in message.tlvs:
        _sar(message.tlvs)


@TEST
@given(st.binary(min_size=16, max_size=16))
def test_smpp_header_section_3_2(header: bytes) -> None:
    survive(pdu.parse_header, header, allowed=(pdu.PduError,))


@TEST
@given(deliver_sm_body() | st.binary(max_size=400))
def test_smpp_deliver_sm_and_tlvs_section_4_6_1_and_5_3(body: bytes) -> None:
    survive(_read_deliver_sm, body, allowed=(pdu.PduError,))


@TEST
@given(CSTRING | st.binary(max_size=80))
def test_smpp_submit_sm_resp_message_id_section_4_4_2(body: bytes) -> None:
    survive(pdu.parse_message_id, body, allowed=(pdu.PduError,))


@TEST
@given(text(max_size=40))
@example("²").via("found by fuzzing: str.isdigit() accepts '²', int() refuses it")
@example("9" * 5000).via("int() refuses more than 4300 digits")
def test_smpp_receipt_id_spellings_appendix_b(message_id: str) -> None:
    survive(receipts.id_candidates, message_id, allowed=())
