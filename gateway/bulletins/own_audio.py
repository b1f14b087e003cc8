"""Audio an officer brings instead of synthesis: an MP3 or WAV file, or a recording made
in the browser (MediaRecorder: WebM or Ogg with Opus).

Everything here runs in a worker thread (``asyncio.to_thread``): the upload is written to
a temporary file with a byte cap, its first bytes are sniffed (the extension must name
what the bytes are), ffprobe reads the claimed duration, and ffmpeg decodes at most
``MAX_SECONDS`` + 1 s of it to mono float32 at ``RATE``, under a wall-clock timeout, so a
small file that expands to hours of silence costs a bounded decode. The decoded audio is
kept as a 16-bit WAV artifact; the renders (loudspeaker -16 LUFS, telephone -18 LUFS) are
made from it by :func:`tts.render.render_samples`, the pass every synthesized render takes.
Every refusal is a ``WorkflowError`` on the field ``audio``, in Vietnamese.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from gateway.bulletins.errors import WorkflowError

MB = 1024 * 1024
MAX_BYTES = 25 * MB  # an MP3 of 20 minutes at 160 kbit/s; a WAV of 9 minutes at 22 kHz
MAX_SECONDS = 20 * 60
MIN_SECONDS = 1.0
SILENCE_DBFS = -55.0  # the whole file below this is silence (a phone's noise floor is about -60)
RATE = 22050  # the loudspeaker render's rate; the telephone render is resampled from it
DECODE_TIMEOUT_S = 120
KINDS = {"mp3": "MP3", "wav": "WAV", "webm": "WebM", "ogg": "Ogg", "oga": "Ogg", "opus": "Ogg"}
ACCEPT = "audio/mpeg,audio/wav,audio/x-wav,audio/webm,audio/ogg,.mp3,.wav,.webm,.ogg,.oga,.opus"


def refused(message: str, status: int = 422) -> WorkflowError:
    return WorkflowError("audio", message, status)


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # float32 mono at RATE
    seconds: float


def save_upload(source: BinaryIO, folder: Path) -> Path:
    """The upload on disk, read in 1 MB pieces; 413 past ``MAX_BYTES`` (nothing kept)."""
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", delete=False)
    path = Path(handle.name)
    size = 0
    try:
        with handle:
            while piece := source.read(MB):
                size += len(piece)
                if size > MAX_BYTES:
                    raise refused(f"tệp âm thanh quá lớn (tối đa {MAX_BYTES // MB} MB)", 413)
                handle.write(piece)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def sniff(head: bytes) -> str | None:
    """What the first bytes say the file is: mp3 | wav | webm | ogg, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def check_kind(name: str, head: bytes) -> str:
    """The extension is one we take, and the bytes are what it says."""
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in KINDS:
        raise refused(f"chỉ nhận tệp MP3, WAV, WebM hoặc Ogg (tệp '{name}' có đuôi '.{ext}')")
    found = sniff(head)
    if found is None:
        raise refused(f"tệp '{name}' không phải tệp âm thanh (không nhận ra định dạng)")
    if KINDS[found] != KINDS[ext]:
        raise refused(f"tệp '{name}' có đuôi .{ext} nhưng nội dung là {KINDS[found]}: hãy đặt lại đúng đuôi")
    return found


def _claimed_seconds(path: Path) -> float | None:
    command = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]
    try:
        out = subprocess.run(command, capture_output=True, timeout=30, check=False).stdout.decode().strip()
        return float(out)
    except (ValueError, subprocess.TimeoutExpired):
        return None


def decode(path: Path, name: str) -> Decoded:
    """Check and decode an upload (blocking: call it in a thread)."""
    if shutil.which("ffmpeg") is None:
        raise refused("máy chủ chưa cài ffmpeg nên chưa nhận được âm thanh tải lên (apt-get install ffmpeg)", 503)
    with path.open("rb") as fh:
        head = fh.read(16)
    check_kind(name, head)
    claimed = _claimed_seconds(path)
    if claimed is not None and claimed > MAX_SECONDS:
        raise refused(f"âm thanh dài hơn {MAX_SECONDS // 60} phút ({claimed / 60:.0f} phút): hãy cắt ngắn")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", str(MAX_SECONDS + 1)]
    command += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise refused(f"giải mã âm thanh quá {DECODE_TIMEOUT_S} giây: tệp hỏng hoặc quá phức tạp") from exc
    samples = np.frombuffer(done.stdout[: len(done.stdout) // 4 * 4], dtype="<f4").astype(np.float32)
    if done.returncode != 0 and not samples.size:
        why = done.stderr.decode(errors="replace").replace(str(path), name).strip().splitlines()[-1:] or ["?"]
        raise refused(f"tệp '{name}' hỏng, không giải mã được ({why[0][:200]})")
    seconds = samples.size / RATE
    if seconds > MAX_SECONDS:
        raise refused(f"âm thanh dài hơn {MAX_SECONDS // 60} phút: hãy cắt ngắn")
    if seconds < MIN_SECONDS:
        raise refused(f"âm thanh quá ngắn ({seconds:.1f} giây, cần ít nhất {MIN_SECONDS:.0f} giây)")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if 20 * np.log10(max(rms, 1e-9)) < SILENCE_DBFS:
        raise refused("tệp chỉ có im lặng (không nghe thấy tiếng): hãy kiểm tra micrô hoặc chọn tệp khác")
    return Decoded(samples, seconds)


def write_master(decoded: Decoded, path: Path) -> None:
    """The decoded audio as a 16-bit WAV: what the renders are made from."""
    sf.write(str(path), np.clip(decoded.samples, -1.0, 1.0), RATE, subtype="PCM_16")


def read_master(path: Path) -> np.ndarray:
    samples, _rate = sf.read(str(path), dtype="float32", always_2d=True)
    return np.asarray(samples.mean(axis=1), dtype=np.float32)
