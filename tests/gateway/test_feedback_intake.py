"""Recordings from residents: spooled, filed once, transcribed through real sherpa-onnx when a
model is installed, waiting for staff when not, never lost when the database or the process
fails; answers go back by SMS. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import soundfile as sf
from sqlalchemy import func, select, text, update

from gateway.app import build_services, start
from gateway.db.models import Case, utcnow
from gateway.feedback.asr import models
from gateway.feedback.intake import Recording
from gateway.sms.codec import gsm7_decode
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.gateway.conftest import Gateway, seed
from tests.support.sherpa_tiny import build, expected_text
from tests.support.smsc import Smsc, wait_until

pytestmark = pytest.mark.asyncio


def wav(seconds: float = 2.0, level: float = 0.3, rate: int = 8000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (level * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def with_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "models"
    models.install(build(tmp_path / "vi-tiny"), root=root)
    monkeypatch.setenv("LOA_MODELS_DIR", str(root))
    return root


async def upload(gw: Gateway, client_csrf: tuple[object, str], data: bytes, name: str = "call.wav", **form: str):  # type: ignore[no-untyped-def]
    client, csrf = client_csrf
    return await client.post(  # type: ignore[attr-defined]
        "/api/v1/cases/recording",
        files={"audio": (name, data, "audio/wav")},
        data={"caller": "0912345678", "area": "T1", **form},
        headers={"X-CSRF-Token": csrf},
    )


async def case_of(gw: Gateway, ticket: str) -> Case:
    async with gw.services.sessions() as s:
        return (await s.execute(select(Case).where(Case.ticket == ticket))).scalar_one()


async def test_a_recording_becomes_a_case_and_is_transcribed_by_the_installed_model(
    gateway: Gateway,
    with_model: Path,
) -> None:
    users = await seed(gateway)
    r = await upload(gateway, users["admin"], wav())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["has_audio"] and body["transcript_status"] == "awaiting" and body["channel"] == "hotline"
    assert await gateway.services.feedback.tick()  # type: ignore[union-attr]
    case = await case_of(gateway, body["ticket"])
    assert (case.transcript_status, case.transcript_raw) == ("done", expected_text())
    assert case.transcript_normalized == expected_text().lower()
    audio = await users["admin"][0].get(f"/api/v1/cases/{body['ticket']}/audio")  # type: ignore[attr-defined]
    assert audio.status_code == 200 and audio.content == wav()
    assert not gateway.services.spool.pending()  # type: ignore[union-attr]


async def test_without_a_model_recordings_wait_for_staff_who_transcribe_while_listening(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOA_MODELS_DIR", str(tmp_path / "empty"))
    users = await seed(gateway)
    ticket = (await upload(gateway, users["admin"], wav())).json()["ticket"]
    assert not await gateway.services.feedback.tick()  # type: ignore[union-attr]
    assert (await case_of(gateway, ticket)).transcript_status == "awaiting"
    client, csrf = users["duyet"]
    r = await client.put(  # type: ignore[attr-defined]
        f"/api/v1/cases/{ticket}/transcript", json={"text": "Đèn đường thôn Một hỏng"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["transcript_status"] == "done"


async def test_silent_and_corrupt_recordings_are_filed_with_the_reason(gateway: Gateway, with_model: Path) -> None:
    users = await seed(gateway)
    silent = (await upload(gateway, users["admin"], wav(level=0.00001))).json()["ticket"]
    corrupt = (await upload(gateway, users["admin"], b"RIFF....WAVEnot really")).json()["ticket"]
    empty = await upload(gateway, users["admin"], b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "audio"
    odd = await upload(gateway, users["admin"], wav(), name="call.exe")
    assert odd.status_code == 422 and "định dạng" in odd.json()["errors"][0]["message"]
    await gateway.services.feedback.tick()  # type: ignore[union-attr]
    for ticket, words in ((silent, "im lặng"), (corrupt, "hỏng")):
        case = await case_of(gateway, ticket)
        assert case.transcript_status == "failed" and words in case.transcript_error
        assert case.status == "new" and case.audio_sha256  # the case and its audio stay


async def test_a_spooled_recording_survives_a_restart_and_is_filed_exactly_once(gateway: Gateway) -> None:
    await seed(gateway)
    spool = gateway.services.spool
    assert spool is not None
    ref = spool.accept(wav(), "wav", Recording("hotline", "0912000111", "T2", "phím 2"))
    # The process dies here. A new one starts on the same data directory and database.
    settings = gateway.services.settings
    again = build_services(settings)
    await start(again)
    assert again.spool is not None and again.spool.pending() == [ref]
    assert again.feedback is not None and await again.feedback.tick()
    # ... and dies after the commit, before the spool was cleaned: the files are back.
    (again.spool.root / f"{ref}.wav").write_bytes(wav())
    (again.spool.root / f"{ref}.json").write_text(
        '{"channel": "hotline", "caller": "0912000111", "area_code": "T2", "text": "phím 2", "ext": "wav"}',
        encoding="utf-8",
    )
    await again.feedback.tick()
    async with again.sessions() as s:
        cases = (await s.execute(select(Case).where(Case.intake_ref == ref))).scalars().all()
    assert len(cases) == 1 and cases[0].caller == "+84912000111" and cases[0].text == "phím 2"
    assert not again.spool.pending()
    await again.engine.dispose()


async def test_when_the_database_refuses_a_recording_it_waits_in_the_spool(gateway: Gateway) -> None:
    users = await seed(gateway)
    async with gateway.services.sessions() as s:
        await s.execute(text("ALTER TABLE cases RENAME TO cases_away"))
        await s.commit()
    r = await upload(gateway, users["admin"], wav(), area="")
    assert r.status_code == 202 and "đã nhận" in r.json()["message"]
    spool = gateway.services.spool
    assert spool is not None and spool.pending() == [r.json()["accepted"]]
    async with gateway.services.sessions() as s:
        await s.execute(text("ALTER TABLE cases_away RENAME TO cases"))
        await s.commit()
    await gateway.services.feedback.tick()  # type: ignore[union-attr]
    async with gateway.services.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == 1
    assert not spool.pending()


async def test_a_transcription_left_running_by_a_dead_worker_is_taken_again(
    gateway: Gateway,
    with_model: Path,
) -> None:
    users = await seed(gateway)
    ticket = (await upload(gateway, users["admin"], wav())).json()["ticket"]
    async with gateway.services.sessions() as s:
        await s.execute(
            update(Case)
            .where(Case.ticket == ticket)
            .values(transcript_status="running", transcript_started_at=utcnow() - timedelta(hours=1))
        )
        await s.commit()
    await gateway.services.feedback.tick()  # type: ignore[union-attr]
    assert (await case_of(gateway, ticket)).transcript_status == "done"


@pytest_asyncio.fixture
async def sms(gateway: Gateway, smsc: Smsc) -> AsyncIterator[SmsService]:
    config = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1)
    service = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(config, sender="UBNDXA")))
    await service.start()
    await wait_until(lambda: smsc.esmes)
    gateway.services.sms = service
    yield service
    await service.close()


async def test_an_officer_answers_by_sms_and_the_case_is_answered(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    client, csrf = users["duyet"]
    h = {"X-CSRF-Token": csrf}
    filed = await client.post("/api/v1/cases", json={"text": "Đèn đường hỏng", "caller": "0912345678"}, headers=h)
    ticket = filed.json()["ticket"]
    answer = "Xã đã cử người sửa đèn đường thôn Một trong tuần này."
    r = await client.post(f"/api/v1/cases/{ticket}/reply", json={"text": answer, "version": 1}, headers=h)
    assert r.status_code == 200, r.text
    # 86 characters: two UCS-2 parts with accents, one GSM-7 part without: the reply goes unaccented
    assert r.json()["status"] == "answered" and r.json()["answer"] == answer and r.json()["reply_parts"] == 1
    assert r.json()["assignee"] == "duyet"  # a new case is taken on by the officer who answers it
    await wait_until(lambda: len(smsc.accepted) == 1)
    (sent,) = smsc.accepted
    assert sent.destination == "84912345678" and sent.data_coding == 0
    assert (
        gsm7_decode(sent.payload)
        == f"Loa tra loi phan anh {ticket}: Xa da cu nguoi sua den duong thon Mot trong tuan nay."
    )
    stale = await client.post(f"/api/v1/cases/{ticket}/reply", json={"text": "lần hai", "version": 1}, headers=h)
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "version"
    anonymous = (await client.post("/api/v1/cases", json={"text": "Không để lại số"}, headers=h)).json()["ticket"]
    r = await client.post(f"/api/v1/cases/{anonymous}/reply", json={"text": "Đã xử lý"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "caller"


async def test_without_an_sms_channel_the_reply_names_what_is_missing(gateway: Gateway) -> None:
    users = await seed(gateway)
    client, csrf = users["duyet"]
    h = {"X-CSRF-Token": csrf}
    ticket = (await client.post("/api/v1/cases", json={"text": "Rác", "caller": "0912345678"}, headers=h)).json()[
        "ticket"
    ]
    r = await client.post(f"/api/v1/cases/{ticket}/reply", json={"text": "Đã dọn"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "via"
