"""Render a bulletin to a file: two passes over a temporary file, bounded memory.

Pass 1 streams phrase audio, resamples it to the output rate, adds the optional chime
and measures integrated loudness (EBU R128) as it goes. Pass 2 reads the temporary file
back in one-second blocks, applies the loudness gain and a true-peak limiter, fades
the ends and encodes. Memory is a few blocks whatever the bulletin's length.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tts.audio.effects import chime, fade, resample, silence
from tts.audio.limiter import limit, sample_envelope
from tts.audio.loudness import LoudnessMeter
from tts.audio.writers import Writer, check_rate, default_rate, format_for, open_writer

if TYPE_CHECKING:
    from tts.engine import Synthesizer

MAX_GAIN_DB = 30.0
_BLOCK_S = 1.0
_MARGIN_S = 0.1
_MAKEUP_PASSES = 3
_MAX_MAKEUP_DB = 4.0


@dataclass(frozen=True)
class RenderSettings:
    format: str | None = None  # from the file extension when None
    rate: int | None = None  # the format's default when None
    loudness_lufs: float | None = -16.0  # None: no loudness normalization
    true_peak_dbtp: float = -1.0
    chime: bool = False
    bitrate: str | None = None


@dataclass(frozen=True)
class RenderResult:
    path: Path
    format: str
    sample_rate: int
    duration_seconds: float
    wall_seconds: float
    first_audio_seconds: float
    input_loudness_lufs: float
    gain_db: float
    spoken_text: str
    phrases: int

    @property
    def real_time_factor(self) -> float:
        return self.wall_seconds / self.duration_seconds if self.duration_seconds > 0 else 0.0


def _codec_headroom(fmt: str | None) -> float:
    """Extra dB below the ceiling for codecs whose quantization or filtering adds peaks."""
    # 0.2 dB for every format: our 4x interpolator reads intersample peaks of 8 kHz audio
    # a little lower than a 192 kHz meter (ffmpeg's ebur128) does.
    return 0.2 + {"ulaw": 0.4, "alaw": 0.4, "mp3": 0.5, "opus": 1.3}.get(fmt or "", 0.0)


def _process(
    samples: np.ndarray,
    envelope: np.ndarray,
    rate: int,
    gain_db: float,
    settings: RenderSettings,
    writer: Writer | None,
) -> float:
    """Gain, true-peak limit and fades over the whole file in blocks; returns the loudness
    of the result and writes it when ``writer`` is given. ``envelope`` is the true-peak
    envelope of ``samples`` at unity gain."""
    gain = np.float32(10 ** (gain_db / 20))
    meter = LoudnessMeter(rate)
    total = samples.shape[0]
    block, margin = int(rate * _BLOCK_S), int(rate * _MARGIN_S)
    ceiling = settings.true_peak_dbtp - _codec_headroom(settings.format)
    for begin in range(0, total, block):
        lo, hi = max(0, begin - margin), min(total, begin + block + margin)
        piece = np.asarray(samples[lo:hi], dtype=np.float32) * gain
        env = np.asarray(envelope[lo:hi], dtype=np.float32) * gain
        piece = limit(piece, ceiling, rate, envelope=env)[begin - lo : begin - lo + min(block, total - begin)]
        if begin == 0:
            piece = fade(piece, rate, 10.0, 0.0)
        if begin + block >= total:
            piece = fade(piece, rate, 0.0, 30.0)
        meter.add(piece)
        if writer is not None:
            writer.write(piece)
    return meter.integrated()


def _envelope_file(samples: np.ndarray, rate: int, handle: Any) -> np.ndarray:
    """True-peak envelope of the whole file, computed once, kept on disk beside it."""
    total = samples.shape[0]
    block, margin = int(rate * _BLOCK_S), 16
    for begin in range(0, total, block):
        lo, hi = max(0, begin - margin), min(total, begin + block + margin)
        env = sample_envelope(np.asarray(samples[lo:hi], dtype=np.float32))
        handle.write(env[begin - lo : begin - lo + min(block, total - begin)].astype(np.float32).tobytes())
    handle.flush()
    return np.memmap(handle, dtype=np.float32, mode="r", shape=(total,)) if total else np.zeros(0, np.float32)


def render_to_file(
    synth: Synthesizer,
    text: str,
    path: Path,
    settings: RenderSettings,
    on_progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    start = time.perf_counter()
    fmt = format_for(path, settings.format)
    rate = settings.rate or default_rate(fmt, path, synth.sample_rate)
    check_rate(fmt, rate)
    meter = LoudnessMeter(rate)
    first_audio = 0.0
    phrases = 0
    with tempfile.TemporaryFile() as tmp:
        import soxr

        resampler = soxr.ResampleStream(synth.sample_rate, rate, 1, dtype="float32", quality="HQ")

        def emit(block: np.ndarray) -> None:
            block = np.asarray(block, dtype=np.float32)
            if block.size:
                meter.add(block)
                tmp.write(block.tobytes())

        if settings.chime:
            emit(np.concatenate([chime(rate), silence(0.4, rate)]))
        for chunk in synth.stream(text, on_progress):
            if phrases == 0:
                first_audio = time.perf_counter() - start
            phrases += 1
            emit(resampler.resample_chunk(chunk.audio, last=False) if rate != synth.sample_rate else chunk.audio)
        if rate != synth.sample_rate:
            emit(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if settings.chime:
            emit(np.concatenate([silence(0.3, rate), chime(rate)]))
        tmp.flush()
        total = tmp.tell() // 4
        loudness = meter.integrated()
        samples = np.memmap(tmp, dtype=np.float32, mode="r", shape=(total,)) if total else np.zeros(0, np.float32)
        try:
            gain_db = _normalize_and_write(samples, rate, loudness, settings, fmt, path)
        finally:
            del samples
    return RenderResult(
        path=path,
        format=fmt,
        sample_rate=rate,
        duration_seconds=total / rate,
        wall_seconds=time.perf_counter() - start,
        first_audio_seconds=first_audio,
        input_loudness_lufs=loudness,
        gain_db=gain_db,
        spoken_text=synth.spoken_text(text),
        phrases=phrases,
    )


def _normalize_and_write(
    samples: np.ndarray, rate: int, loudness: float, settings: RenderSettings, fmt: str, path: Path
) -> float:
    """Pass 2 of every render: loudness gain (with make-up passes past the limiter), true-peak
    limit, fades, encode to ``path``. Returns the gain applied."""
    gain_db = 0.0
    if settings.loudness_lufs is not None and np.isfinite(loudness):
        gain_db = float(min(MAX_GAIN_DB, settings.loudness_lufs - loudness))
    env_handle = tempfile.TemporaryFile()
    try:  # closed whatever fails (an output folder removed under a running render included)
        envelope = _envelope_file(samples, rate, env_handle)
        if settings.loudness_lufs is not None and np.isfinite(loudness):
            # The limiter lowers loudness where it acts: measure the limited result and
            # add make-up gain until the delivered file is within 0.3 LU of the target.
            base = gain_db
            for _ in range(_MAKEUP_PASSES):
                achieved = _process(samples, envelope, rate, gain_db, replace(settings, format=fmt), None)
                miss = settings.loudness_lufs - achieved
                if not np.isfinite(miss) or abs(miss) < 0.1:
                    break
                gain_db = float(min(MAX_GAIN_DB, base + _MAX_MAKEUP_DB, gain_db + miss))
        writer = open_writer(path, fmt, rate, settings.bitrate)
        try:
            _process(samples, envelope, rate, gain_db, replace(settings, format=fmt), writer)
        finally:
            writer.close()
            del envelope
    finally:
        env_handle.close()
    return gain_db


def render_samples(samples: np.ndarray, rate: int, path: Path, settings: RenderSettings) -> RenderResult:
    """Audio that was not synthesized (a recording an officer brought), rendered exactly as
    a synthesized bulletin is: resampled to the format's rate, then the same loudness
    target, true-peak limiter and fades. ``samples``: float32 mono at ``rate``."""
    start = time.perf_counter()
    fmt = format_for(path, settings.format)
    out_rate = settings.rate or default_rate(fmt, path, rate)
    check_rate(fmt, out_rate)
    audio = np.asarray(samples, dtype=np.float32)
    if out_rate != rate:
        audio = resample(audio, rate, out_rate)
    loudness = LoudnessMeter(out_rate)
    loudness.add(audio)
    measured = loudness.integrated()
    gain_db = _normalize_and_write(audio, out_rate, measured, settings, fmt, path)
    return RenderResult(
        path=path,
        format=fmt,
        sample_rate=out_rate,
        duration_seconds=len(audio) / out_rate,
        wall_seconds=time.perf_counter() - start,
        first_audio_seconds=0.0,
        input_loudness_lufs=measured,
        gain_db=gain_db,
        spoken_text="",
        phrases=0,
    )
