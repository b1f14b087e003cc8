"""Vosk (Kaldi) models, e.g. vosk-model-small-vn-0.4. Vosk never upsamples: an 8 kHz call
fed to a 16 kHz model is refused, so Loa resamples to the model's own rate, read from
``conf/mfcc.conf`` (``--sample-frequency``, 16000 when absent)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from gateway.feedback.asr.base import Capabilities, ModelError


def looks_like(folder: Path) -> bool:
    return (folder / "am" / "final.mdl").is_file()


def model_rate(folder: Path) -> int:
    conf = folder / "conf" / "mfcc.conf"
    if conf.is_file():
        match = re.search(r"--sample-frequency=(\d+)", conf.read_text(encoding="utf-8", errors="replace"))
        if match:
            return int(match.group(1))
    return 16000


class VoskModel:
    name = "vosk"

    def __init__(self, folder: Path) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise ModelError("thiếu gói vosk: cài bằng 'pip install vosk' để dùng mô hình Vosk") from exc
        if not looks_like(folder):
            raise ModelError(f"{folder}: không phải mô hình Vosk (thiếu am/final.mdl)")
        vosk.SetLogLevel(-1)
        try:
            self._model: Any = vosk.Model(str(folder))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelError(f"{folder}: Vosk không nạp được mô hình ({exc})") from exc
        self._vosk = vosk
        self.capabilities = Capabilities(model_rate(folder), streaming=True)

    def transcribe(self, samples: np.ndarray) -> str:
        recognizer = self._vosk.KaldiRecognizer(self._model, self.capabilities.sample_rate)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        recognizer.AcceptWaveform(pcm)
        return str(json.loads(recognizer.FinalResult()).get("text", "")).strip()
