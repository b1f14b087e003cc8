"""Piper VITS voices (``*.onnx`` + ``*.onnx.json``) phonemized with espeak-ng IPA.

Ids follow piper: BOS ``^``, PAD ``_`` after BOS and after every phoneme, EOS ``$``;
phonemes are NFD code points. Vietnamese tones come out of espeak-ng as digits and are
kept when the voice's id map has them (vi_VN-vais1000-medium does); a voice without
digit ids loses tones, which :attr:`PiperVoice.keeps_tones` reports.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tts.voices.base import Audio, VoiceError, VoiceInfo
from tts.voices.espeak import phonemize
from tts.voices.runtime import onnx_session

log = logging.getLogger(__name__)

BOS, EOS, PAD = "^", "$", "_"


def read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VoiceError(f"{path.name}: không đọc được cấu hình piper ({exc})") from exc
    if not isinstance(config.get("phoneme_id_map"), dict):
        raise VoiceError(f"{path.name}: thiếu 'phoneme_id_map'")
    rate = config.get("audio", {}).get("sample_rate")
    if not isinstance(rate, int) or rate <= 0:
        raise VoiceError(f"{path.name}: thiếu hoặc sai 'audio.sample_rate'")
    return dict(config)


def phoneme_ids(phonemes: str, id_map: dict[str, list[int]]) -> tuple[list[int], set[str]]:
    """Piper's id sequence and the set of phonemes the map lacks (dropped)."""
    ids = list(id_map[BOS]) + list(id_map[PAD])
    missing: set[str] = set()
    for ch in unicodedata.normalize("NFD", phonemes):
        if ch in id_map:
            ids += list(id_map[ch]) + list(id_map[PAD])
        else:
            missing.add(ch)
    return ids + list(id_map[EOS]), missing


class PiperVoice:
    thread_safe = True

    def __init__(self, info: VoiceInfo, folder: Path, threads: int = 0) -> None:
        self.info = info
        model = folder / info.files.get("model", "")
        config_path = folder / info.files.get("config", "")
        if not model.is_file() or not config_path.is_file():
            raise VoiceError(f"giọng {info.id}: thiếu tệp model hoặc config trong {folder}")
        self.config = read_config(config_path)
        self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
        inference = self.config.get("inference", {})
        self.scales = np.array(
            [
                float(info.settings.get("noise_scale", inference.get("noise_scale", 0.667))),
                float(info.settings.get("length_scale", inference.get("length_scale", 1.0))),
                float(info.settings.get("noise_w", inference.get("noise_w", 0.8))),
            ],
            dtype=np.float32,
        )
        self.espeak_voice = str(self.config.get("espeak", {}).get("voice", "vi"))
        self.speaker = int(info.settings.get("speaker_id", self.config.get("default_speaker_id", 0)))
        self.session = onnx_session(model, threads)
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.keeps_tones = all(d in self.id_map for d in "123456")
        self._warned: set[str] = set()

    def ids(self, text: str, final: str = ".") -> npt.NDArray[np.int64]:
        phonemes = phonemize(text, self.espeak_voice) + final
        ids, missing = phoneme_ids(phonemes, self.id_map)
        new = missing - self._warned
        if new:
            log.warning("giọng %s thiếu âm vị %s: bị bỏ qua", self.info.id, "".join(sorted(new)))
            self._warned |= new
        return np.asarray(ids, dtype=np.int64)

    def synthesize(self, text: str) -> Audio:
        ids = self.ids(text)
        feeds: dict[str, Any] = {
            "input": ids[None, :],
            "input_lengths": np.array([ids.size], dtype=np.int64),
            "scales": self.scales,
        }
        if "sid" in self.input_names:
            feeds["sid"] = np.array([self.speaker], dtype=np.int64)
        out = self.session.run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)
