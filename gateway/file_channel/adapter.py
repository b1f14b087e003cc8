"""File channel adapter: one file per ledger row, written atomically and named by the
row, so a recovered claim can confirm a delivery that a killed worker completed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from gateway.db.states import DeliveryState
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome


class FileChannel:
    name = "file"
    quiet_hours_apply = False

    def __init__(self, root: Path, pace_ms: int = 0) -> None:
        self.root = root
        self.pace_ms = pace_ms
        root.mkdir(parents=True, exist_ok=True)

    def _paths(self, job: Job) -> tuple[Path, Path]:
        safe_target = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.claim.target)
        stem = f"{job.bulletin_id}-{job.claim.occurrence}-{job.claim.id}"
        folder = self.root / safe_target
        return folder / f"{stem}.wav", folder / f"{stem}.json"

    def _write(self, job: Job) -> Outcome:
        audio, meta = self._paths(job)
        source = job.artifacts.get("loudspeaker")
        if source is None or not source.is_file():
            return Outcome(DeliveryState.RETRY, detail="chưa có tệp âm thanh cho loa", retry_after=10)
        if job.claim.recovered and audio.exists() and meta.exists():
            return Outcome(
                DeliveryState.DELIVERED,
                reference=str(audio.relative_to(self.root)),
                detail="xác nhận sau khi khởi động lại",
            )
        audio.parent.mkdir(parents=True, exist_ok=True)
        tmp = audio.with_suffix(".wav.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, audio)
        record = {
            "delivery": job.claim.id,
            "bulletin": job.bulletin_id,
            "title": job.title,
            "priority": job.priority,
            "target": job.claim.target,
            "occurrence": job.claim.occurrence,
        }
        tmp_meta = meta.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp_meta, meta)
        with (self.root / "journal.log").open("a", encoding="utf-8") as journal:  # one line per real write
            journal.write(f"{job.claim.id}\n")
            journal.flush()
            os.fsync(journal.fileno())
        return Outcome(DeliveryState.DELIVERED, reference=str(audio.relative_to(self.root)))

    async def deliver(self, job: Job) -> Outcome:
        if self.pace_ms:
            await asyncio.sleep(self.pace_ms / 1000)
        return await asyncio.to_thread(self._write, job)
