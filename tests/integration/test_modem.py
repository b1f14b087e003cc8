"""The GSM modem transport through real python-gammu on Gammu's dummy driver: the
driver keeps the phone's SMS folders as Gammu backup files in a directory, so messages a
resident "sent" are written there with Gammu's own encoder, exactly as a modem stores
them, and Loa reads, joins, files and deletes them through the real library."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.sms.codec import wire_parts
from gateway.sms.modem import ModemConfig, ModemTransport, status_outcome
from gateway.sms.transport import OutPart
from tests.support.sms import Inbox

gammu = pytest.importorskip("gammu")
pytestmark = pytest.mark.asyncio


def resident_sends(device: Path, number: str, text: str, first_slot: int = 1) -> int:
    """Store an incoming message in the dummy phone's inbox, split by Gammu itself."""
    entries = [{"ID": "ConcatenatedTextLong", "Buffer": text}]
    encoded = gammu.EncodeSMS({"Class": -1, "Unicode": True, "Entries": entries})
    for i, message in enumerate(encoded):
        message.update(Number=number, State="UnRead", DateTime=dt.datetime.now(), SMSC={"Number": "+84900000000"})
        gammu.SaveSMSBackup(str(device / "sms" / "1" / str(first_slot + i)), [message])
    return len(encoded)


@pytest_asyncio.fixture
async def modem(tmp_path: Path) -> AsyncIterator[tuple[ModemTransport, Inbox, Path]]:
    device = tmp_path / "phone"
    device.mkdir()
    transport, inbox = ModemTransport(ModemConfig(str(device), "none", "dummy", poll_seconds=3600, tps=0)), Inbox()
    await transport.start(inbox.on_mo, inbox.on_receipt)
    yield transport, inbox, device
    await transport.close()


async def test_a_long_vietnamese_message_is_joined_filed_and_then_deleted(modem) -> None:  # type: ignore[no-untyped-def]
    transport, inbox, device = modem
    text = "PA Đường liên thôn Đông bị ngập sâu sau mưa, xe máy không đi được, đề nghị xã khơi thông cống."
    assert resident_sends(device, "+84912345678", text) == 2
    await transport.poll()
    assert [(m.sender, m.text, m.transport) for m in inbox.mo] == [("+84912345678", text, "modem")]
    assert not list((device / "sms" / "1").iterdir())  # stored by Loa, so gone from the SIM


async def test_a_message_stays_on_the_sim_until_the_gateway_stored_it(modem) -> None:  # type: ignore[no-untyped-def]
    transport, inbox, device = modem
    resident_sends(device, "+84987654321", "TIN")
    inbox.fail = True
    with pytest.raises(RuntimeError):
        await transport.poll()
    assert len(list((device / "sms" / "1").iterdir())) == 1
    inbox.fail = False
    await transport.poll()
    await transport.poll()
    assert [m.text for m in inbox.mo] == ["TIN"]


async def test_parts_go_out_through_gammu_with_our_udh_and_status_reports_settle_them(modem) -> None:  # type: ignore[no-untyped-def]
    transport, inbox, device = modem
    parts = wire_parts("Thông báo: lịch tiêm chủng mở rộng ngày 25/11 tại trạm y tế xã, từ 7 giờ 30 đến 11 giờ.", 9)
    results = [await transport.submit(OutPart("+84912345678", p, f"d1.{p.seq}")) for p in parts]
    assert [r.accepted for r in results] == [True, True]
    assert all(r.message_id.isdigit() for r in results)  # TP-Message-Reference
    report = {
        "Type": "Status_Report",
        "Number": "+84912345678",
        "MessageReference": int(results[0].message_id),
        "DeliveryStatus": 0x00,
        "DateTime": dt.datetime.now(),
        "SMSCDateTime": dt.datetime.now(),
        "Text": "",
        "SMSC": {"Number": "+84900000000"},
        "State": "UnRead",
    }
    gammu.SaveSMSBackup(str(device / "sms" / "1" / "1"), [report])
    await transport.poll()
    assert [(r.outcome, r.message_id) for r in inbox.receipts] == [("delivered", results[0].message_id)]
    assert not inbox.mo


async def test_tp_status_classes_of_3gpp_23_040_9_2_3_15() -> None:
    assert [status_outcome(s) for s in (0x00, 0x02, 0x20, 0x30, 0x40, 0x45, 0x60)] == [
        "delivered",
        "delivered",
        "pending",
        "pending",
        "failed",
        "failed",
        "failed",
    ]
