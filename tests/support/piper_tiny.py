"""A tiny piper-style VITS voice: the real I/O signature and config format, tiny weights.

Inputs ``input`` int64 [1, N], ``input_lengths`` int64 [1], ``scales`` float32 [3]
(noise, length, noise_w) and, for multi-speaker voices, ``sid`` int64 [1]; output
``output`` float32 [1, 1, 1, T] with T = 64 samples per phoneme id scaled by
length_scale, like piper's exporter (opset 15).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SAMPLES_PER_ID = 64
# espeak-ng's Vietnamese IPA inventory seen in practice, plus piper's specials and tone digits.
SYMBOLS = ["_", "^", "$", " ", ".", ",", "!", "?", ":", ";", "ˈ", "ˌ", "ː", "2", "ɜ", "4", "5", "6", "7", "1", "3"]
SYMBOLS += list("abcdefghijklmnopqrstuvwxyzŋɲɛɔəɯɤɐʊɪʃʒθðɡʔɓɗʰʷʲ̪̆̃ʐɹɾʂʈɖçjw")


def id_map(with_tones: bool = True) -> dict[str, list[int]]:
    symbols = [s for s in SYMBOLS if with_tones or not (s.isdigit() or s == "ɜ")]
    return {s: [i] for i, s in enumerate(dict.fromkeys(symbols))}


def write_tiny_piper(
    folder: Path, name: str = "vi_VN-tiny-x_low", with_tones: bool = True, sample_rate: int = 22050, speakers: int = 1
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = id_map(with_tones)
    n_symbols = max(v[0] for v in ids.values()) + 1
    rng = np.random.default_rng(0)
    table = (rng.standard_normal((n_symbols, SAMPLES_PER_ID)) * 0.3).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input"], ["emb"], axis=0),  # [1, N, 64]
        helper.make_node("Tanh", ["emb"], ["act"]),
        helper.make_node("Gather", ["scales", "one"], ["length_scale"], axis=0),
        helper.make_node("Gather", ["scales", "zero"], ["noise_scale"], axis=0),
        helper.make_node("Mul", ["act", "noise_scale"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "shape"], ["output"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    graph = helper.make_graph(
        nodes,
        "tiny_vits",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, "time"])],
        [
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array(1, np.int64), "one"),
            numpy_helper.from_array(np.array(0, np.int64), "zero"),
            numpy_helper.from_array(np.array([1, 1, 1, -1], np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    config = {
        "audio": {"sample_rate": sample_rate, "quality": "x_low"},
        "espeak": {"voice": "vi"},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": ids,
        "num_symbols": n_symbols,
        "num_speakers": speakers,
        "speaker_id_map": {},
        "piper_version": "1.0.0",
        "language": {"code": "vi_VN"},
    }
    path.with_name(path.name + ".json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path
