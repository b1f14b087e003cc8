"""The vietTTS vocoder's variants side by side (part of ``python -m bench --only-voice``):
the table of issue #16, regenerated from Loa's own code.

Every variant vocodes the same held-out mel chunks of the real 49 s clip (the other three
quarters calibrate the static int8 file), in one process, rounds interleaved so a noisy
moment hurts every variant alike; RTF is the median round. Anchor: Loa's default session
options (all cores, one phrase at a time), measured in the same rounds. Fidelity is against
that fp32 output: waveform SNR, log-mel distance, multi-resolution STFT distance, and PESQ /
STOI where ``pesq`` and ``pystoi`` are installed. Weights are random, of the real shapes:
fidelity is numerical error, not perceived quality.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from tts.voices.runtime import onnx_session
from tts.voices.viettts.calibration import recording_mels, split
from tts.voices.viettts.fidelity import compare, merge
from tts.voices.viettts.quality import speech_quality
from tts.voices.viettts.quantize import named_vocoder, quantize_file

Mel = npt.NDArray[np.float32]
HOP, RATE = 256, 16000
PIECE = 125  # frames: 2 s


@dataclass
class Variant:
    label: str
    path: Path
    threads: int = 0
    spinning: bool = False
    workers: int = 1  # phrases vocoded at once
    session: Any = None
    times: list[float] | None = None


def _dynamic_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), op_types_to_quantize=["Conv"], weight_type=QuantType.QUInt8)


def _fp16(source: Path, target: Path) -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), str(target))


def _vocode(variant: Variant, mels: Sequence[Mel]) -> list[Mel]:
    def one(mel: Mel) -> Mel:
        return np.asarray(variant.session.run(None, {"mel": mel})[0][0], np.float32)

    if variant.workers == 1:
        return [one(m) for m in mels]
    with ThreadPoolExecutor(max_workers=variant.workers) as pool:
        return list(pool.map(one, mels))


def _build(vocoder: Path, calibration: Sequence[Mel], tmp: Path, log: Callable[[str], None]) -> list[Variant]:
    named, _ = named_vocoder(onnx.load(str(vocoder)))
    source = tmp / "named.onnx"
    onnx.save(named, str(source))
    files = {"static": tmp / "static-int8.onnx", "dynamic": tmp / "dynamic-int8.onnx", "fp16": tmp / "fp16.onnx"}
    started = time.perf_counter()
    quantize_file(source, files["static"], calibration, [])
    _dynamic_int8(source, files["dynamic"])
    _fp16(source, files["fp16"])
    log(f"  variants written in {time.perf_counter() - started:.0f} s")
    return [
        Variant("Loa's default session options", vocoder),
        Variant("fp32, intra-op spinning on", vocoder, spinning=True),
        Variant("fp32, 1 thread/phrase, 2 phrases at once", vocoder, threads=1, workers=2),
        Variant("dynamic int8 (weights only)", files["dynamic"]),
        Variant("static int8, per-channel, calibrated", files["static"]),
        Variant("static int8, 1 thread/phrase, 2 at once", files["static"], threads=1, workers=2),
        Variant("fp16", files["fp16"]),
    ]


def main(voice: Path, clip: Path, rounds: int = 3, log: Callable[[str], None] = print) -> None:
    log("\nvietTTS vocoder variants (issue #16's table), held-out mels of the 49 s clip, rounds interleaved")
    if not clip.is_file() or not (voice / "vocoder.onnx").is_file():
        log("  skipped: clip or voice not found")
        return
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's pre-processing advice
    calibration, held_out_chunks = split(recording_mels([clip], RATE))
    # Phrase-sized pieces (2 s), so two phrases at once are not judged on an odd count of 4 s chunks.
    held_out = [
        np.ascontiguousarray(piece)
        for mel in held_out_chunks
        for piece in np.array_split(mel, max(1, round(mel.shape[1] / PIECE)), axis=1)
    ]
    seconds = sum(m.shape[1] for m in held_out) * HOP / RATE
    with tempfile.TemporaryDirectory(prefix="loa-vocoder-variants-") as tmp:
        variants = _build(voice / "vocoder.onnx", calibration, Path(tmp), log)
        outputs: dict[str, list[Mel]] = {}
        for v in variants:
            v.session = onnx_session(v.path, v.threads, v.spinning)
            outputs[v.label] = _vocode(v, held_out)  # also the warm-up run
            v.times = []
        for _ in range(rounds):
            for v in variants:
                started = time.perf_counter()
                _vocode(v, held_out)
                assert v.times is not None
                v.times.append(time.perf_counter() - started)
        anchor = variants[0]
        refs = outputs[anchor.label]
        anchor_rtf = statistics.median(anchor.times or [0.0]) / seconds
        log(f"  {seconds:.1f} s of held-out mels in {len(held_out)} phrases, {rounds} rounds; anchor: {anchor.label}")
        log(
            f"  {'variant':<42} {'RTF':>6} {'vs default':>10} {'SNR dB':>7} {'log-mel dB':>10}"
            f" {'MR-STFT':>8} {'PESQ':>5} {'STOI':>6}"
        )
        for v in variants:
            rtf = statistics.median(v.times or [0.0]) / seconds
            waves = outputs[v.label]
            exact = all(np.array_equal(r, w) for r, w in zip(refs, waves, strict=True))
            fid = merge([compare(r, w, RATE) for r, w in zip(refs, waves, strict=True)])
            q = speech_quality(refs, waves, RATE)
            snr = "exact" if exact else f"{fid.snr_db:.1f}"
            pesq = f"{q.pesq:.2f}" if q.pesq is not None else "—"
            stoi = f"{q.stoi:.3f}" if q.stoi is not None else "—"
            log(
                f"  {v.label:<42} {rtf:6.3f} {anchor_rtf / rtf:9.2f}x {snr:>7} {fid.log_mel_db:10.2f}"
                f" {fid.mrstft:8.3f} {pesq:>5} {stoi:>6}"
            )
        log("  (PESQ wide band, 4.64 = identical; STOI 1.0 = identical; random weights: numerical error only)")
