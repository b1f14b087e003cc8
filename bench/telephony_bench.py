"""Telephony benchmarks (issue #4).

1. Hotline: 500 simultaneous calls (the Asterisk stand-in, in its own process, as the
   FastAGI client) run the shipped hotline flow against Loa's FastAGI server. Measured
   where Asterisk is: from each reply Asterisk sends to the next AGI command it receives,
   i.e. how long a caller waits on Loa between prompts (the playing time of a prompt is
   the caller listening, not waiting). Target p99 <= 20 ms. Anchor, same run: a bare
   asyncio FastAGI driver that sends the same number of commands with no flow behind.
2. Campaign pacing: a campaign through the ledger, the call channel and AMI to the
   stand-in (its own process, like Asterisk) at ``call_cps``; the Originate rate the
   stand-in received vs the configured rate (target within 5 %). Anchor: the pacer alone.
3. Synthesis lanes (``bench/lanes_bench.py``): a prompt while a 20-minute render runs vs
   on an idle engine, as a ratio (target within 1.5 x).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CALLS = 500
RAMP_SECONDS = 2.0
KEYS = ["1", "", "", "", "", "", ""]  # news, then nothing: menu times out twice, goodbye


def _callers(port: int, calls: int, script_name: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tests.support.asterisk import Asterisk, CallLog, Script

    async def run() -> list[float]:
        asterisk = Asterisk(speed=10.0)  # prompts play at 10x real time: a heavier load than real callers
        url = f"agi://127.0.0.1:{port}/{script_name}"

        async def one(i: int) -> CallLog:
            await asyncio.sleep(RAMP_SECONDS * i / calls)  # calls ring in over two seconds, then all talk at once
            return await asterisk.call_in(f"09870{i:05d}", url, Script(keys=list(KEYS)))

        logs = await asyncio.gather(*(one(i) for i in range(calls)))
        return [w for log in logs for w in log.waits[1:]]  # the first is the header, before any flow ran

    out.put(asyncio.run(run()))


class _Backend:
    def __init__(self, root: Path, bulletin: Path) -> None:
        self.recordings_dir = root / "recordings"
        self.bulletin = bulletin

    async def caller_area(self, caller: str) -> str | None:
        return "T1"

    async def area_choices(self) -> list[tuple[str, str]]:
        return [("T1", "Thôn Một")]

    async def latest_bulletins(self, area_code: str | None, count: int) -> list[Path]:
        await asyncio.sleep(0)
        return [self.bulletin]

    async def file_recording(self, data: bytes, name: str, caller: str, flow: str) -> str:
        return ""

    async def case_status(self, ticket: str) -> str | None:
        return None

    async def opt_out(self, caller: str) -> None:
        return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _serve(handler, calls: int) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    from gateway.ivr.server import AgiServer

    server = AgiServer(handler, port=0)
    port = await server.start()
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_callers, args=(port, calls, "hotline", out))
    start = time.perf_counter()
    proc.start()
    waits = await asyncio.to_thread(out.get, True, 600)
    elapsed = time.perf_counter() - start
    await asyncio.to_thread(proc.join, 60)
    await server.close()
    return waits, elapsed


async def _hotline(root: Path) -> dict[str, float]:
    from gateway.bulletins.pronunciations import Pronunciations
    from gateway.bulletins.render import Renderer
    from gateway.config import Settings
    from gateway.ivr import flows
    from gateway.ivr.app import IvrApp
    from gateway.ivr.calls import CallContexts
    from gateway.ivr.prompts import Prompts
    from gateway.ivr.runner import Runner
    from gateway.ivr.server import AgiSession
    from gateway.storage.artifacts import ArtifactStore
    from tts.cache import PhraseCache

    shipped = flows.load_dir(Settings().flows_dir)
    renderer = Renderer(ArtifactStore(root / "artifacts"), Pronunciations(root / "p.tsv"), PhraseCache(root / "pc"))
    prompts = Prompts(renderer, root / "sounds", "vi-espeak")
    await prompts.warm([t for f in shipped.values() for t in f.texts()])
    bulletin = Path(await prompts.path("Bản tin thử: trạm y tế xã tiêm phòng dại sáng thứ hai.") + ".ulaw")
    app = IvrApp(Runner(shipped, prompts, _Backend(root, bulletin)), shipped, CallContexts(None))  # type: ignore[arg-type]  # hotline only
    loa, loa_s = await _serve(app, CALLS)
    per_call = len(loa) // CALLS + 1

    async def bare(session: AgiSession) -> None:
        for _ in range(per_call):
            await session.send("NOOP")

    anchor, anchor_s = await _serve(bare, CALLS)
    return {
        "commands": len(loa),
        "loa_p50_ms": _percentile(loa, 0.5),
        "loa_p99_ms": _percentile(loa, 0.99),
        "loa_seconds": loa_s,
        "anchor_p50_ms": _percentile(anchor, 0.5),
        "anchor_p99_ms": _percentile(anchor, 0.99),
        "anchor_seconds": anchor_s,
    }


def hotline() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_hotline(Path(tmp)))
    print(f"\n== hotline: {CALLS} simultaneous calls, shipped flow, {r['commands']} AGI commands ==")
    print("  wait between Asterisk's reply and Loa's next command, measured in the stand-in's process")
    print(
        f"  Loa FastAGI + IVR runner   p50 {r['loa_p50_ms']:.2f} ms  p99 {r['loa_p99_ms']:.2f} ms"
        f" ({r['loa_seconds']:.1f} s)"
    )
    print(
        f"  anchor: bare asyncio driver p50 {r['anchor_p50_ms']:.2f} ms  p99 {r['anchor_p99_ms']:.2f} ms"
        f" ({r['anchor_seconds']:.1f} s)"
    )
    ok = "met" if r["loa_p99_ms"] <= 20 else "NOT met"
    print(f"  p99 ratio Loa/anchor {r['loa_p99_ms'] / max(r['anchor_p99_ms'], 1e-6):.2f}x; target p99 <= 20 ms: {ok}")


def _ami_peer(ports: multiprocessing.Queue, times: multiprocessing.Queue, finished: Any) -> None:  # type: ignore[type-arg]
    """The stand-in Asterisk in its own process: every number is busy at once; it
    reports when each Originate arrived."""
    from tests.support.asterisk import Asterisk, Script

    async def run() -> None:
        asterisk = Asterisk()
        asterisk.default = Script("busy", ring_seconds=0.0)
        received: list[float] = []
        original = asterisk.originate

        async def timed(action: dict[str, str]) -> tuple[bool, dict[str, str]]:
            received.append(time.perf_counter())
            return await original(action)

        asterisk.originate = timed  # type: ignore[method-assign]
        ports.put(await asterisk.start())
        await asyncio.to_thread(finished.wait)
        await asterisk.stop()
        times.put(received)

    asyncio.run(run())


async def _campaign(root: Path, calls: int, cps: float) -> dict[str, float]:
    from sqlalchemy import insert, select

    from gateway.app import build_services, start
    from gateway.config import Settings
    from gateway.db.models import Bulletin, Delivery, User, utcnow
    from gateway.ivr.calls import CallContexts
    from gateway.pacing import Pacer
    from gateway.telephony.ami import ServerConfig
    from gateway.telephony.channel import CallChannel
    from gateway.telephony.outcomes import RetryPolicy
    from gateway.telephony.trunks import TrunkPool

    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    times: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    finished = multiprocessing.Event()
    peer = multiprocessing.Process(target=_ami_peer, args=(ports, times, finished))
    peer.start()
    port = await asyncio.to_thread(ports.get, True, 60)
    services = build_services(Settings(data_dir=root / "data", quiet_hours={}))
    await start(services)
    pool = TrunkPool([ServerConfig("bench", port=port, username="loa", secret="s3cret", channels=60)])
    channel = CallChannel(
        services.sessions,
        pool,
        CallContexts(services.sessions),
        "agi://127.0.0.1:4573",
        RetryPolicy((), (), 60.0),
        cps,
        daily_cap=0,
    )
    await pool.start()
    await pool.trunks[0].client.wait_ready(10)
    async with services.sessions() as s:
        admin = (await s.execute(select(User))).scalars().first()
        assert admin is not None
        bulletin = Bulletin(title="Bão", body="Bão số 9", status="delivering", created_by=admin.id)
        s.add(bulletin)
        await s.flush()
        now = utcnow()
        rows = [
            {"bulletin_id": bulletin.id, "channel": "call", "target": f"+8491{i:07d}", "next_attempt_at": now}
            for i in range(calls)
        ]
        await s.execute(insert(Delivery), rows)
        await s.commit()
    start_time = time.perf_counter()
    await services.dispatcher.feed_channel(channel)
    elapsed = time.perf_counter() - start_time
    await channel.close()
    finished.set()
    received: list[float] = await asyncio.to_thread(times.get, True, 120)
    await asyncio.to_thread(peer.join, 60)
    await services.engine.dispose()
    achieved = (len(received) - 1) / (received[-1] - received[0])
    gaps = [b - a for a, b in itertools.pairwise(received)]

    pacer = Pacer(cps)
    ticks = []
    for _ in range(min(calls, int(cps * 5))):
        await pacer.wait()
        ticks.append(time.perf_counter())
    anchor = (len(ticks) - 1) / (ticks[-1] - ticks[0])
    return {
        "calls": len(received),
        "achieved_cps": achieved,
        "anchor_cps": anchor,
        "gap_p99_ms": _percentile(gaps, 0.99),
        "gap_p50_ms": statistics.median(gaps) * 1000,
        "seconds": elapsed,
    }


def campaign(calls: int = 10_000, cps: float = 50.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_campaign(Path(tmp), calls, cps))
    error = (r["achieved_cps"] - cps) / cps * 100
    print(f"\n== campaign pacing: {int(r['calls'])} numbers at call_cps = {cps:g} (ledger, AMI, stand-in) ==")
    print(
        f"  Originates received {r['achieved_cps']:.2f}/s ({error:+.2f} % of configured), "
        f"gap p50 {r['gap_p50_ms']:.2f} ms p99 {r['gap_p99_ms']:.2f} ms, {r['seconds']:.1f} s"
    )
    print(f"  anchor: the pacer alone {r['anchor_cps']:.2f}/s ({(r['anchor_cps'] - cps) / cps * 100:+.2f} %)")
    print(f"  target within +-5 %: {'met' if abs(error) <= 5 else 'NOT met'}")


def main(calls: int = 10_000, cps: float = 50.0) -> None:
    from bench import lanes_bench

    hotline()
    campaign(calls, cps)
    lanes_bench.main()
