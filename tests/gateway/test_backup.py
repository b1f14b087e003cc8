"""``loa backup`` / ``loa restore``: a backup taken while an SMS campaign runs against an
independent SMSC (smpp34.Server), restored into another data directory and started: every
bulletin, case, recording, pronunciation and the secret key are back, and the campaign goes
on without sending again what the SMSC had confirmed. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from gateway.app import Services, build_services, create_app, secret_key, start
from gateway.backup import MANIFEST, BackupError, backup, restore
from gateway.cli import main
from gateway.config import Settings
from gateway.db.models import Bulletin, Case, Delivery, utcnow
from gateway.feedback.intake import Recording
from gateway.sms.adapter import SmsChannel
from gateway.sms.service import SmsService
from gateway.sms.smpp import pdu
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.gateway.conftest import Gateway, seed
from tests.gateway.conftest import sms as sms
from tests.gateway.test_feedback_intake import wav
from tests.gateway.test_sms_service import release, rows, subscribe, text_of
from tests.support.postgres import PostgresServer
from tests.support.smsc import Smsc, wait_until

__all__ = ["sms"]  # the fixture, shared with the SMS service tests

CAMPAIGN = "Hop dan luc 15h tai nha van hoa thon Mot"
NUMBERS = ("84912000001", "84912000002", "84912000003", "84912000004")


async def snapshot(services: Services) -> dict[str, object]:
    async with services.sessions() as s:
        return {
            "bulletins": sorted((await s.execute(select(Bulletin.id, Bulletin.title))).all()),
            "cases": sorted((await s.execute(select(Case.ticket, Case.text, Case.audio_sha256))).all()),
        }


async def start_restored(settings: Settings, smsc: Smsc) -> tuple[Gateway, SmsService]:
    services = build_services(settings)
    await start(services)
    session = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, max_submit_tries=2)
    service = SmsService(services.sessions, SmppTransport(SmppConfig(session, sender="UBNDXA")))
    await service.start()
    services.channels["sms"] = SmsChannel(service, daily_cap=1)
    services.dispatcher.settings = dataclasses.replace(services.dispatcher.settings, quiet_hours={})
    return Gateway(services, create_app(services, run_worker=False), ""), service


@pytest.mark.asyncio
async def test_a_backup_taken_during_a_campaign_restores_everything_and_repeats_no_confirmed_sms(  # type: ignore[no-untyped-def]
    gateway: Gateway, sms, smsc: Smsc, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    r = await editor.put("/api/v1/pronunciations", json={"written": "UBND", "spoken": "ủy ban nhân dân"}, headers=h)
    assert r.status_code == 200, r.text
    audio = wav(1.0)
    r = await editor.post(
        "/api/v1/cases/recording",
        files={"audio": ("call.wav", audio, "audio/wav")},
        data={"caller": "0912000009", "area": "T1"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert gateway.services.spool is not None
    waiting = gateway.services.spool.accept(wav(1.5), "wav", Recording("hotline", "+84912000008", None, "chưa vào sổ"))
    await subscribe(smsc, *NUMBERS)

    # The campaign: the SMSC takes two messages and throttles the others, which wait for a retry.
    base = len(smsc.accepted)
    smsc.decide = lambda n: pdu.ESME_RTHROTTLED if n > base + 2 else None
    bid = await release(gateway, users, CAMPAIGN, "emergency")
    sent = [s for s in smsc.accepted if text_of(s) == CAMPAIGN]
    assert len(sent) == 2
    for seen in sent:
        assert await smsc.receipt(seen.message_id, "DELIVRD", seen.destination) == 0
    states = {t: r.state for t, r in (await rows(gateway, bid)).items()}
    assert sorted(states.values()) == ["delivered", "delivered", "retry", "retry"], states
    confirmed = {t.lstrip("+") for t, state in states.items() if state == "delivered"}
    before = await snapshot(gateway.services)

    # Backed up while the gateway runs: its SMPP link is up and the last writes are in the WAL.
    manifest = await asyncio.to_thread(backup, gateway.services.settings, tmp_path / "backup")
    assert manifest["database"]["kind"] == ("postgresql" if gateway.services.settings.database_url else "sqlite")
    assert {"secret_key", "pronunciations.tsv", f"spool/recordings/{waiting}.json"} <= set(manifest["files"])

    # The disk dies; another machine restores the backup into its own empty data directory.
    url = ""
    if gateway.services.settings.database_url:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(server.create_database())
    settings = Settings(data_dir=tmp_path / "elsewhere", database_url=url, lease_seconds=30)
    await asyncio.to_thread(restore, settings, tmp_path / "backup")
    smsc.decide = lambda n: None
    restored, service = await start_restored(settings, smsc)
    try:
        assert await snapshot(restored.services) == before
        assert secret_key(settings) == gateway.services.secret_key
        assert restored.services.renderer.pronunciations.load() == {"UBND": "ủy ban nhân dân"}
        client, _ = await restored.login("bientap", "mat-khau-dai-1")
        got = await client.get(f"/api/v1/cases/{ticket}/audio")
        assert got.status_code == 200 and got.content == audio  # served from the new data directory
        assert restored.services.spool is not None and restored.services.spool.pending() == [waiting]
        assert await restored.services.spool.file_all(restored.services.sessions) == 1

        # A minute later the throttled messages are due again; the confirmed ones are not.
        async with restored.services.sessions() as s:
            await s.execute(update(Delivery).where(Delivery.state == "retry").values(next_attempt_at=utcnow()))
            await s.commit()
        await wait_until(lambda: smsc.esmes)
        await restored.run_worker()
        await wait_until(lambda: len([s for s in smsc.accepted if text_of(s) == CAMPAIGN]) == 4)
        per_number = {n: [text_of(s) for s in smsc.accepted if s.destination == n].count(CAMPAIGN) for n in NUMBERS}
        assert per_number == dict.fromkeys(NUMBERS, 1), per_number
        after = {t.lstrip("+"): r.state for t, r in (await rows(restored, bid)).items()}
        assert {n for n, state in after.items() if state == "delivered"} == confirmed
        assert {state for n, state in after.items() if n not in confirmed} == {"sent"}
        async with restored.services.sessions() as s:
            assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == len(before["cases"]) + 1
    finally:
        await service.close()
        await restored.services.engine.dispose()


@pytest.mark.asyncio
async def test_restore_refuses_a_data_directory_in_use_and_a_damaged_backup(gateway: Gateway, tmp_path: Path) -> None:
    await seed(gateway)
    await asyncio.to_thread(backup, gateway.services.settings, tmp_path / "backup")
    used = Settings(data_dir=tmp_path / "used", database_url=gateway.services.settings.database_url)
    (used.data_dir / "artifacts").mkdir(parents=True)
    with pytest.raises(BackupError, match="không trống"):
        await asyncio.to_thread(restore, used, tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text(encoding="utf-8"))
    victim = tmp_path / "backup" / "secret_key"
    victim.write_text(victim.read_text(encoding="utf-8") + "x", encoding="utf-8")
    assert "secret_key" in manifest["files"]
    fresh = Settings(data_dir=tmp_path / "fresh")
    with pytest.raises(BackupError, match="secret_key"):
        await asyncio.to_thread(restore, fresh, tmp_path / "backup")
    assert not fresh.data_dir.exists()  # nothing half-restored


def test_the_command_line_backs_up_and_refuses_to_restore_over_data(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"

    async def make() -> None:
        services = build_services(Settings(data_dir=data))
        await start(services)
        await services.engine.dispose()

    asyncio.run(make())
    assert main(["backup", str(tmp_path / "b"), "--data-dir", str(data)]) == 0
    assert "đã sao lưu" in capsys.readouterr().out
    assert main(["backup", str(tmp_path / "b"), "--data-dir", str(data)]) == 2  # not over an earlier backup
    assert main(["restore", str(tmp_path / "b"), "--data-dir", str(data)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "loa.db").is_file() and (tmp_path / "new" / "secret_key").is_file()
