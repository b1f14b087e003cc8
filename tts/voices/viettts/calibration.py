"""What the int8 vocoder is calibrated and judged on: mels the voice's own acoustic model
makes from Vietnamese text, and mels of recordings of the voice's speaker.

A voice's acoustic model and its recordings should agree on the range of mel values; a
voice whose acoustic model does not (the benchmark's random-weight voice, a badly trained
one) would pass a gate judged on its own mels alone and then distort real speech. Given
recordings, the quantizer calibrates on part of them and judges on the rest too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tts.voices.base import VoiceError
from tts.voices.viettts.fidelity import log_mel_features

Mel = npt.NDArray[np.float32]
CHUNK_SECONDS = 4.0  # recordings are cut in chunks the length of a long phrase


# Calibration and held-out phrases in the register of commune bulletins (normalized text).
DEFAULT_TEXTS = (
    "ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng vào sáng thứ hai tuần tới",
    "cơn bão số ba đang di chuyển theo hướng tây tây bắc với vận tốc hai mươi ki lô mét một giờ",
    "đề nghị bà con chằng chống nhà cửa và đưa tàu thuyền vào nơi tránh trú an toàn",
    "từ bảy giờ ba mươi đến mười một giờ ngày mai sẽ tạm ngừng cung cấp điện khu vực thôn ba",
    "hội nghị tiếp xúc cử tri được tổ chức tại nhà văn hóa thôn lúc tám giờ sáng chủ nhật",
    "các hộ gia đình hoàn thành nộp thuế sử dụng đất phi nông nghiệp trước ngày ba mươi tháng mười hai",
    "mực nước sông hồng tại hà nội đang lên nhanh người dân không đi qua ngầm tràn",
    "trạm y tế xã khám sức khỏe miễn phí cho người cao tuổi vào thứ sáu",
    "nghiêm cấm đốt rơm rạ trên đồng ruộng gây ô nhiễm môi trường",
    "xin mời bà con nghe bản tin thời sự của đài truyền thanh xã",
    "đội thanh niên tình nguyện hỗ trợ người dân khơi thông cống rãnh sau mưa lớn",
    "mọi ý kiến phản ánh xin gọi đường dây nóng hoặc nhắn tin theo cú pháp p a",
)


class MelReader:
    """onnxruntime's CalibrationDataReader protocol over a list of mels."""

    def __init__(self, mels: Sequence[npt.NDArray[np.float32]]) -> None:
        self._mels = list(mels)
        self._it: Iterator[npt.NDArray[np.float32]] = iter(self._mels)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        mel = next(self._it, None)
        return None if mel is None else {"mel": mel}

    def rewind(self) -> None:
        self._it = iter(self._mels)


def phrase_mels(voice: Any, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
    """Mels the voice's own duration and acoustic models make for ``texts``."""
    mels = []
    for text in texts:
        tokens = voice.tokens(text)
        mel = voice.mel(tokens, voice.durations(tokens), text=text)
        if mel.shape[1] > 0:
            mels.append(mel)
    if len(mels) < 2:
        raise VoiceError("cần ít nhất hai câu đọc được để hiệu chỉnh và kiểm tra bộ lượng tử hóa")
    return mels


def recording_mels(
    paths: Sequence[Path], sample_rate: int, bands: int = 80, chunk_seconds: float = CHUNK_SECONDS
) -> list[Mel]:
    """Log-mels of ``paths`` at the voice's rate, in chunks of ``chunk_seconds``, each [1, frames, bands]."""
    import soundfile as sf

    mels: list[Mel] = []
    for path in paths:
        try:
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
            raise VoiceError(f"--recording: không đọc được tệp âm thanh {path} ({exc})") from exc
        wave = audio.mean(axis=1)
        if rate != sample_rate:
            import soxr

            wave = soxr.resample(wave, rate, sample_rate).astype(np.float32)
        step = int(chunk_seconds * sample_rate)
        for start in range(0, max(wave.size - step // 2, 1), step):
            chunk = wave[start : start + step]
            if chunk.size >= sample_rate:  # shorter tails say little about the range
                mels.append(log_mel_features(chunk, sample_rate, bands)[None, :, :].astype(np.float32))
    if paths and len(mels) < 2:
        raise VoiceError("--recording: cần ít nhất hai giây ghi âm để vừa hiệu chỉnh vừa kiểm tra")
    return mels


def split(mels: Sequence[Mel]) -> tuple[list[Mel], list[Mel]]:
    """Calibration and held-out parts: the last quarter (at least one) is held out."""
    held_out = max(1, len(mels) // 4)
    return list(mels[:-held_out]), list(mels[-held_out:])
