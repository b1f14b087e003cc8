"""faster-whisper (CTranslate2) from a local directory only, e.g. a PhoWhisper conversion.
``local_files_only`` keeps the constructor off the network; Loa's own VAD has already cut
the audio, and Whisper's language is fixed to Vietnamese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gateway.feedback.asr.base import Capabilities, ModelError


def looks_like(folder: Path) -> bool:
    return (folder / "model.bin").is_file() and (folder / "config.json").is_file()


class FasterWhisper:
    name = "faster-whisper"

    def __init__(self, folder: Path, threads: int = 1) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelError("thiếu gói faster-whisper: cài bằng 'pip install faster-whisper'") from exc
        if not looks_like(folder):
            raise ModelError(f"{folder}: không phải mô hình CTranslate2 (thiếu model.bin hoặc config.json)")
        try:
            self._model: Any = WhisperModel(
                str(folder), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
            )
        except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError for broken folders
            raise ModelError(f"{folder}: faster-whisper không nạp được mô hình ({exc})") from exc
        self.capabilities = Capabilities(16000, int8=True)

    def transcribe(self, samples: np.ndarray) -> str:
        parts, _info = self._model.transcribe(samples, language="vi", beam_size=1, vad_filter=False)
        return " ".join(str(p.text).strip() for p in parts).strip()
