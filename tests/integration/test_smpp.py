"""Loa's SMPP 3.4 transceiver against an independent SMSC (smpp34.Server, Rust core).

Each test names the part of the SMPP v3.4 specification it pins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.sms.codec import Concat, split_udh, wire_parts
from gateway.sms.smpp import pdu
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from gateway.sms.transport import OutPart
from tests.support.sms import Inbox
from tests.support.smsc import Smsc, wait_until

pytestmark = pytest.mark.asyncio

LONG_VI = (
    "Thông báo: lịch cắt điện ngày mai từ 7 giờ đến 11 giờ tại thôn Đông, xã Hòa Bình. "
    "Đề nghị bà con chủ động sắp xếp công việc. Xin cảm ơn."
)


def transport_for(smsc: Smsc, **session: float) -> SmppTransport:
    config = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, **session)  # type: ignore[arg-type]
    return SmppTransport(SmppConfig(config, sender="UBNDXA"))


@pytest_asyncio.fixture
async def linked(smsc: Smsc) -> AsyncIterator[tuple[SmppTransport, Inbox]]:
    transport, inbox = transport_for(smsc), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    await wait_until(lambda: smsc.esmes)
    yield transport, inbox
    await transport.close()


async def send(transport: SmppTransport, to: str, text: str, ref: str, at_least_once: bool = False) -> list[bool]:
    results = await asyncio.gather(
        *(transport.submit(OutPart(to, part, f"{ref}.{part.seq}", at_least_once)) for part in wire_parts(text, 42))
    )
    return [r.accepted for r in results]


async def test_s4_4_submit_sm_carries_the_concatenation_udh_ucs2_and_a_receipt_request_per_part(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    """§5.2.12 esm_class 0x40 (UDHI), §5.2.19 data_coding 0x08, §5.2.17 registered_delivery 1."""
    transport, _ = linked
    assert await send(transport, "+84912345678", LONG_VI, "d1") == [True, True, True]
    seen = sorted(smsc.accepted, key=lambda s: split_udh(s.payload)[0].seq)  # type: ignore[union-attr]
    assert [s.esm_class for s in seen] == [0x40] * 3
    assert {(s.data_coding, s.registered_delivery, s.destination, s.source) for s in seen} == {
        (8, 1, "84912345678", "UBNDXA")
    }
    headers = [split_udh(s.payload)[0] for s in seen]
    assert [(h.total, h.seq, h.reference) for h in headers if h] == [(3, 1, 42), (3, 2, 42), (3, 3, 42)]
    assert "".join(split_udh(s.payload)[1].decode("utf-16-be") for s in seen) == LONG_VI
    assert max(len(s.payload) for s in seen) == 140  # 6-octet UDH + 67 UTF-16 units


async def test_s5_2_19_unaccented_text_goes_as_gsm7_default_alphabet_with_escapes(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    transport, _ = linked
    assert await send(transport, "+84912345678", "Hop dan luc 15h [nha van hoa] {thon 1} 100€", "d2") == [True]
    (seen,) = smsc.accepted
    assert seen.data_coding == 0 and seen.esm_class == 0
    assert b"\x1b\x3c" in seen.payload and b"\x1b\x65" in seen.payload  # '[' and '€' via the escape table


async def test_s2_5_window_never_exceeds_the_configured_outstanding_submits(smsc) -> None:  # type: ignore[no-untyped-def]
    transport, inbox = transport_for(smsc, window=3), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    smsc.hold = True
    sending = asyncio.gather(*(send(transport, f"+8491234{i:04d}", f"Tin {i}", f"d{i}") for i in range(10)))
    await wait_until(lambda: len(smsc.held) >= 3)
    await asyncio.sleep(0.3)  # a client without a window would have sent all ten by now
    assert len(smsc.held) == 3
    smsc.release()
    assert all(ok == [True] for ok in await sending)
    assert len(smsc.accepted) == 10
    await transport.close()


async def test_s5_1_3_throttled_0x58_and_queue_full_0x14_are_resubmitted_never_duplicated(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    transport, _ = linked
    smsc.decide = lambda n: pdu.ESME_RTHROTTLED if n <= 6 else (pdu.ESME_RMSGQFUL if n <= 9 else None)
    results = await asyncio.gather(*(send(transport, f"+8491200{i:04d}", f"Tin so {i}", f"d{i}") for i in range(8)))
    assert all(ok == [True] for ok in results)
    assert smsc.rejected == 9
    assert sorted(s.destination for s in smsc.accepted) == [f"8491200{i:04d}" for i in range(8)]


async def test_s4_4_2_a_permanent_error_status_is_reported_not_retried(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    transport, _ = linked
    smsc.decide = lambda n: pdu.ESME_RINVDSTADR
    (part,) = wire_parts("Tin thu", 1)
    result = await transport.submit(OutPart("+84912345678", part, "d9.1"))
    assert not result.accepted and not result.temporary and "ESME_RINVDSTADR" in result.detail
    assert smsc.rejected == 1


async def test_s2_7_smsc_restart_mid_emergency_campaign_resubmits_what_was_unanswered_and_nothing_confirmed(
    smsc,  # type: ignore[no-untyped-def]
) -> None:
    """At least once (emergencies): submits whose response was lost go again on the new bind."""
    transport, inbox = transport_for(smsc, window=4), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    smsc.hold_after = 10  # what is in flight after ten will never be answered
    campaign = asyncio.gather(
        *(send(transport, f"+849130{i:05d}", f"Bản tin {i}", f"d{i}", at_least_once=True) for i in range(30))
    )
    await wait_until(lambda: len(smsc.held) >= 4)
    confirmed_before = {s.destination for s in smsc.accepted}
    await smsc.stop()
    await asyncio.sleep(0.3)
    second = Smsc(port=smsc.port)
    await second.start()
    try:
        assert all(ok == [True] for ok in await asyncio.wait_for(campaign, 30))
        after = [s.destination for s in second.accepted]
        assert not confirmed_before & set(after)  # nothing confirmed was sent again
        assert sorted(confirmed_before | set(after)) == [f"849130{i:05d}" for i in range(30)]
        assert len(after) == len(set(after))
        assert transport.session.binds == 2
    finally:
        await transport.close()
        await second.stop()


async def test_s2_7_a_submit_whose_response_was_lost_is_reported_unknown_not_resubmitted(smsc) -> None:  # type: ignore[no-untyped-def]
    """At most once (everything but emergencies): a submit written to the link that died
    before its response may have reached the handset, so it comes back ``unknown`` and is
    not sent again; one the SMSC refused (it NAKs what it holds as it stops) or one never
    written goes on the new bind."""
    transport, inbox = transport_for(smsc, window=4), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    smsc.hold_after = 10
    parts = [wire_parts(f"Bản tin {i}", 42)[0] for i in range(30)]
    campaign = asyncio.gather(
        *(transport.submit(OutPart(f"+849130{i:05d}", p, f"d{i}.1")) for i, p in enumerate(parts))
    )
    await wait_until(lambda: len(smsc.held) >= 4)
    before = [s.destination for s in smsc.accepted]
    await smsc.stop()
    await asyncio.sleep(0.3)
    second = Smsc(port=smsc.port)
    await second.start()
    try:
        results = await asyncio.wait_for(campaign, 30)
        unknown = {f"849130{i:05d}" for i, r in enumerate(results) if r.unknown}
        accepted = {f"849130{i:05d}" for i, r in enumerate(results) if r.accepted}
        after = [s.destination for s in second.accepted]
        assert unknown and len(unknown) + len(accepted) == 30
        assert not unknown & set(after)  # never resubmitted
        assert sorted(before + after) == sorted(accepted)  # each accepted part went exactly once
    finally:
        await transport.close()
        await second.stop()


async def test_s4_6_receipts_in_appendix_b_format_reach_the_gateway(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    transport, inbox = linked
    await send(transport, "+84912345678", "Hop dan", "d3")
    message_id = smsc.accepted[0].message_id
    assert await smsc.receipt(str(int(message_id, 16)), "DELIVRD") == 0  # the SMSC reports in decimal
    assert await smsc.receipt(message_id, "UNDELIV") == 0
    await wait_until(lambda: len(inbox.receipts) == 2)
    assert [(r.outcome, r.message_id) for r in inbox.receipts] == [
        ("delivered", str(int(message_id, 16))),
        ("failed", message_id),
    ]


async def test_s4_6_mo_deliver_sm_is_decoded_ucs2_gsm7_and_concatenated(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    _, inbox = linked
    assert await smsc.mo("84912345678", "PA đường ngập".encode("utf-16-be"), data_coding=8) == 0
    assert await smsc.mo("84987654321", b"TIN", data_coding=0) == 0
    first, second = "PA Cầu thôn Đông bị sạt lở, ", "đề nghị xã kiểm tra."
    await smsc.mo("84911111111", bytes((5, 0, 3, 77, 2, 2)) + second.encode("utf-16-be"), 8, esm_class=0x40)
    await smsc.mo("84911111111", bytes((5, 0, 3, 77, 2, 1)) + first.encode("utf-16-be"), 8, esm_class=0x40)
    await wait_until(lambda: len(inbox.mo) == 4)
    assert [(m.sender, m.text, m.concat) for m in inbox.mo] == [  # parts go up numbered, to be stored
        ("84912345678", "PA đường ngập", None),
        ("84987654321", "TIN", None),
        ("84911111111", second, Concat(77, 2, 2)),
        ("84911111111", first, Concat(77, 2, 1)),
    ]


async def test_s4_6_2_deliver_sm_is_refused_while_the_gateway_cannot_store_it(linked, smsc) -> None:  # type: ignore[no-untyped-def]
    """A deliver_sm_resp with an error makes the SMSC keep the message and redeliver it."""
    _, inbox = linked
    inbox.fail = True
    assert await smsc.mo("84912345678", b"PA mat dien") == pdu.ESME_RSYSERR
    inbox.fail = False
    assert await smsc.mo("84912345678", b"PA mat dien") == 0
    assert [m.text for m in inbox.mo] == ["PA mat dien"]


async def test_s4_11_enquire_link_keeps_an_idle_session_bound(smsc) -> None:  # type: ignore[no-untyped-def]
    transport, inbox = transport_for(smsc, enquire_link_s=0.1), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    await wait_until(lambda: smsc.esmes)
    await asyncio.sleep(1.0)  # about ten enquire_link round trips
    assert transport.session.binds == 1 and transport.session.bound.is_set()
    assert await send(transport, "+84912345678", "Con song", "d4") == [True]
    await transport.close()


async def test_s3_2_a_malformed_pdu_from_the_smsc_costs_the_connection_not_the_process() -> None:
    """A peer that answers the bind (§4.1.6 bind_transceiver_resp) and then sends a header
    whose command_length is shorter than the header itself: the stream cannot be trusted,
    so the session drops it and binds again. Bytes are written here by hand: no SMPP
    library sends a broken PDU on purpose."""
    connections: list[asyncio.StreamWriter] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        header = await reader.readexactly(16)
        length, _, _, sequence = pdu.HEADER.unpack(header)
        await reader.readexactly(length - 16)
        writer.write(pdu.encode(pdu.BIND_TRANSCEIVER_RESP, sequence, b"SMSC\0"))
        if len(connections) == 1:
            writer.write(pdu.HEADER.pack(5, pdu.DELIVER_SM, 0, 9) + b"garbage")
        await writer.drain()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = SessionConfig("127.0.0.1", port, "loa", "secret", reconnect_min_s=0.05)
    transport, inbox = SmppTransport(SmppConfig(config)), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    await wait_until(lambda: transport.session.binds >= 2)
    assert "command_length" in transport.session.last_error or transport.session.bound.is_set()
    assert not inbox.mo
    await transport.close()
    server.close()
    for writer in connections:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    await server.wait_closed()
