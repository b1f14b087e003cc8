"""SMS benchmarks (issues #5, #17), each printed against an anchor measured in the same run.

1. Submit throughput to a loopback SMSC (smpp34.Server, in its own process) with a window
   of 10: Loa's SMPP transport vs smpp34's own Rust-core client with the same window.
   Target: >= 1,000 parts/s, so that Loa is never the bottleneck of a 8-30 TPS account.
2. The whole path (bench/sms_e2e_bench.py): API -> ledger -> SMPP -> receipts -> rows
   delivered, against the bare transport of 1. Target: >= 1,000 parts/s on SQLite.
3. A 100,000-recipient campaign planned (recipients counted, parts priced), and queued
   (one ledger row per recipient) on the embedded SQLite database, with tracemalloc's
   peak; anchor: the same 100,000 rows written by sqlite3's executemany. Target: <= 10 s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench import sms_e2e_bench
from bench.machine import free_port

PARTS = 5000
RECIPIENTS = 100_000
WINDOW = 10


async def _loa_throughput(port: int) -> float:
    from gateway.sms.codec import wire_parts
    from gateway.sms.smpp.session import SessionConfig
    from gateway.sms.smpp.transport import SmppConfig, SmppTransport
    from gateway.sms.transport import Mo, OutPart, Receipt

    async def ignore(_event: Mo | Receipt) -> None:
        return None

    transport = SmppTransport(SmppConfig(SessionConfig("127.0.0.1", port, "loa", "bench", window=WINDOW), "UBNDXA"))
    await transport.start(ignore, ignore)
    await transport.session.bound.wait()
    (part,) = wire_parts("Thông báo: họp dân lúc 15h tại nhà văn hóa thôn.", 0)
    start = time.perf_counter()
    results = await asyncio.gather(*(transport.submit(OutPart(f"+8491{i:07d}", part, f"b{i}.1")) for i in range(PARTS)))
    elapsed = time.perf_counter() - start
    await transport.close()
    assert all(r.accepted for r in results)
    return PARTS / elapsed


async def _anchor_throughput(port: int) -> float:
    import smpp34

    client = smpp34.Client("127.0.0.1", port, "anchor", "bench", bind_type="TRX", window_size=WINDOW)
    smsc = await client.connect()
    payload = "Thông báo: họp dân lúc 15h tại nhà văn hóa thôn.".encode("utf-16-be")
    gate = asyncio.Semaphore(WINDOW)

    async def one(i: int) -> bool:
        async with gate:
            resp = await smsc.submit_sm(f"8491{i:07d}", payload, source_addr="UBNDXA", data_coding=8)
            return bool(resp.is_success)

    start = time.perf_counter()
    ok = await asyncio.gather(*(one(i) for i in range(PARTS)))
    elapsed = time.perf_counter() - start
    await smsc.unbind()
    await client.stop()
    assert all(ok)
    return PARTS / elapsed


def throughput() -> float:
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-m", "bench.smsc_peer", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "ready"
        anchor = asyncio.run(_anchor_throughput(port))
        loa = asyncio.run(_loa_throughput(port))
    finally:
        peer.kill()
        peer.wait()
    print(f"\nSMPP submit throughput, {PARTS} parts, window {WINDOW}, SMSC smpp34.Server in its own process")
    print(f"  anchor: smpp34.Client (Rust core)  {anchor:8.0f} parts/s")
    print(f"  Loa SMPP transport (asyncio)       {loa:8.0f} parts/s  ({loa / anchor:.2f} x the anchor)")
    print(f"  target >= 1000 parts/s: {'met' if loa >= 1000 else 'NOT met'} ({loa / 1000:.1f} x the target)")
    return loa


async def _campaign(data: Path) -> tuple[float, float, int, dict[str, object]]:
    from sqlalchemy import func, insert, select

    from gateway.app import build_services, start
    from gateway.config import Settings
    from gateway.db.models import Area, Bulletin, Delivery, Schedule, Subscriber, Target, User, utcnow
    from gateway.sms import recipients

    services = build_services(Settings(data_dir=data, sms_transport="smpp", smpp_host="127.0.0.1", smpp_system_id="x"))
    await start(services)
    async with services.sessions() as s:
        s.add(Area(code="XA", name="Xã Hòa Bình", level="commune"))
        await s.flush()
        area = (await s.execute(select(Area))).scalar_one()
        rows = [{"phone": f"+8491{i:07d}", "area_id": area.id, "source": "import"} for i in range(RECIPIENTS)]
        await s.execute(insert(Subscriber), rows)
        admin = (await s.execute(select(User))).scalars().first()
        assert admin is not None
        text = "Thông báo: lịch cắt điện ngày mai từ 7 giờ đến 11 giờ tại thôn Đông, xã Hòa Bình. Xin cảm ơn bà con."
        bulletin = Bulletin(
            title="Cắt điện", body=text, sms_text=text, status="scheduled", created_by=admin.id, voice="vi-espeak"
        )
        s.add(bulletin)
        await s.flush()
        s.add(Target(bulletin_id=bulletin.id, channel="sms", area_id=area.id))
        s.add(Schedule(bulletin_id=bulletin.id, run_at=utcnow()))
        await s.commit()
        bulletin_id = bulletin.id

    tracemalloc.start()
    start_time = time.perf_counter()
    async with services.sessions() as s:
        price = await recipients.preview(s, text, ["XA"])
    services.renderer.render = _no_audio  # type: ignore[method-assign]  # queueing, not synthesis, is measured
    await services.dispatcher.run_schedules()
    while await services.dispatcher.settle_renders():  # renders run beside the tick
        await services.dispatcher.run_schedules()
    elapsed = time.perf_counter() - start_time
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    async with services.sessions() as s:
        queued = (
            await s.execute(select(func.count()).select_from(Delivery).where(Delivery.bulletin_id == bulletin_id))
        ).scalar_one()
    await services.engine.dispose()
    return elapsed, peak / 2**20, int(queued), price


async def _no_audio(_session: object, _bulletin: object) -> None:
    return None


def _anchor_rows(path: Path) -> float:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE d (id INTEGER PRIMARY KEY, bulletin_id INT, occurrence INT, channel TEXT, target TEXT, "
        "priority INT, state TEXT, attempts INT, next_attempt_at TEXT, reference TEXT, detail TEXT, "
        "created_at TEXT, updated_at TEXT, UNIQUE (bulletin_id, occurrence, channel, target))"
    )
    now = "2026-11-23 00:00:00"
    rows = ((1, 1, "sms", f"+8491{i:07d}", 0, "pending", 0, now, "", "", now, now) for i in range(RECIPIENTS))
    start = time.perf_counter()
    db.executemany(
        "INSERT INTO d (bulletin_id, occurrence, channel, target, priority, state, attempts, next_attempt_at, "
        "reference, detail, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.commit()
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def campaign() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, peak_mib, queued, price = asyncio.run(_campaign(Path(tmp) / "data"))
        anchor = _anchor_rows(Path(tmp) / "anchor.db")
    print(f"\nSMS campaign, {RECIPIENTS:,} subscribers of one commune, SQLite (embedded default)")
    print(
        f"  priced: {price['parts']} parts x {price['recipients']:,} = {price['total']:,} messages "
        f"({price['encoding']}); unaccented {price['unaccented']['total']:,}"  # type: ignore[index]
    )
    print(f"  anchor: sqlite3 executemany of the same {RECIPIENTS:,} ledger rows  {anchor:6.2f} s")
    print(
        f"  Loa: plan + price + queue {queued:,} ledger rows                {elapsed:6.2f} s "
        f"({elapsed / anchor:.1f} x the anchor), peak Python memory {peak_mib:.1f} MiB"
    )
    print(f"  target <= 10 s: {'met' if elapsed <= 10 else 'NOT met'}")


def main(recipients: int = 0, postgres: bool = False) -> None:
    """``recipients``: the whole path's campaign size (default 10,000); ``postgres``: also
    on PostgreSQL with one and two worker processes."""
    bare = throughput()
    whole = sms_e2e_bench.whole_path(recipients)
    print(f"  whole path / bare Loa SMPP transport (same run): {whole / bare:.2f}")
    if postgres:
        sms_e2e_bench.postgres_workers(recipients)
    campaign()
