"""A converted vietTTS voice running on onnxruntime.

Pipeline per phrase: tokens -> duration model (seconds per token) -> vietTTS glue
(sil at least ``silence_duration``, word ends 0 s, frames = s * sr / hop) -> acoustic
model (Gaussian upsampling, autoregressive decoder in an ONNX Scan, postnet) -> trim the
final silence -> HiFi-GAN. Prenet dropout, which vietTTS keeps on at inference, is an
explicit setting: ``seeded`` (Bernoulli 0.5 keep-masks from a seed and the text, so the
same text always sounds the same) or ``off``.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tts.voices.base import Audio, VoiceError, VoiceInfo
from tts.voices.cpu import int8_support
from tts.voices.runtime import onnx_session
from tts.voices.viettts.tokenizer import SIL, WORD_END, load_lexicon, text_to_tokens

DROPOUT_MODES = ("seeded", "off")
VOCODER_VARIANTS = ("fp32", "int8")

log = logging.getLogger(__name__)


def vocoder_file(info: VoiceInfo, folder: Path) -> str:
    """The vocoder file the voice runs: ``vocoder_variant`` in voice.json picks fp32 (default) or
    int8; int8 falls back to fp32, with a warning, on a CPU without fast int8 instructions or
    with other int8 instructions than the CPU its fidelity gate ran on."""
    variant = str(info.settings.get("vocoder_variant", "fp32"))
    if variant not in VOCODER_VARIANTS:
        raise VoiceError(f"giọng {info.id}: 'vocoder_variant' phải là {' hoặc '.join(VOCODER_VARIANTS)}")
    if variant == "fp32":
        return info.files["vocoder"]
    name = info.files.get("vocoder_int8", "")
    if not name or not (folder / name).is_file():
        raise VoiceError(f"giọng {info.id}: 'vocoder_variant' là int8 nhưng thiếu tệp 'vocoder_int8' trong {folder}")
    cpu = int8_support()
    if not cpu.fast:
        log.warning("giọng %s: %s; dùng vocoder fp32 thay cho int8", info.id, cpu.describe())
        return info.files["vocoder"]
    gated = info.settings.get("quantization", {}).get("cpu_flags")
    if gated is not None and sorted(gated) != sorted(cpu.flags):
        # onnxruntime picks other int8 kernels on other instructions (VNNI, AMX...): measured
        # here, the same file passed the gate on one CPU and missed it on another.
        log.warning(
            "giọng %s: vocoder int8 được kiểm tra độ trung thực trên CPU có %s, khác CPU này (%s); "
            "chạy lại 'loa voices quantize' trên máy này. Dùng vocoder fp32 thay cho int8",
            info.id,
            ", ".join(gated) or "không lệnh int8 nhanh",
            ", ".join(cpu.flags),
        )
        return info.files["vocoder"]
    return name


@dataclass(frozen=True)
class StageTimes:
    duration: float
    acoustic: float
    vocoder: float


class VietTTSVoice:
    """Duration + acoustic + vocoder ONNX graphs and a vietTTS lexicon."""

    thread_safe = True

    def __init__(self, info: VoiceInfo, folder: Path, threads: int = 0) -> None:
        self.info = info
        self.folder = folder
        files = info.files
        for key in ("duration", "acoustic", "vocoder", "lexicon"):
            if key not in files or not (folder / files[key]).is_file():
                raise VoiceError(f"giọng {info.id}: thiếu tệp '{key}' trong {folder}")
        settings = info.settings
        self.silence_duration = float(settings.get("silence_duration", 0.2))
        self.hop = int(settings.get("hop", 256))
        self.dropout = str(settings.get("prenet_dropout", "seeded"))
        if self.dropout not in DROPOUT_MODES:
            raise VoiceError(f"giọng {info.id}: 'prenet_dropout' phải là {' hoặc '.join(DROPOUT_MODES)}")
        self.seed = int(settings.get("seed", 0))
        self.lexicon = load_lexicon(folder / files["lexicon"])
        runtime = dict(settings.get("runtime", {}))  # chosen by measurement: loa voices tune
        threads = threads or int(runtime.get("threads", 0))
        spinning = bool(runtime.get("allow_spinning", False))
        self._duration = onnx_session(folder / files["duration"], threads)
        self._acoustic = onnx_session(folder / files["acoustic"], threads)
        self.vocoder_path = folder / vocoder_file(info, folder)
        self._vocoder = onnx_session(self.vocoder_path, threads, spinning)
        keep_input = self._acoustic.get_inputs()[2]
        self.prenet_dim = int(keep_input.shape[1])

    # ------------------------------------------------------------------------------
    def tokens(self, text: str) -> npt.NDArray[np.int64]:
        return text_to_tokens(text, self.lexicon)

    def durations(self, tokens: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Seconds per token after vietTTS's glue (sil minimum, word ends zero)."""
        raw = self._duration.run(None, {"tokens": tokens[None, :]})[0]
        d = np.asarray(raw, dtype=np.float32)
        d = np.where(tokens[None, :] == SIL, np.maximum(d, np.float32(self.silence_duration)), d)
        return np.where(tokens[None, :] == WORD_END, np.float32(0.0), d).astype(np.float32)

    def keep_masks(self, text: str, n_frames: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        shape = (n_frames, self.prenet_dim)
        if self.dropout == "off":
            ones = np.ones(shape, np.float32)
            return ones, ones
        rng = np.random.default_rng([self.seed, zlib.crc32(text.encode("utf-8"))])
        return ((rng.random(shape) < 0.5) * 2.0).astype(np.float32), ((rng.random(shape) < 0.5) * 2.0).astype(
            np.float32
        )

    def mel(
        self,
        tokens: npt.NDArray[np.int64],
        durations: npt.NDArray[np.float32],
        masks: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None,
        text: str = "",
    ) -> npt.NDArray[np.float32]:
        """Trimmed mel [1, T, M] (vietTTS ``text2mel``)."""
        rate = np.float32(self.info.sample_rate) / np.float32(self.hop)
        frames = (durations * np.float32(self.info.sample_rate) / np.float32(self.hop)).astype(np.float32)
        n_frames = int(np.sum(frames, dtype=np.float32))
        if n_frames <= 0:
            return np.zeros((1, 0, 1), np.float32)
        keep1, keep2 = masks if masks is not None else self.keep_masks(text, n_frames)
        mel = self._acoustic.run(
            ["mel"],
            {
                "tokens": tokens[None, :],
                "frames": frames,
                "keep1": keep1,
                "keep2": keep2,
            },
        )[0]
        trim = int(durations[0, -1] * rate)
        return np.asarray(mel[:, : n_frames - trim], dtype=np.float32)

    def vocode(self, mel: npt.NDArray[np.float32]) -> Audio:
        if mel.shape[1] == 0:
            return np.zeros(0, np.float32)
        wav = self._vocoder.run(None, {"mel": mel})[0]
        return np.asarray(wav[0], dtype=np.float32)

    def synthesize_timed(self, text: str) -> tuple[Audio, StageTimes]:
        if not text.split():
            return np.zeros(0, np.float32), StageTimes(0.0, 0.0, 0.0)
        t0 = time.perf_counter()
        tokens = self.tokens(text)
        durations = self.durations(tokens)
        t1 = time.perf_counter()
        mel = self.mel(tokens, durations, text=text)
        t2 = time.perf_counter()
        wav = self.vocode(mel)
        t3 = time.perf_counter()
        return wav, StageTimes(t1 - t0, t2 - t1, t3 - t2)

    def synthesize(self, text: str) -> Audio:
        return self.synthesize_timed(text)[0]

    def synthesize_stream(self, text: str, first_frames: int = 16, context: int = 16) -> Iterator[Audio]:
        """The phrase in two pieces: the first ``first_frames`` mel frames are vocoded with
        ``context`` frames of right context and returned at once, then the rest. HiFi-GAN's
        receptive field is shorter than the context, so the joined audio equals
        :meth:`synthesize` to float rounding."""
        if not text.split():
            return
        tokens = self.tokens(text)
        mel = self.mel(tokens, self.durations(tokens), text=text)
        frames = mel.shape[1]
        if frames <= first_frames + 2 * context:
            yield self.vocode(mel)
            return
        yield self.vocode(mel[:, : first_frames + context])[: first_frames * self.hop]
        yield self.vocode(mel[:, first_frames - context :])[context * self.hop :]
