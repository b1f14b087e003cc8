"""``loa speaker-agent``: the reference agent for a loudspeaker cluster (a Raspberry Pi or
any Linux box beside the amplifier).

A bulletin the gateway stopped (listed under ``stopped`` in the schedule) is cut at once
if it is playing and never started again.

It keeps everything it needs on disk under ``--state``: the last schedule, the audio files
(checked against their sha256; a broken download resumes with a Range request), the
reports not yet delivered, and what it has played. So it plays its schedule on time from
local storage when the 4G link is down, survives reboots, and reports everything once the
link is back. An emergency item interrupts what is playing at once; the interrupted item
plays again afterwards. Normal items wait for the device's play windows; emergencies do not.
The device clock is corrected by the server's clock on every successful sync.

Only the standard library and httpx: nothing of the gateway's weight is needed on a Pi.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("loa.agent")
VERSION = "loa-agent/1.0"
RANK = {"normal": 0, "priority": 1, "emergency": 2}


@dataclass(frozen=True)
class AgentConfig:
    server: str
    token: str
    state: Path
    player: str = "ffplay -nodisp -autoexit -loglevel quiet {file}"
    wait_s: int = 25  # long poll
    retry_s: float = 5.0  # after a failed sync


def _now() -> datetime:
    return datetime.now(UTC)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def in_windows(windows: str, local: datetime) -> bool:
    """``05:30-07:00,17:00-19:00`` in the device's local time; empty means any time."""
    spans = [w for w in windows.split(",") if w.strip()]
    if not spans:
        return True
    now = local.strftime("%H:%M")
    for span in spans:
        start, _, end = span.strip().partition("-")
        if (start <= now < end) if start <= end else (now >= start or now < end):
            return True
    return False


class Agent:
    def __init__(self, config: AgentConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.state = config.state
        (self.state / "audio").mkdir(parents=True, exist_ok=True)
        self.client = client or httpx.AsyncClient(
            base_url=config.server, headers={"Authorization": f"Bearer {config.token}"}, timeout=config.wait_s + 10
        )
        self.schedule: dict[str, Any] = _read_json(self.state / "schedule.json", {"items": [], "etag": ""})
        self.done: dict[str, str] = _read_json(self.state / "done.json", {})
        self.offset = timedelta(seconds=float(_read_json(self.state / "clock.json", {"offset": 0})["offset"]))
        self.playing: dict[str, Any] | None = None
        self._interrupted = False
        self._stopped = False
        self._player: asyncio.subprocess.Process | None = None
        self._seq = int(_read_json(self.state / "seq.json", {"seq": 0})["seq"])
        self.wake = asyncio.Event()
        self.online = False

    def now(self) -> datetime:
        """The server's time as well as this device knows it."""
        return _now() + self.offset

    # --- reports: an outbox on disk ----------------------------------------------------
    def report(self, item: str, event: str, detail: str = "") -> None:
        self._seq += 1
        _write_json(self.state / "seq.json", {"seq": self._seq})
        line = {"item": item, "event": event, "at": self.now().isoformat(), "seq": self._seq, "detail": detail}
        with (self.state / "outbox.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def flush_reports(self) -> None:
        outbox = self.state / "outbox.jsonl"
        if not outbox.exists():
            return
        lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines() if line.strip()]
        for start in range(0, len(lines), 200):
            response = await self.client.post("/api/device/v1/reports", json={"reports": lines[start : start + 200]})
            response.raise_for_status()
        # Reports written while sending stay; only what was sent is removed.
        remaining = outbox.read_text(encoding="utf-8").splitlines()[len(lines) :]
        tmp = outbox.with_name("outbox.tmp")
        tmp.write_text("".join(line + "\n" for line in remaining), encoding="utf-8")
        os.replace(tmp, outbox)

    # --- sync ----------------------------------------------------------------------------
    async def sync_once(self, wait: int = 0) -> bool:
        """Fetch the schedule (long poll with ``wait``) and its audio; True if it changed."""
        headers = {"If-None-Match": self.schedule.get("etag", "")}
        response = await self.client.get("/api/device/v1/schedule", params={"wait": wait}, headers=headers)
        self.online = True
        if response.status_code == 304:
            return False
        response.raise_for_status()
        body = response.json()
        server = datetime.fromisoformat(body["server_time"])
        self.offset = server - _now()
        _write_json(self.state / "clock.json", {"offset": self.offset.total_seconds()})
        for item in body["items"]:
            await self.download(item)
        body["etag"] = response.headers.get("etag", "")
        self.schedule = body
        _write_json(self.state / "schedule.json", body)
        self.wake.set()
        return True

    def audio_path(self, item: dict[str, Any]) -> Path:
        ext = {"audio/wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg"}.get(item["media_type"], "bin")
        return self.state / "audio" / f"{item['sha256']}.{ext}"

    async def download(self, item: dict[str, Any]) -> None:
        target = self.audio_path(item)
        if target.exists():
            return
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with self.client.stream("GET", item["audio_url"], headers=headers) as response:
            if response.status_code == 416 or (have and response.status_code == 200):
                have = 0  # the server could not resume: start again
                part.unlink(missing_ok=True)
            response.raise_for_status()
            with part.open("ab") as fh:
                async for chunk in response.aiter_bytes():
                    fh.write(chunk)
        digest = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != item["sha256"]:
            part.unlink()
            raise OSError(f"checksum mismatch for {item['id']}: downloaded file discarded")
        os.replace(part, target)

    async def heartbeat(self) -> None:
        playing = self.playing["id"] if self.playing else ""
        body = {"clock": _now().isoformat(), "agent_version": VERSION, "playing": playing}
        (await self.client.post("/api/device/v1/heartbeat", json=body)).raise_for_status()

    async def sync_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.flush_reports()
                await self.heartbeat()
                await self.sync_once(wait=self.config.wait_s)
            except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
                self.online = False
                log.warning("sync failed, playing from local storage: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.retry_s)

    # --- playback ------------------------------------------------------------------------
    def off_air(self) -> set[int]:
        return set(self.schedule.get("stopped", []))

    def due(self) -> list[dict[str, Any]]:
        now = self.now()
        ready = []
        off_air = self.off_air()
        for item in self.schedule.get("items", []):
            if item["id"] in self.done or not self.audio_path(item).exists() or item["bulletin"] in off_air:
                continue
            if datetime.fromisoformat(item["play_at"]) > now:
                continue
            if datetime.fromisoformat(item["expires_at"]) <= now:
                self.finish(item, "expired", "quá hạn phát khi thiết bị chưa kịp phát")
                continue
            windows = self.schedule.get("device", {}).get("windows", "")
            if item["priority"] != "emergency" and not in_windows(windows, now.astimezone()):
                continue
            ready.append(item)
        return sorted(ready, key=lambda i: (-RANK[i["priority"]], i["play_at"], i["id"]))

    def finish(self, item: dict[str, Any], event: str, detail: str = "") -> None:
        self.done[item["id"]] = event
        _write_json(self.state / "done.json", self.done)
        self.report(item["id"], event, detail)

    async def play(self, item: dict[str, Any]) -> None:
        self.playing, self._interrupted, self._stopped = item, False, False
        volume = self.schedule.get("device", {}).get("volume", 80)
        command = self.config.player.format(file=shlex.quote(str(self.audio_path(item))), volume=volume)
        self.report(item["id"], "started")
        self._player = await asyncio.create_subprocess_shell(
            command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        code = await self._player.wait()
        self._player = None
        self.playing = None
        if self._stopped:
            self.finish(item, "interrupted", "trung tâm dừng phát bản tin này")
        elif self._interrupted:
            self.report(item["id"], "interrupted", "bản tin khẩn cắt ngang; sẽ phát lại")
        elif code == 0:
            self.finish(item, "finished")
        else:
            self.finish(item, "failed", f"trình phát thoát với mã {code}")

    async def player_loop(self, stop: asyncio.Event) -> None:
        current: asyncio.Task[None] | None = None
        while not stop.is_set():
            ready = self.due()
            if current is not None and current.done():
                current = None
            if self.playing and self.playing["bulletin"] in self.off_air() and not self._stopped:
                self._stopped = True  # taken off the air by the gateway: silence now
                if self._player is not None and self._player.returncode is None:
                    self._player.kill()
            elif ready and current is None:
                current = asyncio.create_task(self.play(ready[0]))
            elif ready and self.playing and RANK[ready[0]["priority"]] == 2 > RANK[self.playing["priority"]]:
                self._interrupted = True  # an emergency: stop now, play it, then resume this one
                if self._player is not None and self._player.returncode is None:
                    self._player.kill()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 0.5)
        if self._player is not None and self._player.returncode is None:
            self._player.kill()
        if current is not None:
            await current

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(self.sync_loop(stop), self.player_loop(stop))
        finally:
            await self.client.aclose()


def main(args: Any) -> int:
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = AgentConfig(args.server.rstrip("/"), args.token, Path(args.state), args.player, args.wait)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Agent(config).run(stop)

    asyncio.run(run())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("speaker-agent", help="chạy trên cụm loa: đồng bộ lịch, phát đúng giờ, báo đã phát")
    p.add_argument("--server", required=True, help="địa chỉ Loa, ví dụ http://10.0.0.5:8080")
    p.add_argument("--token", required=True, help="mã truy cập của thiết bị (cấp khi đăng ký cụm loa)")
    p.add_argument("--state", default="/var/lib/loa-agent", help="thư mục lưu lịch, âm thanh và báo cáo")
    p.add_argument(
        "--player",
        default=AgentConfig.player,
        help="lệnh phát, {file} là tệp âm thanh, {volume} là âm lượng 0-100 (mặc định: ffplay)",
    )
    p.add_argument("--wait", type=int, default=25, help="giây chờ thay đổi lịch mỗi lần hỏi (long poll)")
    p.set_defaults(func=main)
