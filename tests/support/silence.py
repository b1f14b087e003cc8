"""Time to silence (issue 13), against real peers on loopback: a ``loa serve`` process
with its worker; the reference speaker agent as its own process, playing through a real
player (ffmpeg in real time); a LAN speaker's RTP stream captured on a UDP socket; a
resident listening to the gateway's live stream (ffmpeg decoding it); a call answered on
the Asterisk stand-in (media at real time). An emergency goes out on all of them; once
every channel is on air the stop is pressed (``POST /api/v1/bulletins/{id}/stop``) and
each channel is watched until it is silent:

- pull cluster: the agent's player process is gone;
- RTP: the last packet that reached the capture;
- live stream: the first of ten decoded 100 ms blocks in a row without speech;
- call: the stand-in's Hangup of the call.

Times are seconds from sending the stop request. Used by the integration test (liveness
only) and by ``python -m bench --only-alerts`` (the figures).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from tests.support.asterisk import Asterisk
from tests.support.server import admin_password, free_port, start_server

PLAYER = "ffmpeg -v quiet -nostdin -re -i {file} -f null -"
TEXT = " ".join(["Bão số chín đang đổ bộ vào các xã ven biển, bà con di chuyển ngay đến nơi trú ẩn an toàn."] * 12)
SPEECH_RMS = 0.01  # a decoded block louder than this is speech
QUIET_BLOCKS = 10  # a second of silence at the listener ends the stream's time to silence
WATCH_S = 30.0  # how long each channel is watched after the stop


@dataclass
class Silence:
    seconds: dict[str, float | None] = field(default_factory=dict)  # None: still sounding after WATCH_S
    rows: dict[str, list[str]] = field(default_factory=dict)  # channel -> row states, once settled
    stop_answer: dict[str, object] = field(default_factory=dict)


def descendants(pid: int) -> list[int]:
    """Child processes, recursively (/proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                children = [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


class _Capture(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.last = 0.0
        self.packets = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last = asyncio.get_running_loop().time()
        self.packets += 1


async def _listen(url: str, blocks: list[tuple[float, float]]) -> asyncio.subprocess.Process:
    """Decode the live stream as a listener's player does; (arrival, rms) per 100 ms."""
    command = ["ffmpeg", "-v", "quiet", "-nostdin", "-fflags", "nobuffer", "-probesize", "4096", "-i", url]
    proc = await asyncio.create_subprocess_exec(
        *command, "-f", "s16le", "-ac", "1", "-ar", "8000", "-", stdout=asyncio.subprocess.PIPE
    )

    async def read() -> None:
        assert proc.stdout is not None  # PIPE asked for
        while True:
            try:
                data = await proc.stdout.readexactly(1600)
            except asyncio.IncompleteReadError:
                return
            samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
            blocks.append((asyncio.get_running_loop().time(), float(np.sqrt(np.mean(samples**2)))))

    asyncio.get_running_loop().create_task(read())
    return proc


async def _until(check, within: float, step: float = 0.02) -> float | None:  # type: ignore[no-untyped-def]
    """Poll until ``check()`` is truthy: the loop time then, or None after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return loop.time()
        await asyncio.sleep(step)
    return None


async def measure(root: Path, log=print) -> Silence:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    asterisk = Asterisk(speed=1.0)
    await asterisk.start()
    capture = _Capture()
    transport, _ = await loop.create_datagram_endpoint(lambda: capture, local_addr=("127.0.0.1", 0))
    rtp_port = transport.get_extra_info("sockname")[1]
    port, agi = free_port(), free_port()
    asterisk.dialplan.globals.update(LOA=f"agi://127.0.0.1:{agi}")  # the dialplan's [globals]: where Loa is
    config = root / "loa.toml"
    config.write_text(
        f'agi_listen = "127.0.0.1:{agi}"\ncall_cps = 20.0\n'
        f'[[asterisk]]\nname = "xa"\nport = {asterisk.port}\nusername = "loa"\nsecret = "s3cret"\nchannels = 4\n',
        encoding="utf-8",
    )
    serve_log = root / "serve.log"
    server = await asyncio.to_thread(start_server, root / "data", port, serve_log, env={"LOA_CONFIG": str(config)})
    base = f"http://127.0.0.1:{port}"
    agent: asyncio.subprocess.Process | None = None
    listener: asyncio.subprocess.Process | None = None
    result = Silence()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            login = await api.post(
                "/api/v1/auth/login", json={"username": "admin", "password": admin_password(serve_log)}
            )
            h = {"X-CSRF-Token": login.json()["csrf_token"]}
            await api.post("/api/v1/areas", headers=h, json={"code": "XA", "name": "Xã Hòa Bình", "level": "commune"})
            await api.post(
                "/api/v1/areas", headers=h, json={"code": "T1", "name": "Thôn Một", "level": "village", "parent": "XA"}
            )
            devices = [
                {"code": "CUM-T1", "name": "Cụm loa thôn Một", "area": "T1"},
                {
                    "code": "LOA-RTP",
                    "name": "Loa chợ",
                    "area": "T1",
                    "kind": "rtp",
                    "rtp_address": f"127.0.0.1:{rtp_port}",
                },
                {
                    "code": "LIVE",
                    "name": "Luồng phát trực tiếp",
                    "area": "T1",
                    "kind": "stream",
                    "rtp_address": "loa:live",
                },
            ]
            tokens = [(await api.post("/api/v1/devices", headers=h, json=d)).json() for d in devices]
            subscribed = await api.post("/api/v1/subscribers", headers=h, json={"area": "T1", "phones": ["0912000001"]})
            assert subscribed.status_code in (200, 201), subscribed.text
            with (root / "agent.log").open("ab") as out:
                agent = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "gateway.cli", "speaker-agent", "--server", base,
                    "--token", str(tokens[0]["token"]), "--state", str(root / "agent"),
                    "--player", PLAYER, "--wait", "20", stdout=out, stderr=out,
                )  # fmt: skip
            blocks: list[tuple[float, float]] = []
            listener = await _listen(f"{base}/public/live.mp3", blocks)
            targets = [{"channel": c, "area": "XA"} for c in ("loudspeaker", "call")]
            body = {"title": "Bão khẩn cấp", "body": TEXT, "priority": "emergency", "targets": targets}
            bid = int((await api.post("/api/v1/bulletins", headers=h, json=body)).json()["id"])
            assert (await api.post(f"/api/v1/bulletins/{bid}/emergency", headers=h)).status_code == 200

            def on_air() -> bool:
                now = loop.time()
                return bool(
                    now - capture.last < 0.2
                    and any(rms > SPEECH_RMS and now - at < 1 for at, rms in blocks[-10:])
                    and any(s["ChannelStateDesc"] == "Up" for s in asterisk.live.values())
                    and agent is not None
                    and descendants(agent.pid)
                )

            if await _until(on_air, 180, step=0.1) is None:
                raise AssertionError(
                    f"not every channel went on air: rtp packets {capture.packets}, live blocks {len(blocks)}, "
                    f"calls {list(asterisk.live.values())}, agent children {descendants(agent.pid)}"
                )
            await asyncio.sleep(1.0)  # everyone is listening
            log(f"on air: RTP {capture.packets} packets, live {len(blocks)} blocks, call up, agent playing")
            playing = descendants(agent.pid)
            t0 = loop.time()
            answer = await api.post(f"/api/v1/bulletins/{bid}/stop", headers=h, json={"reason": "phát nhầm"})
            assert answer.status_code == 200, answer.text
            result.stop_answer = answer.json()

            async def rtp() -> float | None:
                quiet = await _until(lambda: loop.time() - capture.last > 1.0, WATCH_S)
                return None if quiet is None else max(0.0, capture.last - t0)

            async def live() -> float | None:
                def silent_since() -> float | None:
                    after = [(at, rms) for at, rms in blocks if at >= t0]
                    for i in range(len(after) - QUIET_BLOCKS + 1):
                        if all(rms <= SPEECH_RMS for _, rms in after[i : i + QUIET_BLOCKS]):
                            return after[i][0]
                    return None

                found = await _until(lambda: silent_since() is not None, WATCH_S)
                since = silent_since()
                return None if found is None or since is None else since - t0

            async def call() -> float | None:
                hung = await _until(lambda: not asterisk.live, WATCH_S, step=0.005)
                return None if hung is None else hung - t0

            async def pull() -> float | None:
                gone = await _until(lambda: not set(playing) & set(descendants(agent.pid)), WATCH_S, step=0.01)
                return None if gone is None else gone - t0

            names = ("pull cluster (agent)", "RTP speaker", "live stream", "call (AMI)")
            times = await asyncio.gather(pull(), rtp(), live(), call())
            result.seconds = dict(zip(names, times, strict=True))

            async def settled() -> bool:
                rows = (await api.get(f"/api/v1/bulletins/{bid}/deliveries", headers=h)).json()["rows"]
                result.rows = {}
                for row in rows:
                    result.rows.setdefault(row["channel"], []).append(row["state"])
                return bool(rows) and all(r["state"] not in ("pending", "retry", "in_progress", "sent") for r in rows)

            for _ in range(int(WATCH_S / 0.2)):  # the rows are read over HTTP, as an operator would
                if await settled():
                    break
                await asyncio.sleep(0.2)
    finally:
        for proc in (agent, listener):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
        server.terminate()
        await asyncio.to_thread(server.wait, 30)
        transport.close()
        await asterisk.stop()
    return result
