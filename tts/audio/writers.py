"""Streaming writers for the formats Loa delivers.

| format | file | rate |
| wav   | RIFF PCM 16-bit mono              | any (default: the voice's) |
| ulaw  | raw G.711 μ-law (Asterisk .ulaw)  | 8000 |
| alaw  | raw G.711 A-law (Asterisk .alaw)  | 8000 |
| sln   | raw signed linear 16-bit LE (Asterisk .sln, .sln16 at 16 kHz) | 8000 / 16000 / ... |
| mp3   | MPEG-1/2 layer III via ffmpeg     | 8000-48000 |
| opus  | Ogg Opus via ffmpeg               | encoded at 48 kHz, any input rate |
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from tts.audio.g711 import encode_alaw, encode_ulaw

FORMATS = ("wav", "ulaw", "alaw", "sln", "mp3", "opus")
TELEPHONE_FORMATS = ("ulaw", "alaw")
_EXTENSIONS = {
    ".wav": "wav",
    ".ulaw": "ulaw",
    ".ul": "ulaw",
    ".alaw": "alaw",
    ".al": "alaw",
    ".sln": "sln",
    ".sln16": "sln",
    ".raw": "sln",
    ".mp3": "mp3",
    ".opus": "opus",
    ".ogg": "opus",
}
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class AudioFormatError(ValueError):
    """A format/rate combination that cannot be written; the message names the option."""


def format_for(path: Path, explicit: str | None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise AudioFormatError(f"--format: phải là một trong {', '.join(FORMATS)}")
        return explicit
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise AudioFormatError(f"--format: không đoán được định dạng từ đuôi tệp '{path.suffix}', hãy ghi rõ --format")
    return fmt


def default_rate(fmt: str, path: Path, voice_rate: int) -> int:
    if fmt in TELEPHONE_FORMATS:
        return 8000
    if fmt == "sln":
        return 16000 if path.suffix.lower() == ".sln16" else 8000
    if fmt == "opus":
        return 48000
    return voice_rate


def check_rate(fmt: str, rate: int) -> None:
    if rate < 8000 or rate > 48000:
        raise AudioFormatError("--rate: tần số lấy mẫu phải từ 8000 đến 48000 Hz")
    if fmt in TELEPHONE_FORMATS and rate != 8000:
        raise AudioFormatError(f"--rate: định dạng {fmt} (G.711) chỉ dùng 8000 Hz")
    if fmt == "mp3" and rate not in _MP3_RATES:
        raise AudioFormatError(f"--rate: MP3 chỉ hỗ trợ {', '.join(map(str, _MP3_RATES))} Hz")


def to_pcm16(x: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


class Writer(Protocol):
    def write(self, chunk: npt.NDArray[np.float32]) -> None: ...
    def close(self) -> None: ...


class _RawWriter:
    def __init__(self, path: Path, fmt: str) -> None:
        self.fh: BinaryIO = path.open("wb")
        self.fmt = fmt

    def write(self, chunk: npt.NDArray[np.float32]) -> None:
        pcm = to_pcm16(chunk)
        if self.fmt == "ulaw":
            self.fh.write(encode_ulaw(pcm))
        elif self.fmt == "alaw":
            self.fh.write(encode_alaw(pcm))
        else:
            self.fh.write(pcm.astype("<i2").tobytes())

    def close(self) -> None:
        self.fh.close()


class _WavWriter:
    def __init__(self, path: Path, rate: int) -> None:
        import soundfile as sf

        self.file = sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV")

    def write(self, chunk: npt.NDArray[np.float32]) -> None:
        self.file.write(to_pcm16(chunk))

    def close(self) -> None:
        self.file.close()


class _FfmpegWriter:
    """Pipes 16-bit PCM into ffmpeg (Debian package) for MP3 and Opus. ``flush`` makes
    the file grow as the audio comes (each write reaches ffmpeg, each packet the file),
    for a reader that follows it while it is written."""

    def __init__(self, path: Path, fmt: str, rate: int, bitrate: str | None, flush: bool = False) -> None:
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise AudioFormatError(f"--format {fmt}: cần ffmpeg (apt-get install ffmpeg)")
        codec = (
            ["-c:a", "libmp3lame", "-b:a", bitrate or "64k", "-f", "mp3"]
            if fmt == "mp3"
            else ["-c:a", "libopus", "-b:a", bitrate or "32k", "-application", "voip", "-f", "ogg"]
        )
        self.proc = subprocess.Popen(
            [
                exe,
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-y",
                "-f",
                "s16le",
                "-ar",
                str(rate),
                "-ac",
                "1",
                "-i",
                "pipe:0",
                *codec,
                *(["-flush_packets", "1"] if flush else []),
                str(path),
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.flush = flush

    def write(self, chunk: npt.NDArray[np.float32]) -> None:
        assert self.proc.stdin is not None  # opened with stdin=PIPE
        self.proc.stdin.write(to_pcm16(chunk).astype("<i2").tobytes())
        if self.flush:
            self.proc.stdin.flush()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.stderr is not None  # opened with stderr=PIPE
        err = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stderr.close()
        if self.proc.wait() != 0:
            raise AudioFormatError(f"ffmpeg không mã hóa được tệp: {err.strip()[:300]}")


def open_writer(path: Path, fmt: str, rate: int, bitrate: str | None = None, flush: bool = False) -> Writer:
    check_rate(fmt, rate)
    if fmt == "wav":
        return _WavWriter(path, rate)
    if fmt in ("ulaw", "alaw", "sln"):
        return _RawWriter(path, fmt)
    return _FfmpegWriter(path, fmt, rate, bitrate, flush)
