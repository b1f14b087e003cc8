"""A programme's audio: each segment (greeting, items, bridges, closing) rendered with the
voice at broadcast loudness, joined with short pauses between a jingle at each end, and
written once per target format: loudspeaker WAV, telephone μ-law 8 kHz and, when ffmpeg
is there, MP3 for the podcast. Chapter marks are the items' start times.

Segments are rendered one after another and each is reported as soon as it exists, so
the first item can be listened to (and measured) before the whole programme is done.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.bulletins.render import Renderer
from tts.audio.effects import chime, resample, silence
from tts.audio.g711 import encode_ulaw
from tts.audio.writers import to_pcm16
from tts.render import RenderSettings

GAP_SECONDS = 0.8
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
) -> Assembled:
    import soundfile

    synth = await renderer.synthesizer(voice)
    settings = RenderSettings(loudness_lufs=-16.0)
    rate = synth.sample_rate
    pieces: list[npt.NDArray[np.float32]] = []
    chapters: list[Chapter] = []
    position = 0.0

    def add(audio: npt.NDArray[np.float32]) -> None:
        nonlocal position
        pieces.append(audio.astype(np.float32))
        position += len(audio) / rate

    if jingle:
        add(np.concatenate([chime(rate), silence(0.5, rate)]))
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for n, segment in enumerate(segments):
            path = Path(tmp) / f"segment-{n}.wav"
            await synth.arender(segment.text, path, settings)
            audio, got_rate = await asyncio.to_thread(soundfile.read, str(path), dtype="float32")
            if got_rate != rate:
                audio = resample(audio, got_rate, rate)
            start = position
            add(audio)
            if segment.item is not None:
                chapters.append(Chapter(segment.item, segment.title, round(start, 2), round(len(audio) / rate, 2)))
            add(silence(GAP_SECONDS, rate))
            if on_segment is not None:
                on_segment(n, segment, position)
    if jingle:
        add(chime(rate))
    whole = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    loudspeaker = out_dir / "programme.wav"
    telephone = out_dir / "programme.ulaw"
    await asyncio.to_thread(soundfile.write, str(loudspeaker), to_pcm16(whole), rate, subtype="PCM_16")
    await asyncio.to_thread(_write_ulaw, whole, rate, telephone)
    web = await asyncio.to_thread(_write_mp3, whole, rate, out_dir / "programme.mp3")
    return Assembled(loudspeaker, telephone, web, rate, len(whole) / rate, chapters)


def _write_ulaw(audio: npt.NDArray[np.float32], rate: int, path: Path) -> None:
    narrow = resample(audio, rate, 8000) if rate != 8000 else audio
    path.write_bytes(encode_ulaw(to_pcm16(narrow)))


def _write_mp3(audio: npt.NDArray[np.float32], rate: int, path: Path) -> Path | None:
    if shutil.which("ffmpeg") is None:
        return None
    from tts.audio.writers import open_writer

    writer = open_writer(path, "mp3", rate, "64k")
    try:
        writer.write(audio)
    finally:
        writer.close()
    return path
