"""sherpa-onnx offline transducer (the Vietnamese Zipformer bundles).

Bundles name their files differently (``encoder.int8.onnx``, ``encoder-epoch-12-avg-8.int8.onnx``,
an fp32 decoder beside int8 encoder and joiner), so each role is found by glob, int8
preferred. sherpa-onnx resamples by itself, but Loa hands it 16 kHz like every backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gateway.feedback.asr.base import Capabilities, ModelError

ROLES = ("encoder", "decoder", "joiner")


def find_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for role in ROLES:
        found = sorted(folder.glob(f"{role}*.onnx"), key=lambda p: (".int8." not in p.name, len(p.name)))
        if not found:
            raise ModelError(f"{folder}: thiếu tệp {role}*.onnx (mô hình sherpa-onnx cần encoder, decoder, joiner)")
        files[role] = found[0]
    tokens = folder / "tokens.txt"
    if not tokens.is_file():
        raise ModelError(f"{folder}: thiếu tokens.txt")
    files["tokens"] = tokens
    return files


def check_files(files: dict[str, Path]) -> None:
    """What sherpa-onnx would otherwise answer by ending the whole process (it calls exit()
    on a decoder without ``vocab_size``/``context_size`` metadata): checked here first."""
    import onnx

    for role in ROLES:
        if files[role].stat().st_size == 0:
            raise ModelError(f"{files[role]}: tệp rỗng")
    try:  # the decoder is small (a few MB): parse it whole
        decoder = onnx.load(str(files["decoder"]), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise ModelError(f"{files['decoder']}: không đọc được tệp ONNX ({exc})") from exc
    missing = {"vocab_size", "context_size"} - {p.key for p in decoder.metadata_props}
    if missing:
        raise ModelError(f"{files['decoder']}: thiếu metadata {', '.join(sorted(missing))} mà sherpa-onnx cần")


def looks_like(folder: Path) -> bool:
    return (folder / "tokens.txt").is_file() and any(folder.glob("encoder*.onnx"))


class SherpaTransducer:
    name = "sherpa-onnx"

    def __init__(self, folder: Path, num_threads: int = 1) -> None:
        try:
            import sherpa_onnx
        except ImportError as exc:  # pragma: no cover - installed with Loa
            raise ModelError("thiếu gói sherpa-onnx (pip install sherpa-onnx)") from exc
        files = find_files(folder)
        check_files(files)
        try:
            self._recognizer: Any = sherpa_onnx.OfflineRecognizer.from_transducer(
                encoder=str(files["encoder"]),
                decoder=str(files["decoder"]),
                joiner=str(files["joiner"]),
                tokens=str(files["tokens"]),
                num_threads=num_threads,
                sample_rate=16000,
                feature_dim=80,
                decoding_method="greedy_search",
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{folder}: sherpa-onnx không nạp được mô hình ({exc})") from exc
        self.files = files
        self.capabilities = Capabilities(16000, streaming=False, int8=".int8." in files["encoder"].name)

    def transcribe(self, samples: np.ndarray) -> str:
        stream = self._recognizer.create_stream()
        stream.accept_waveform(self.capabilities.sample_rate, samples)
        self._recognizer.decode_stream(stream)
        return str(stream.result.text).strip()
