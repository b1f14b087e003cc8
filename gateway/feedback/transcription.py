"""The transcription queue: cases with a recording and no transcript, one job per core at
most, each run off the event loop.

A case is taken with a guarded update (awaiting -> running) so several workers never take
the same one; a worker that dies leaves it running, and after ``stale_after`` it is
awaiting again. With no model installed nothing is taken: the cases wait, marked
"awaiting transcription", and staff transcribe them in the console while listening. A
recording that cannot be transcribed (silent, corrupt) is marked failed with the reason;
the case and its audio stay.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.service import audit
from gateway.db.models import Artifact, Case, utcnow
from gateway.db.states import TranscriptStatus
from gateway.feedback import service, taxonomy
from gateway.feedback.asr.audio import AudioProblem
from gateway.feedback.asr.base import Backend, ModelError, Transcript
from gateway.feedback.asr.pipeline import transcribe_file

log = logging.getLogger(__name__)
ACTOR = "asr"


class TranscriptionQueue:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        load_backend: Callable[[], Backend | None],
        workers: int | None = None,
        stale_after: timedelta = timedelta(minutes=15),
    ) -> None:
        self.sessions = sessions
        self.load_backend = load_backend
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.stale_after = stale_after
        self.backend: Backend | None = None
        self.backend_error = ""
        self._loaded = False

    async def _backend(self) -> Backend | None:
        if not self._loaded:
            self._loaded = True
            try:
                self.backend = await asyncio.to_thread(self.load_backend)
            except ModelError as exc:
                self.backend_error = str(exc)
                log.error("ASR model not loaded: %s", exc)
        return self.backend

    async def tick(self) -> bool:
        """Transcribe up to ``workers`` waiting recordings at once; True if any was taken."""
        await self._recover_stale()
        backend = await self._backend()
        if backend is None:
            return False
        jobs = await self._claim()
        await asyncio.gather(*(self._run(backend, case_id, path) for case_id, path in jobs))
        return bool(jobs)

    async def _recover_stale(self) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(Case)
                .where(
                    Case.transcript_status == TranscriptStatus.RUNNING,
                    Case.transcript_started_at < utcnow() - self.stale_after,
                )
                .values(transcript_status=TranscriptStatus.AWAITING)
            )
            await session.commit()

    async def _claim(self) -> list[tuple[int, Path]]:
        async with self.sessions() as session:
            waiting = (
                await session.execute(
                    select(Case.id, Artifact.path)
                    .join(Artifact, Artifact.sha256 == Case.audio_sha256)
                    .where(Case.transcript_status == TranscriptStatus.AWAITING)
                    .order_by(Case.id)
                    .limit(self.workers)
                )
            ).all()
            taken = []
            for case_id, path in waiting:
                result = await session.execute(
                    update(Case)
                    .where(Case.id == case_id, Case.transcript_status == TranscriptStatus.AWAITING)
                    .values(transcript_status=TranscriptStatus.RUNNING, transcript_started_at=utcnow())
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    taken.append((case_id, Path(path)))
            await session.commit()
        return taken

    async def _run(self, backend: Backend, case_id: int, path: Path) -> None:
        try:
            transcript = await asyncio.to_thread(transcribe_file, backend, path)
        except AudioProblem as exc:
            await self._fail(case_id, exc.message, exc.rule)
            return
        except Exception as exc:
            log.exception("transcription of case %s failed", case_id)
            await self._fail(case_id, f"lỗi nhận dạng: {exc}"[:500], "error")
            return
        await self._store(case_id, transcript)

    async def _store(self, case_id: int, transcript: Transcript) -> None:
        async with self.sessions() as session:
            case = await session.get(Case, case_id)
            if case is None:
                return
            case.transcript_raw, case.transcript_normalized = transcript.raw, transcript.normalized
            case.transcript_status, case.transcript_error = TranscriptStatus.DONE, ""
            if case.category == taxonomy.DEFAULT and not case.text:
                case.category = taxonomy.suggest(transcript.normalized)
            if case.possible_duplicate_of is None:  # now that Loa knows what was said
                case.possible_duplicate_of = await service.find_duplicate(session, case)
            await audit(
                session,
                ACTOR,
                "case_transcribed",
                "case",
                case.ticket,
                backend=transcript.backend,
                seconds=round(transcript.seconds, 1),
                segments=len(transcript.segments),
            )
            await session.commit()

    async def _fail(self, case_id: int, reason: str, rule: str) -> None:
        async with self.sessions() as session:
            case = await session.get(Case, case_id)
            if case is None:
                return
            case.transcript_status, case.transcript_error = TranscriptStatus.FAILED, reason
            await audit(session, ACTOR, "case_transcribe_failed", "case", case.ticket, rule=rule, reason=reason)
            await session.commit()
