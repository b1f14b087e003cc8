"""A tiny transducer in the real sherpa-onnx file layout (encoder/decoder/joiner ONNX +
tokens.txt), a few hundred bytes, wired so that real sherpa-onnx decodes any audio of a
few frames to a known Vietnamese phrase.

The shapes follow what sherpa-onnx's offline transducer reads (offline-transducer-model.cc):
encoder (x[N,T,80] float, x_lens[N] int64) -> (encoder_out[N,T,C], encoder_out_lens[N]);
decoder (y[N,context] int64) -> decoder_out[N,C], with metadata vocab_size and context_size;
joiner (encoder_out[N,C], decoder_out[N,C]) -> logit[N,V]; blank is id 0. The encoder
outputs zeros, the decoder is the one-hot of the last context token and the joiner adds a
transition table, so greedy search walks blank -> tokens[1] -> tokens[2] ... -> blank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PHRASE = ("▁XIN", "▁CHÀO", "▁BÀ", "▁CON")
OPSET = [helper.make_opsetid("", 13)]


def _save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> None:
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="loa-tests")
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build(out: Path, phrase: tuple[str, ...] = PHRASE, metadata: bool = True) -> Path:
    """Write encoder.onnx, decoder.onnx, joiner.onnx and tokens.txt into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tokens = ["<blk>", *phrase, "<unk>"]
    vocab = len(tokens)

    # encoder: the first V feature dims of every frame, times zero
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", 80])
    x_lens = helper.make_tensor_value_info("x_lens", TensorProto.INT64, ["N"])
    enc_out = helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, ["N", "T", vocab])
    enc_lens = helper.make_tensor_value_info("encoder_out_lens", TensorProto.INT64, ["N"])
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "starts"),
        numpy_helper.from_array(np.array([vocab], np.int64), "ends"),
        numpy_helper.from_array(np.array([2], np.int64), "axes"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["sliced"]),
        helper.make_node("Mul", ["sliced", "zero"], ["encoder_out"]),
        helper.make_node("Identity", ["x_lens"], ["encoder_out_lens"]),
    ]
    _save(helper.make_graph(nodes, "encoder", [x, x_lens], [enc_out, enc_lens], inits), out / "encoder.onnx")

    # decoder: one-hot of the last context token
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 2])
    dec_out = helper.make_tensor_value_info("decoder_out", TensorProto.FLOAT, ["N", vocab])
    inits = [
        numpy_helper.from_array(np.eye(vocab, dtype=np.float32), "table"),
        numpy_helper.from_array(np.array([1], np.int64), "last"),
    ]
    nodes = [
        helper.make_node("Gather", ["y", "last"], ["last_token"], axis=1),  # [N, 1]
        helper.make_node("Squeeze", ["last_token", "last_axis"], ["token"]),
        helper.make_node("Gather", ["table", "token"], ["decoder_out"], axis=0),
    ]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "last_axis"))
    meta = {"vocab_size": str(vocab), "context_size": "2"} if metadata else {}
    _save(helper.make_graph(nodes, "decoder", [y], [dec_out], inits), out / "decoder.onnx", meta)

    # joiner: encoder_out + decoder_out @ NEXT (blank -> first token -> ... -> last -> blank)
    nxt = np.full((vocab, vocab), -10.0, np.float32)
    for i in range(len(phrase)):
        nxt[i, i + 1] = 10.0
    nxt[len(phrase), 0] = 10.0
    nxt[vocab - 1, 0] = 10.0
    e = helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, ["N", vocab])
    d = helper.make_tensor_value_info("decoder_out", TensorProto.FLOAT, ["N", vocab])
    logit = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", vocab])
    nodes = [
        helper.make_node("MatMul", ["decoder_out", "next"], ["moved"]),
        helper.make_node("Add", ["encoder_out", "moved"], ["logit"]),
    ]
    graph = helper.make_graph(nodes, "joiner", [e, d], [logit], [numpy_helper.from_array(nxt, "next")])
    _save(graph, out / "joiner.onnx")

    (out / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    return out


def expected_text(phrase: tuple[str, ...] = PHRASE) -> str:
    return " ".join(t.lstrip("▁") for t in phrase)
