"""SMS wire formats: GSM 03.38 unpacked, UCS-2, the concatenation UDH (3GPP TS 23.040
§9.2.3.24), SMPP 3.4 PDUs (malformed input included) and Appendix B receipts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sms import codec, receipts
from gateway.sms.encoding import GSM7_BASIC, GSM7_EXTENSION, plan
from gateway.sms.smpp import pdu

GSM_TEXT = st.text(alphabet=[c for c in GSM7_BASIC + GSM7_EXTENSION if c != "\x1b"], max_size=400)


@given(GSM_TEXT)
def test_gsm7_round_trips_and_costs_what_the_plan_counts(text: str) -> None:
    encoded = codec.gsm7_encode(text)
    assert codec.gsm7_decode(encoded) == text
    assert len(encoded) == plan(text).units


@given(st.text(max_size=600))
def test_wire_parts_fit_140_octets_and_rebuild_the_nfc_text(text: str) -> None:
    parts = codec.wire_parts(text, 200)
    assert len(parts) == plan(text).count
    assert all(len(p.payload) <= 140 for p in parts)
    rebuilt = "".join(codec.decode(codec.split_udh(p.payload)[1] if p.udh else p.payload, p.data_coding) for p in parts)
    assert rebuilt == plan(text).text


def test_s9_2_3_24_1_concatenation_header_is_six_octets_with_an_8_bit_reference() -> None:
    parts = codec.wire_parts("Đ" * 140, 0x1AB)
    assert [p.udh for p in parts] == [bytes((5, 0, 3, 0xAB, 3, i)) for i in (1, 2, 3)]
    assert codec.split_udh(bytes((6, 8, 4, 0x12, 0x34, 2, 1)) + b"x") == (codec.Concat(0x1234, 2, 1), b"x")


def test_the_extension_table_is_never_split_across_parts() -> None:
    parts = codec.wire_parts("a" * 152 + "€" + "b" * 10, 1)
    assert [len(codec.gsm7_encode(p.text)) for p in parts] == [152, 12]


def test_s4_4_1_submit_sm_fields_in_order_and_limits() -> None:
    message = pdu.ShortMessage("UBNDXA", "84912345678", b"hi", data_coding=8, registered_delivery=1)
    body = pdu.submit_sm(message)
    assert body.startswith(b"\0" + bytes((0, 0)) + b"UBNDXA\0" + bytes((1, 1)) + b"84912345678\0")
    assert body.endswith(bytes((1, 0, 8, 0, 2)) + b"hi")
    with pytest.raises(ValueError, match="254"):
        pdu.submit_sm(pdu.ShortMessage("A", "B", b"x" * 255))
    with pytest.raises(ValueError, match="system_id"):
        pdu.bind_transceiver("a" * 16, "pw")


def test_s4_6_1_deliver_sm_parses_with_tlvs_and_malformed_bodies_raise_pdu_error() -> None:
    good = pdu.submit_sm(pdu.ShortMessage("84912345678", "8088", b"TIN", tlvs={0x001E: b"abc\0"}))
    parsed = pdu.parse_short_message(good)
    assert (parsed.source_addr, parsed.short_message, parsed.tlvs) == ("84912345678", b"TIN", {0x001E: b"abc\0"})
    for broken in (b"", good[:10], good[:-2], b"\x01" * 80, good + b"\x00"):
        with pytest.raises(pdu.PduError):
            pdu.parse_short_message(broken)
    with pytest.raises(pdu.PduError):
        pdu.parse_header(pdu.HEADER.pack(8, 4, 0, 1))  # shorter than its own header


def test_appendix_b_receipts_and_the_tlvs_that_override_them() -> None:
    text = "id:0A1B2C sub:001 dlvrd:001 submit date:2611231200 done date:2611231201 stat:DELIVRD err:000 text:Thong"
    parsed = receipts.parse(text)
    assert parsed is not None and (parsed.message_id, parsed.outcome) == ("0A1B2C", "delivered")
    lower = receipts.parse("ID:77 Stat:undeliv Err:001")
    assert lower is not None and lower.outcome == "failed"
    assert receipts.parse("id:5 stat:ENROUTE") is not None and receipts.parse("id:5 stat:ENROUTE").outcome == "pending"  # type: ignore[union-attr]
    tlv = receipts.parse("", {0x001E: b"ff01\0", 0x0427: bytes((5,))})
    assert tlv is not None and (tlv.message_id, tlv.stat) == ("ff01", "UNDELIV")
    assert receipts.parse("Xin chào bà con") is None


def test_receipt_ids_match_in_either_base_and_case() -> None:
    assert receipts.normalize_id("000A1B") == "a1b"
    assert "a1b" in receipts.id_candidates("2587")  # decimal receipt for hex id 0xa1b
    assert "2587" in receipts.id_candidates("A1B")
    assert receipts.id_candidates("msg-1") == ["msg-1"]
