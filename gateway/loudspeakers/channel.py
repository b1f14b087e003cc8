"""The loudspeaker channel: an area target becomes one ledger row per device in it.

- pull devices: the row is ``sent`` once the item is in the device's schedule, and settled
  by the device's proof of play (gateway.loudspeakers.proof);
- stream receivers: the render goes live, as MP3, to the device's Icecast mount;
- RTP speakers: the render is encoded for the speaker's codec and streamed in paced 20 ms
  packets in the background; the row is delivered when the stream ends. An emergency for a
  speaker that is playing stops the normal stream, whose row goes back to the queue and
  plays again after the emergency (normal programming resumes).

A speaker or mount busy with another item makes the next one wait, not fail: it comes back
when what plays now should end (at most a minute later, in case it was cut), and these
waits are not counted as tries. It waits until the bulletin's expiry, or at most
:data:`BUSY_WAIT` after it was queued, then fails saying the speaker stayed busy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import soundfile as sf
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.areas import subtree
from gateway.db.models import Delivery, Device, utcnow
from gateway.db.states import DeliveryState
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.loudspeakers import icecast, live, proof, schedule
from gateway.loudspeakers.notify import Notifier
from gateway.loudspeakers.rtp import RtpSender, Stream, encode

log = logging.getLogger(__name__)
BUSY_DETAIL = "loa đang phát bản tin khác; chờ loa rảnh"
BUSY_WAIT = timedelta(hours=1)  # a bulletin without an expiry waits this long for a busy speaker


class LoudspeakerChannel:
    name = "loudspeaker"
    quiet_hours_apply = False  # clusters follow their own play windows
    sent_expires = True  # a sent row waits for a cluster, which never starts an item past its expiry
    empty_detail = "không có cụm loa nào ở địa bàn này (thêm thiết bị ở trang Cụm loa)"
    concurrency = 50

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        sender: RtpSender | None = None,
        icecast_password: str = "",
        live_hub: live.LiveHub | None = None,
        schedules: schedule.ScheduleCache | None = None,
    ) -> None:
        self.sessions = sessions
        self.schedules = schedules or schedule.ScheduleCache()  # the process's, shared with the device API
        self.live = live_hub or live.LiveHub()
        self.notifier = notifier
        self.sender = sender or RtpSender()
        self.icecast_password = icecast_password
        self.casting: dict[str, tuple[int, str, asyncio.Task[None]]] = {}  # mount -> (row, priority, task)
        self.playing: dict[str, tuple[int, str, Stream]] = {}  # device -> (row, priority, stream)
        self.tasks: set[asyncio.Task[None]] = set()
        self.ends: dict[str, float] = {}  # device or mount -> when what plays there should end (monotonic)

    async def close(self) -> None:
        for _row, _priority, stream in list(self.playing.values()):
            self.sender.stop(stream)
        for _row, _priority, task in list(self.casting.values()):
            task.cancel()
        for task in list(self.tasks):
            await task
        self.sender.close()

    def live_rows(self) -> set[int]:
        """Rows this process is playing now: RTP streams and stream mounts."""
        return {row for row, _p, _s in self.playing.values()} | {row for row, _p, _t in self.casting.values()}

    async def cut(self, rows: set[int]) -> int:
        """A stop: the RTP streams, Icecast mounts and live stream of these rows end now
        (their rows are settled already, so nothing is queued again); pull clusters read
        their schedule again, without the item."""
        self.schedules.forget()
        self.notifier.notify()
        cut = 0
        for _row, _priority, stream in [p for p in self.playing.values() if p[0] in rows]:
            self.sender.stop(stream)
            cut += 1
        for _row, _priority, task in [c for c in self.casting.values() if c[0] in rows]:
            task.cancel()
            cut += 1
        return cut

    async def _requeue(self, row: int) -> None:
        """An emergency cut this row's playing short: back in the queue, to play again after it."""
        async with self.sessions() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == row, Delivery.state == DeliveryState.SENT)
                .values(
                    state=DeliveryState.RETRY, next_attempt_at=utcnow(), detail="bị bản tin khẩn cắt ngang; sẽ phát lại"
                )
            )
            await session.commit()

    async def targets_query(self, session: AsyncSession, area_ids: list[int], emergency: bool = False) -> Any:
        areas = await subtree(session, area_ids)
        return select(Device.code).where(Device.area_id.in_(areas), Device.enabled.is_(True))

    async def deliver(self, job: Job) -> Outcome:
        async with self.sessions() as session:
            device = (await session.execute(select(Device).where(Device.code == job.claim.target))).scalar_one_or_none()
            if device is None or not device.enabled:
                return Outcome(DeliveryState.FAILED, detail="thiết bị không còn trong danh sách hoặc đã tắt")
            item = f"{job.bulletin_id}:{job.claim.occurrence}"
            if device.kind == "pull":
                early = await proof.finished_before(session, device, item)
                if early is not None:
                    kind = proof.SETTLES[early.event]
                    return Outcome(kind, detail=f"cụm loa đã báo {early.event} (theo lịch của cụm)")
                self.schedules.forget()
                self.notifier.notify()  # long-polling clusters fetch it now
                return Outcome(DeliveryState.SENT, detail="đã vào lịch của cụm loa, chờ cụm báo đã phát")
            host, _, port = device.rtp_address.rpartition(":")
            codec = device.codec
        audio = job.artifacts.get("loudspeaker")
        if audio is None:
            return Outcome(DeliveryState.FAILED, detail="chưa có âm thanh loa cho bản tin")
        if device.kind == "rtp":
            current = self.playing.get(device.code)
            if current is not None:
                if job.priority != "emergency" or current[1] == "emergency":
                    return await self._busy(job, device.code)
                self.sender.stop(current[2])  # the emergency interrupts; that row is queued again
            frames = await asyncio.to_thread(_encoded, str(audio), codec)
            self.ends[device.code] = time.monotonic() + len(frames) * 0.02
            task = asyncio.create_task(self._stream(job, device.code, host, int(port), codec, frames))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return Outcome(DeliveryState.SENT, detail=f"đang phát RTP {codec} tới {host}:{port}")
        if device.kind == "stream":
            return await self._cast(job, device.rtp_address, str(audio))
        return Outcome(DeliveryState.FAILED, detail=f"loại thiết bị '{device.kind}' chưa được kênh này hỗ trợ")

    async def _busy(self, job: Job, where: str) -> Outcome:
        """The speaker or mount plays another item: wait for its end, within the air window."""
        async with self.sessions() as session:
            queued = (
                await session.execute(select(Delivery.created_at).where(Delivery.id == job.claim.id))
            ).scalar_one()
        limit = queued + BUSY_WAIT
        deadline = min(limit, job.expires_at) if job.expires_at is not None else limit
        left = (deadline - utcnow()).total_seconds()
        if left <= 0:
            minutes = round((utcnow() - queued).total_seconds() / 60)
            why = f"loa bận phát bản tin khác suốt {minutes} phút, quá thời gian chờ: không phát"
            return Outcome(DeliveryState.FAILED, detail=why)
        ends = self.ends.get(where, time.monotonic() + 30.0) - time.monotonic()
        wait = min(max(ends + 1.0, 2.0), 60.0, left)
        return Outcome(DeliveryState.RETRY, detail=BUSY_DETAIL, retry_after=wait, defer=True)

    async def _cast(self, job: Job, url: str, audio: str) -> Outcome:
        """Stream receivers listen to an Icecast mount: one live stream per mount at a time;
        an emergency ends the normal one, which is queued again."""
        current = self.casting.get(url)
        if current is not None and not current[2].done():
            if job.priority != "emergency" or current[1] == "emergency":
                return await self._busy(job, url)
            current[2].cancel()
        data = await asyncio.to_thread(icecast.to_mp3, Path(audio))
        self.ends[url] = time.monotonic() + len(data) * 8 / icecast.BITRATE
        if url == live.ADDRESS:  # the gateway's own /public/live.mp3
            send = self.live.play(data)
        else:
            send = icecast.stream(icecast.IcecastMount(url, self.icecast_password), data)
        task = asyncio.create_task(self._cast_run(job.claim.id, url, send))
        self.casting[url] = (job.claim.id, job.priority, task)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return Outcome(DeliveryState.SENT, detail=f"đang phát trên luồng {url}")

    async def _cast_run(self, row: int, url: str, send: Coroutine[Any, Any, float]) -> None:
        try:
            seconds = await send
        except asyncio.CancelledError:
            await self._requeue(row)
            return
        except (OSError, icecast.IcecastError) as exc:
            async with self.sessions() as session:
                await ledger.confirm(session, row, DeliveryState.FAILED, f"không phát được lên Icecast: {exc}"[:500])
            return
        finally:
            if self.casting.get(url, (None,))[0] == row:
                del self.casting[url]
        async with self.sessions() as session:
            await ledger.confirm(session, row, DeliveryState.DELIVERED, f"đã phát {seconds:.0f} giây trên luồng {url}")

    async def _stream(self, job: Job, code: str, host: str, port: int, codec: str, frames: list[bytes]) -> None:
        """Play in the background; settle the row when the stream ends."""
        stream = self.sender.start(host, port, codec, frames)
        self.playing[code] = (job.claim.id, job.priority, stream)
        try:
            finished = await self.sender.wait(stream)
        finally:
            if self.playing.get(code, (None,))[0] == job.claim.id:
                del self.playing[code]
        if finished.stopped:
            await self._requeue(job.claim.id)
            return
        if finished.priority == "normal":
            log.warning(
                "RTP clock ran at normal priority (no CAP_SYS_NICE): under load packets left up to %.1f ms late",
                finished.late_max * 1000,
            )
        async with self.sessions() as session:
            late = finished.late_max * 1000
            await ledger.confirm(
                session,
                job.claim.id,
                DeliveryState.DELIVERED,
                f"đã phát {finished.sent} gói RTP 20 ms (trễ tối đa {late:.1f} ms)",
            )


def _encoded(path: str, codec: str) -> list[bytes]:
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return encode(samples.mean(axis=1), int(rate), codec)
