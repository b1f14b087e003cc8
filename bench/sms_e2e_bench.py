"""The whole SMS path (issue 17), measured against the bare SMPP transport in the same run.

A campaign of ``LOA_BENCH_SMS_RECIPIENTS`` subscribers (default 10,000) x a 2-part
accented message, on the embedded SQLite database and one process: the bulletin is
written, submitted, approved and scheduled over the HTTP API, the worker plans the
ledger rows, claims them, sends every part to a loopback SMSC (smpp34.Server in its own
process) that answers each part with a delivery receipt, and the clock stops when every
ledger row is ``delivered``. Audio rendering is skipped (this measures SMS, not speech).
Target: >= 1,000 parts/s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench.machine import free_port

TEXT = (
    "Thông báo: lịch cắt điện ngày mai từ 7 giờ đến 11 giờ tại thôn Đông, xã Hòa Bình. "
    "Đề nghị bà con chủ động."
)  # 2 UCS-2 parts
LIMIT_S = 900.0
STALL_S = 15.0  # no row delivered for this long: the rest will never be


async def _no_audio(_session: object, _bulletin: object) -> None:
    return None


def _worker_process(tmp: Path, port: int, db_url: str, binds: int) -> subprocess.Popen[bytes]:
    """A second worker, as an operator runs it: ``loa serve --role worker`` on the same database."""
    config = tmp / "worker.toml"
    config.write_text(
        "\n".join(
            [
                f'database_url = "{db_url}"',
                f'data_dir = "{(tmp / "worker").as_posix()}"',
                'worker_id = "bench-w2"',
                'sms_transport = "smpp"',
                'smpp_host = "127.0.0.1"',
                f"smpp_port = {port}",
                'smpp_system_id = "loa"',
                'smpp_password = "bench"',
                f"smpp_binds = {binds}",
                "sms_tps = 0",
                "sms_daily_cap = 0",
                '[quiet_hours.sms]\nstart = "00:00"\nend = "00:00"',
                '[quiet_hours.call]\nstart = "00:00"\nend = "00:00"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    env = {**os.environ, "LOA_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--role", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "worker.log").open("wb"),
    )


async def _campaign(
    port: int, data: Path, recipients: int, db_url: str = "", workers: int = 1
) -> tuple[float, int, int, int, float]:
    import httpx
    from sqlalchemy import func, insert, select

    from gateway.app import build_services, create_app, start
    from gateway.config import Settings
    from gateway.db.models import Area, Delivery, SmsPart, Subscriber

    settings = Settings(
        data_dir=data,
        sms_transport="smpp",
        smpp_host="127.0.0.1",
        smpp_port=port,
        smpp_system_id="loa",
        smpp_password="bench",
        sms_tps=0,
        sms_daily_cap=0,
        smpp_binds=workers,
        database_url=db_url,
        quiet_hours={},
    )
    services = build_services(settings)
    await start(services)
    services.renderer.render = _no_audio  # type: ignore[method-assign]
    assert services.sms is not None and services.first_admin_password
    async with services.sessions() as s:
        s.add(Area(code="XA", name="Xã Hòa Bình", level="commune"))
        await s.flush()
        area = (await s.execute(select(Area))).scalar_one()
        rows = [{"phone": f"+8491{i:07d}", "area_id": area.id, "source": "import"} for i in range(recipients)]
        await s.execute(insert(Subscriber), rows)
        await s.commit()
    app = create_app(services, run_worker=False)
    transport = httpx.ASGITransport(app=app)
    admin = httpx.AsyncClient(transport=transport, base_url="http://loa.bench")
    approver = httpx.AsyncClient(transport=transport, base_url="http://loa.bench")
    login = {"username": "admin", "password": services.first_admin_password}
    h = {"X-CSRF-Token": (await admin.post("/api/v1/auth/login", json=login)).json()["csrf_token"]}
    change = {"current_password": services.first_admin_password, "new_password": "mat-khau-quan-tri-1"}
    assert (await admin.post("/api/v1/me/password", json=change, headers=h)).status_code == 200  # one-time password
    user = {"username": "duyet", "role": "approver", "password": "mat-khau-dai-1", "full_name": "Duyệt"}
    assert (await admin.post("/api/v1/users", json=user, headers=h)).status_code == 201
    r = await approver.post("/api/v1/auth/login", json={"username": "duyet", "password": "mat-khau-dai-1"})
    ha = {"X-CSRF-Token": r.json()["csrf_token"]}
    await services.sms.start()
    await services.sms.transport.session.bound.wait()  # type: ignore[attr-defined]
    others = [_worker_process(data.parent, port, db_url, workers) for _ in range(workers - 1)]
    if others:
        from gateway.db.models import SmsBind

        while True:  # every worker bound before the clock starts
            async with services.sessions() as s:
                query = select(func.count()).where(SmsBind.holder != "", SmsBind.expires_at > time.time())
                if int((await s.execute(query)).scalar_one()) >= workers:
                    break
            await asyncio.sleep(0.2)

    start_time, start_cpu = time.perf_counter(), time.process_time()
    body = {"title": "Cắt điện", "body": TEXT, "sms_text": TEXT, "priority": "normal"}
    body["targets"] = [{"channel": "sms", "area": "XA"}]  # type: ignore[assignment]
    bid = (await admin.post("/api/v1/bulletins", json=body, headers=h)).json()["id"]
    assert (await admin.post(f"/api/v1/bulletins/{bid}/submit", headers=h)).status_code == 200
    assert (await approver.post(f"/api/v1/bulletins/{bid}/approve", headers=ha)).status_code == 200
    assert (await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers=ha)).status_code == 200
    delivered, last_change = 0, time.perf_counter()
    while delivered < recipients and time.perf_counter() - start_time < LIMIT_S:
        if not await services.dispatcher.tick():
            await asyncio.sleep(0.2)  # the worker itself waits up to 1 s when idle
            async with services.sessions() as s:
                query = select(func.count()).select_from(Delivery).where(Delivery.state == "delivered")
                now = int((await s.execute(query)).scalar_one())
            if now != delivered:
                delivered, last_change = now, time.perf_counter()
            elif time.perf_counter() - last_change > STALL_S:
                break  # rows left `sent` for good: their receipts were lost
    elapsed = last_change - start_time
    cpu = time.process_time() - start_cpu  # this process: API, worker, SMPP client, SQLite
    async with services.sessions() as s:
        parts = int((await s.execute(select(func.count()).select_from(SmsPart))).scalar_one())
        states = dict((await s.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all())
    for other in others:
        other.terminate()
        other.wait(timeout=30)
    if others:
        log = (data.parent / "worker.log").read_text(encoding="utf-8", errors="replace").strip()
        print("  second worker's log: " + (log[-3000:] if log else "empty"))
    await services.sms.close()
    await admin.aclose()
    await approver.aclose()
    await services.engine.dispose()
    print(f"  ledger rows by state at the end: {states}")
    return elapsed, parts, delivered, recipients, cpu


def whole_path(recipients: int = 0, db_url: str = "", workers: int = 1) -> float:
    """Parts per second through the whole path; ``db_url`` empty: SQLite, one process."""
    recipients = recipients or int(os.environ.get("LOA_BENCH_SMS_RECIPIENTS", "10000"))
    port = free_port()
    peer = subprocess.Popen(
        [sys.executable, "-m", "bench.smsc_peer", str(port), "receipts"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "ready"
        where = "SQLite, one process"
        if db_url:
            where = f"PostgreSQL, {workers} worker process{'es' if workers > 1 else ''}"
        print(f"\nSMS whole path, {recipients:,} subscribers x 2-part message, {where} (load {os.getloadavg()[0]:.1f})")
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, parts, delivered, total, cpu = uvloop.run(  # the loop `loa serve` runs on
                _campaign(port, Path(tmp) / "data", recipients, db_url, workers)
            )
    finally:
        peer.kill()
        peer.wait()
    rate = parts / elapsed
    print(f"  API -> ledger -> SMPP -> receipts -> rows delivered: {delivered:,}/{total:,} rows, {parts:,} parts")
    print(
        f"  in {elapsed:.1f} s (to the last row delivered) = {rate:8.0f} parts/s, "
        f"{cpu * 1000 / parts:.2f} ms of this process's CPU per part"
    )
    if delivered < total:
        print(f"  {total - delivered:,} rows never delivered: their receipts were lost")
    if not db_url:
        print(f"  target >= 1000 parts/s: {'met' if rate >= 1000 else 'NOT met'} ({rate / 1000:.2f} x the target)")
    if recipients >= 100_000:
        print(f"  target < 180 s end to end: {'met' if elapsed < 180 else 'NOT met'} ({elapsed:.0f} s)")
    print(f"  (load average at the end: {os.getloadavg()[0]:.1f})")
    return rate


def postgres_workers(recipients: int = 0) -> None:
    """The whole path on PostgreSQL with one worker, then two (``smpp_binds = 2``)."""
    from tests.support.postgres import start_postgres

    server = start_postgres()
    try:
        one = whole_path(recipients, server.url(server.create_database()), 1)
        two = whole_path(recipients, server.url(server.create_database()), 2)
    finally:
        server.stop()
    print(f"  PostgreSQL: 2 workers / 1 worker (same run): {two / one:.2f}")
