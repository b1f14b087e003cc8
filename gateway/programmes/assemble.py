"""A programme's audio: each segment (greeting, items, bridges, closing) rendered with the
voice at broadcast loudness, joined with short pauses between a jingle at each end, and
written once per target format: loudspeaker WAV, telephone μ-law 8 kHz and, when ffmpeg
is there, MP3 for the podcast. Chapter marks are the items' start times.

Segments are rendered one after another and each is reported as soon as it exists. The
MP3 is encoded as the segments come (``programme.mp3`` grows, ``programme.mp3.done``
appears when it is whole), so the first item can be listened to while the rest renders.
A cache of rendered segments (by text) lets a second pass, after the length check
dropped an item, reuse what the first pass rendered.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.bulletins.render import Renderer
from tts.audio.effects import chime, resample, silence
from tts.audio.g711 import encode_ulaw
from tts.audio.writers import Writer, open_writer, to_pcm16
from tts.render import RenderSettings

GAP_SECONDS = 0.8
MP3_BITRATE = "64k"
DONE_SUFFIX = ".done"
WEEKDAYS = ("thứ hai", "thứ ba", "thứ tư", "thứ năm", "thứ sáu", "thứ bảy", "chủ nhật")


def spoken_date(day: date) -> str:
    """ "Hôm nay, thứ hai, ngày 23 tháng 11 năm 2026" (the normalizer reads the numbers)."""
    return f"Hôm nay, {WEEKDAYS[day.weekday()]}, ngày {day.day} tháng {day.month} năm {day.year}"


@dataclass(frozen=True)
class Segment:
    text: str
    item: int | None = None  # the bulletin id when the segment is an item
    title: str = ""


@dataclass(frozen=True)
class Chapter:
    bulletin_id: int
    title: str
    start: float
    duration: float


@dataclass(frozen=True)
class Assembled:
    loudspeaker: Path  # WAV at the voice's rate
    telephone: Path  # μ-law 8 kHz
    web: Path | None  # MP3, when ffmpeg is installed
    sample_rate: int
    duration: float
    chapters: list[Chapter]


async def assemble(
    renderer: Renderer,
    voice: str,
    segments: list[Segment],
    out_dir: Path,
    jingle: bool = True,
    on_segment: Callable[[int, Segment, float], None] | None = None,
    cache: dict[str, npt.NDArray[np.float32]] | None = None,
) -> Assembled:
    import soundfile

    synth = await renderer.synthesizer(voice, "render")
    settings = RenderSettings(loudness_lufs=-16.0)
    rate = synth.sample_rate
    cache = {} if cache is None else cache
    pieces: list[npt.NDArray[np.float32]] = []
    chapters: list[Chapter] = []
    position = 0.0
    mp3 = out_dir / "programme.mp3"
    web = await asyncio.to_thread(_open_mp3, mp3, rate)

    async def add(audio: npt.NDArray[np.float32]) -> None:
        nonlocal position
        piece = audio.astype(np.float32)
        pieces.append(piece)
        position += len(piece) / rate
        if web is not None:
            web.write(piece)  # queued: the encoder's thread writes it while the next segment renders

    try:
        if jingle:
            await add(np.concatenate([chime(rate), silence(0.5, rate)]))
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            for n, segment in enumerate(segments):
                audio = cache.get(segment.text)
                if audio is None:
                    path = Path(tmp) / f"segment-{n}.wav"
                    await synth.arender(segment.text, path, settings)
                    audio, got_rate = await asyncio.to_thread(soundfile.read, str(path), dtype="float32")
                    if got_rate != rate:
                        audio = resample(audio, got_rate, rate)
                    cache[segment.text] = audio
                start = position
                await add(audio)
                if segment.item is not None:
                    chapters.append(Chapter(segment.item, segment.title, round(start, 2), round(len(audio) / rate, 2)))
                await add(silence(GAP_SECONDS, rate))
                if on_segment is not None:
                    on_segment(n, segment, position)
        if jingle:
            await add(chime(rate))
    finally:
        if web is not None:
            await asyncio.to_thread(web.close)
    await asyncio.to_thread(mp3.with_name(mp3.name + DONE_SUFFIX).touch)
    whole = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    loudspeaker = out_dir / "programme.wav"
    telephone = out_dir / "programme.ulaw"
    await asyncio.to_thread(soundfile.write, str(loudspeaker), to_pcm16(whole), rate, subtype="PCM_16")
    await asyncio.to_thread(_write_ulaw, whole, rate, telephone)
    return Assembled(loudspeaker, telephone, mp3 if web is not None else None, rate, len(whole) / rate, chapters)


def _write_ulaw(audio: npt.NDArray[np.float32], rate: int, path: Path) -> None:
    narrow = resample(audio, rate, 8000) if rate != 8000 else audio
    path.write_bytes(encode_ulaw(to_pcm16(narrow)))


def _open_mp3(path: Path, rate: int) -> Encoder | None:
    """The podcast MP3, encoded as the programme is rendered (none without ffmpeg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("ffmpeg") is None:
        return None
    return Encoder(open_writer(path, "mp3", rate, MP3_BITRATE, flush=True))


class Encoder:
    """A writer fed from a thread of its own: rendering the next segment never waits for
    ffmpeg, and the file still grows in order. An error surfaces at ``close``."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.queue: queue.SimpleQueue[npt.NDArray[np.float32] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="programme-mp3", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(chunk)
                except BaseException as exc:  # kept for close(), which the renderer awaits
                    self.error = exc

    def write(self, chunk: npt.NDArray[np.float32]) -> None:
        self.queue.put(chunk)

    def close(self) -> None:
        """Blocks until everything queued is written and the file is complete."""
        self.queue.put(None)
        self.thread.join()
        self.writer.close()
        if self.error is not None:
            raise self.error
