"""Recordings from residents, never lost: spooled to disk first, filed as cases second.

``accept`` writes the audio and its details to the spool (temporary name, fsync, rename;
the details file last), and only then says "received". ``file`` turns a spooled recording
into an artifact and a case whose ``intake_ref`` is the spool id, then removes the spool
files. If the database is down, the recording waits in the spool; if the process dies
between the case's commit and the cleanup, the next ``file`` finds the case by its
``intake_ref`` instead of filing it twice. The worker files whatever is spooled at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Case
from gateway.feedback import service
from gateway.phones import to_e164
from gateway.storage.artifacts import ArtifactStore, record

log = logging.getLogger(__name__)

EXTENSIONS = ("wav", "sln", "sln16", "ulaw", "alaw", "gsm", "mp3", "ogg", "opus", "flac", "webm", "m4a")
MAX_BYTES = 20 * 1024 * 1024  # about 20 minutes of 8 kHz 16-bit audio


@dataclass(frozen=True)
class Recording:
    channel: str = "hotline"
    caller: str = ""
    area_code: str | None = None
    text: str = ""  # what the caller chose or typed beside the recording (IVR menu, note)


def _write(path: Path, data: bytes | BinaryIO) -> int:
    """Write (or copy, block by block) to ``path`` atomically; the size, or WorkflowError
    413 past ``MAX_BYTES`` (nothing is left behind then)."""
    tmp = path.with_name(path.name + ".tmp")
    size = 0
    with tmp.open("wb") as fh:
        blocks = [data] if isinstance(data, bytes) else iter(lambda: data.read(1 << 20), b"")
        for block in blocks:
            size += len(block)
            if size > MAX_BYTES:
                fh.close()
                tmp.unlink()
                raise WorkflowError("audio", f"bản ghi quá lớn (tối đa {MAX_BYTES // 2**20} MB)", 413)
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return size


class Spool:
    def __init__(self, root: Path, store: ArtifactStore) -> None:
        self.root = root
        self.store = store
        root.mkdir(parents=True, exist_ok=True)

    def accept(self, data: bytes | BinaryIO, extension: str, recording: Recording) -> str:
        """Keep the recording on disk; returns its spool id. Refuses only what is not a
        recording. ``data`` may be a file (an upload the server spooled): it is copied in
        blocks, never held in memory whole. Blocking: call it from a thread."""
        ext = extension.lower().lstrip(".")
        if ext not in EXTENSIONS:
            raise WorkflowError("audio", f"định dạng '{ext}' không được nhận (nhận: {', '.join(EXTENSIONS)})", 422)
        ref = uuid.uuid4().hex
        audio = self.root / f"{ref}.{ext}"
        if not _write(audio, data):
            audio.unlink()
            raise WorkflowError("audio", "bản ghi rỗng (0 byte): người gọi chưa nói gì", 422)
        _write(self.root / f"{ref}.json", json.dumps(asdict(recording) | {"ext": ext}, ensure_ascii=False).encode())
        return ref

    def pending(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))

    async def file(self, sessions: async_sessionmaker[AsyncSession], ref: str) -> Case:
        """File one spooled recording as a case (once, whatever happened before)."""
        meta = json.loads((self.root / f"{ref}.json").read_text(encoding="utf-8"))
        audio = self.root / f"{ref}.{meta['ext']}"
        async with sessions() as session:
            existing = (await session.execute(select(Case).where(Case.intake_ref == ref))).scalar_one_or_none()
            if existing is not None:
                self._remove(ref, meta["ext"])
                return existing
            copy = audio.with_name(audio.name + ".store")
            shutil.copyfile(audio, copy)  # the store moves its input; the spool keeps the original
            sha, path, size = self.store.put_file(copy, meta["ext"])
            await record(session, sha, path, size, meta["ext"])
            intake = service.Intake(meta["channel"], meta["text"], meta["caller"], meta["area_code"], audio_sha256=sha)
            try:
                case = await service.file_case(session, intake, actor=meta["channel"], intake_ref=ref)
            except IntegrityError:  # filed by another worker a moment ago
                await session.rollback()
                case = (await session.execute(select(Case).where(Case.intake_ref == ref))).scalar_one()
        self._remove(ref, meta["ext"])
        return case

    async def file_all(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        filed = 0
        for ref in self.pending():
            try:
                await self.file(sessions, ref)
                filed += 1
            except WorkflowError as exc:  # e.g. an area deleted since: file without it next time
                log.warning("spooled recording %s: %s: %s", ref, exc.field, exc.message)
                self._relax(ref, exc.field)
            except Exception:
                log.exception("spooled recording %s not filed yet; it stays in the spool", ref)
        return filed

    def _relax(self, ref: str, field: str) -> None:
        """Drop the detail that keeps a recording out of the register, keeping it in the text."""
        path = self.root / f"{ref}.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        if field == "area":
            meta["text"] = f"[địa bàn: {meta['area_code']}] {meta['text']}".strip()
            meta["area_code"] = None
        elif field == "caller":
            meta["text"] = f"[số gọi đến: {meta['caller']}] {meta['text']}".strip()
            meta["caller"] = ""
        else:
            meta["text"] = meta["text"][: service.MAX_TEXT // 2]
        _write(path, json.dumps(meta, ensure_ascii=False).encode())

    def _remove(self, ref: str, ext: str) -> None:
        (self.root / f"{ref}.json").unlink(missing_ok=True)  # first: without it nothing is pending
        (self.root / f"{ref}.{ext}").unlink(missing_ok=True)


async def receive(
    spool: Spool,
    sessions: async_sessionmaker[AsyncSession],
    data: bytes | BinaryIO,
    filename: str,
    recording: Recording,
) -> Case | str:
    """One recording in, from the API or the console: checked (caller, area, format), kept
    in the spool, then filed. The case, or the spool id when the database could not take it
    yet (the worker files it later)."""
    if recording.caller:
        to_e164(recording.caller, "caller")
    if recording.area_code:
        async with sessions() as session:
            found = await session.execute(select(Area.id).where(Area.code == recording.area_code))
            if found.scalar_one_or_none() is None:
                raise WorkflowError("area", f"không có địa bàn mã '{recording.area_code}'", 422)
    ref = await asyncio.to_thread(spool.accept, data, Path(filename).suffix or ".wav", recording)
    try:
        return await spool.file(sessions, ref)
    except Exception:
        log.exception("recording %s kept in the spool; the worker will file it", ref)
        return ref
