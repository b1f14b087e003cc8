"""Render a bulletin's current version with the TTS engine, off the event loop.

Two artifacts per version: ``loudspeaker`` (WAV at the voice's rate, -16 LUFS) and
``telephone`` (G.711 μ-law 8 kHz, the file Asterisk plays). Renders are content-addressed
and idempotent: a render repeated after a crash finds its artifacts and rows in place.

Each voice has one synthesizer per lane (:mod:`tts.lanes`): ``live`` for IVR prompts and
previews, ``render`` for bulletins and programmes. A pronunciation edit swaps in new
synthesizers; the old ones are retired, so renders already running finish with them.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins import own_audio, render_claims
from gateway.bulletins.pronunciations import Pronunciations
from gateway.db.models import Artifact, Bulletin, Render
from gateway.storage.artifacts import ArtifactStore, record
from tts.cache import PhraseCache
from tts.engine import Synthesizer
from tts.render import RenderResult, RenderSettings, render_samples
from tts.text.normalizer import Normalizer

if TYPE_CHECKING:
    from tts.voices.registry import VoiceCache

CLAIM_WAIT_S = 0.25  # how often a process waiting for another's render looks for it
PURPOSES = {
    "loudspeaker": ("wav", RenderSettings(loudness_lufs=-16.0)),
    "telephone": ("ulaw", RenderSettings(loudness_lufs=-18.0)),
}
OWN_AUDIO_VOICE = "tải lên"  # a render of audio the officer brought, not of a voice


@dataclass
class RenderProgress:
    """Live progress per bulletin (0..1), for the console; the database keeps the result."""

    values: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    """What a render reads from its bulletin, once."""

    bulletin_id: int
    version: int
    voice: str
    text: str
    speed: float
    audio_sha256: str | None


class Renderer:
    def __init__(
        self, store: ArtifactStore, pronunciations: Pronunciations, cache: PhraseCache, workers: int = 2
    ) -> None:
        self.store = store
        self.pronunciations = pronunciations
        self.cache = cache  # the second format of a bulletin reuses the first one's phrase audio
        self.progress = RenderProgress()
        self._synths: dict[tuple[str, str, float], Synthesizer] = {}
        self._voice_locks: dict[str, threading.Lock] = {}  # one per voice, shared by its lanes
        self.voices: VoiceCache = {}  # this process's loaded voices (one instance per voice, its lock above)
        self._overrides: dict[str, str] | None = None
        self._lock = asyncio.Lock()
        self._workers = workers

    async def synthesizer(self, voice_id: str, lane: str = "live", speed: float = 1.0) -> Synthesizer:
        """The voice's synthesizer in ``lane`` at ``speed``, rebuilt when the pronunciation
        overrides change: the replaced ones are retired (work they started runs to its end)."""
        async with self._lock:
            overrides = await asyncio.to_thread(self.pronunciations.load)
            if overrides != self._overrides:
                for synth in self._synths.values():
                    synth.close()
                self._synths.clear()
                self._overrides = overrides
            if (voice_id, lane, speed) not in self._synths:
                from tts.voices.registry import load_voice

                voice = await asyncio.to_thread(load_voice, voice_id, 0, speed, self.voices)
                # The live lane needs one thread: a prompt is a phrase or two, and its
                # first phrase runs alone anyway.
                self._synths[(voice_id, lane, speed)] = Synthesizer(
                    voice,
                    Normalizer(overrides=overrides),
                    cache=self.cache,
                    workers=self._workers if lane == "render" else 1,
                    lane=lane,
                    voice_lock=self._voice_locks.setdefault(voice_id, threading.Lock()),
                )
            return self._synths[(voice_id, lane, speed)]

    async def spoken_text(self, voice_id: str, text: str) -> str:
        synth = await self.synthesizer(voice_id, "live")
        return await asyncio.to_thread(synth.spoken_text, text)

    async def spoken_marks(self, voice_id: str, text: str) -> list[list[dict[str, str | None]]]:
        synth = await self.synthesizer(voice_id, "live")
        return await asyncio.to_thread(synth.spoken_marks, text)

    async def render(self, session: AsyncSession, bulletin: Bulletin) -> dict[str, Render]:
        """The version's renders, made here or by whichever process holds its render claim
        (``render_claims``): this one waits for that render instead of making its own."""
        # Read once: a rolled-back commit below expires the object, and reloading it
        # lazily would need the sync greenlet bridge (greenlet_spawn) in async code.
        job = _Job(
            bulletin.id,
            bulletin.version,
            bulletin.voice,
            f"{bulletin.title}.\n{bulletin.body}",
            bulletin.speech_speed,
            bulletin.audio_sha256,
        )
        sessions = async_sessionmaker(session.bind, expire_on_commit=False)
        holder = render_claims.new_holder()
        while True:
            existing = await self._existing(sessions, job.bulletin_id, job.version)
            if all(purpose in existing for purpose in PURPOSES):
                return existing
            if await render_claims.take(sessions, job.bulletin_id, job.version, holder):
                break
            await asyncio.sleep(CLAIM_WAIT_S)  # another process renders it
        async with render_claims.held(sessions, job.bulletin_id, job.version, holder):
            existing = await self._existing(sessions, job.bulletin_id, job.version)
            todo = [p for p in PURPOSES if p not in existing]
            if job.audio_sha256 and todo:
                await self._render_own(session, job, existing, todo)
            elif todo:
                await self._render(session, job, existing, todo)
        self.progress.values[job.bulletin_id] = 1.0
        return existing

    async def _existing(
        self, sessions: async_sessionmaker[AsyncSession], bulletin_id: int, version: int
    ) -> dict[str, Render]:
        async with sessions() as fresh:  # a new snapshot each time: another process's renders
            found = await fresh.execute(
                select(Render).where(Render.bulletin_id == bulletin_id, Render.version == version)
            )
            return {r.purpose: r for r in found.scalars()}

    async def _render(self, session: AsyncSession, job: _Job, existing: dict[str, Render], todo: list[str]) -> None:
        synth = await self.synthesizer(job.voice, "render", job.speed)
        for n, purpose in enumerate(todo):
            ext, settings = PURPOSES[purpose]

            def progress(done: int, total: int, n: int = n) -> None:
                self.progress.values[job.bulletin_id] = (n + done / max(total, 1)) / len(todo)

            with tempfile.TemporaryDirectory(dir=self.store.root) as tmp:
                out = Path(tmp) / f"render.{ext}"
                result = await synth.arender(job.text, out, settings, progress)
                existing[purpose] = await self._keep(session, job, purpose, out, result, result.spoken_text, job.voice)

    async def _keep(
        self, session: AsyncSession, job: _Job, purpose: str, out: Path, result: RenderResult, spoken: str, voice: str
    ) -> Render:
        """Store ``out`` (inside its temporary folder still) and the version's Render row."""
        ext = PURPOSES[purpose][0]
        sha, path, size = await asyncio.to_thread(self.store.put_file, out, ext)
        await record(session, sha, path, size, ext)
        render = Render(
            bulletin_id=job.bulletin_id,
            version=job.version,
            purpose=purpose,
            artifact_sha256=sha,
            format=ext,
            sample_rate=result.sample_rate,
            duration_seconds=result.duration_seconds,
            spoken_text=spoken,
            voice=voice,
        )
        session.add(render)
        try:
            await session.commit()
        except IntegrityError:  # another process rendered the same version first (a claim taken over)
            await session.rollback()
        return render

    async def _render_own(self, session: AsyncSession, job: _Job, existing: dict[str, Render], todo: list[str]) -> None:
        """The audio the officer brought, through the same loudness pass as a synthesized
        render (gateway.bulletins.own_audio); off the event loop."""
        master = await session.get(Artifact, job.audio_sha256)
        if master is None:
            raise RuntimeError(f"thiếu tệp âm thanh tải lên {job.audio_sha256}")
        samples = await asyncio.to_thread(own_audio.read_master, Path(master.path))
        for purpose in todo:
            ext, settings = PURPOSES[purpose]
            with tempfile.TemporaryDirectory(dir=self.store.root) as tmp:
                out = Path(tmp) / f"render.{ext}"
                result = await asyncio.to_thread(render_samples, samples, own_audio.RATE, out, settings)
                existing[purpose] = await self._keep(session, job, purpose, out, result, "", OWN_AUDIO_VOICE)
