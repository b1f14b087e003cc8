"""Recordings in, model-rate float32 out. Telephone audio (8 kHz) and anything else is
resampled here and only here (soxr, VHQ), so every backend sees the rate it wants.

Asterisk leaves recordings as WAV (``wav``, ``wav49``), raw signed linear (``sln``,
``sln16``), or raw G.711 (``ulaw``, ``alaw``); the raw ones are read by extension.
Everything a person uploads is checked: empty, silent and unreadable files get a clear
reason in Vietnamese instead of an empty transcript.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from tts.audio import effects
from tts.audio.g711 import decode_alaw, decode_ulaw

RAW_FORMATS = {"sln": 8000, "sln16": 16000, "ulaw": 8000, "alaw": 8000, "raw": 8000}
MIN_SECONDS = 0.3
# Measured from the header before decoding: a 180 KB FLAC of silence can claim two hours
# (650 MB as float32). A hotline recording is at most 20 MB, about 20 minutes at 8 kHz.
MAX_SECONDS = 30 * 60
MAX_SAMPLES = 48_000_000  # frames x channels: 192 MB as float32
SILENCE_DBFS = -55.0


class AudioProblem(Exception):
    """A recording Loa cannot transcribe; ``rule`` is machine-readable, the message is for staff."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # float32 mono, -1..1
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def decode(data: bytes, extension: str) -> Clip:
    ext = extension.lower().lstrip(".")
    try:
        if ext in ("ulaw", "alaw"):
            pcm = (decode_ulaw if ext == "ulaw" else decode_alaw)(data)
            return Clip(pcm.astype(np.float32) / 32768.0, RAW_FORMATS[ext])
        if ext in RAW_FORMATS:
            usable = len(data) // 2 * 2
            return Clip(np.frombuffer(data[:usable], "<i2").astype(np.float32) / 32768.0, RAW_FORMATS[ext])
        with sf.SoundFile(io.BytesIO(data)) as fh:
            rate = fh.samplerate
            cap = _frames_allowed(fh.frames, rate, fh.channels)
            # At most ``cap`` frames are allocated and read, whatever the header said.
            samples = fh.read(frames=cap + 1, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioProblem("corrupt", f"tệp âm thanh hỏng hoặc không đọc được ({exc})") from exc
    if len(samples) > cap:
        raise AudioProblem("too_long", f"bản ghi dài hơn {MAX_SECONDS // 60} phút")
    return Clip(samples.mean(axis=1).astype(np.float32), int(rate))


def _frames_allowed(frames: int, rate: int, channels: int) -> int:
    """How many frames may be decoded; AudioProblem when the header already says too many."""
    if rate <= 0 or channels <= 0:
        raise AudioProblem("corrupt", "tệp âm thanh hỏng: tần số lấy mẫu hoặc số kênh không hợp lệ")
    if frames / rate > MAX_SECONDS:
        minutes = frames / rate / 60
        raise AudioProblem("too_long", f"bản ghi dài {minutes:.0f} phút (tối đa {MAX_SECONDS // 60} phút)")
    if frames * channels > MAX_SAMPLES:
        raise AudioProblem(
            "too_large", f"bản ghi có {frames * channels:,} mẫu âm thanh (tối đa {MAX_SAMPLES:,}): lấy mẫu quá dày"
        )
    return min(MAX_SECONDS * rate, MAX_SAMPLES // channels)


def load(path: Path) -> Clip:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioProblem("missing", f"không đọc được tệp ghi âm: {exc.strerror}") from exc
    return decode(data, path.suffix)


def level_dbfs(samples: np.ndarray) -> float:
    if not len(samples):
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return float(20 * np.log10(max(rms, 1e-6)))


def check(clip: Clip) -> None:
    """Refuse what cannot hold speech, with the reason."""
    if clip.seconds < MIN_SECONDS:
        raise AudioProblem("empty", f"bản ghi quá ngắn ({clip.seconds:.1f} giây), không có nội dung")
    if level_dbfs(clip.samples) < SILENCE_DBFS:
        raise AudioProblem("silent", "bản ghi chỉ có im lặng")


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """The one place recordings change rate (the engine's resampler, at soxr's VHQ)."""
    return effects.resample(samples, rate, target, quality="VHQ")
