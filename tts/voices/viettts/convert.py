"""``loa voices convert-viettts``: vietTTS checkpoints -> an installable ONNX voice folder.

Reads ``duration_latest_ckpt.pickle``, ``acoustic_latest_ckpt.pickle`` and the vocoder
(haiku ``hk_hifi.pickle`` or the PyTorch HiFi-GAN generator ``g_XXXXXXXX``) without
jax, haiku, optax or torch, writes ``duration.onnx``, ``acoustic.onnx``,
``vocoder.onnx``, the lexicon and ``voice.json``, then loads the result through
onnxruntime to prove it runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.viettts import graphs
from tts.voices.viettts.checkpoint import load_pickle, model_tree
from tts.voices.viettts.torch_ckpt import is_torch_checkpoint, load_torch_generator

# HiFi-GAN V1 at 16 kHz as shipped with vietTTS (assets/hifigan/config.json).
DEFAULT_HIFIGAN_CONFIG: dict[str, Any] = {
    "resblock": "1",
    "upsample_rates": [8, 8, 2, 2],
    "upsample_kernel_sizes": [16, 16, 4, 4],
    "upsample_initial_channel": 512,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "num_mels": 80,
    "hop_size": 256,
    "sampling_rate": 16000,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_vocoder_params(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Haiku-named generator parameters from hk_hifi.pickle or a PyTorch g_ checkpoint."""
    if is_torch_checkpoint(path):
        return load_torch_generator(path)
    params, _ = model_tree(load_pickle(path), path)
    return params


def convert_viettts(
    duration: Path,
    acoustic: Path,
    vocoder: Path,
    lexicon: Path,
    out: Path,
    config: Path | None = None,
    voice_id: str = "viettts",
    name: str = "vietTTS (ONNX)",
    prenet_dropout: str = "seeded",
    seed: int = 0,
) -> VoiceInfo:
    """Convert and verify; returns the manifest written to ``out/voice.json``."""
    for label, path in (
        ("--duration", duration),
        ("--acoustic", acoustic),
        ("--vocoder", vocoder),
        ("--lexicon", lexicon),
    ):
        if not path.is_file():
            raise VoiceError(f"{label}: không tìm thấy tệp {path}")
    hifigan_config = dict(DEFAULT_HIFIGAN_CONFIG)
    if config is not None:
        try:
            hifigan_config.update(json.loads(config.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise VoiceError(f"--config: không đọc được cấu hình HiFi-GAN ({exc})") from exc
    out.mkdir(parents=True, exist_ok=True)

    d_params, d_aux = model_tree(load_pickle(duration), duration)
    onnx.save(graphs.duration_model(d_params, d_aux), str(out / "duration.onnx"))
    del d_params, d_aux
    a_params, a_aux = model_tree(load_pickle(acoustic), acoustic)
    onnx.save(graphs.acoustic_model(a_params, a_aux), str(out / "acoustic.onnx"))
    del a_params, a_aux
    v_params = load_vocoder_params(vocoder)
    onnx.save(graphs.hifigan_generator(v_params, hifigan_config), str(out / "vocoder.onnx"))
    del v_params
    shutil.copyfile(lexicon, out / "lexicon.txt")
    (out / "hifigan_config.json").write_text(json.dumps(hifigan_config, indent=2), encoding="utf-8")

    files = {
        "duration": "duration.onnx",
        "acoustic": "acoustic.onnx",
        "vocoder": "vocoder.onnx",
        "lexicon": "lexicon.txt",
    }
    sample_rate = int(hifigan_config["sampling_rate"])
    hop = int(np.prod(hifigan_config["upsample_rates"]))
    info = VoiceInfo(
        id=voice_id,
        kind="viettts",
        name=name,
        sample_rate=sample_rate,
        files=files,
        settings={
            "silence_duration": 0.2,
            "hop": hop,
            "prenet_dropout": prenet_dropout,
            "seed": seed,
            "sha256": {key: _sha256(out / rel) for key, rel in files.items()},
            "source": {"duration": duration.name, "acoustic": acoustic.name, "vocoder": vocoder.name},
        },
    )
    (out / MANIFEST_NAME).write_text(info.to_json(), encoding="utf-8")

    from tts.voices.viettts.voice import VietTTSVoice

    audio = VietTTSVoice(info, out, threads=1).synthesize("xin chào")
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise VoiceError("giọng vừa chuyển đổi không tạo ra âm thanh hợp lệ")
    return info
