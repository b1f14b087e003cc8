"""ONNX graphs of the vietTTS duration model, acoustic model and HiFi-GAN V1 vocoder.

Each function takes the haiku parameter tree (names as in NTT123/vietTTS checkpoints)
and returns an ONNX model computing exactly what vietTTS computes at inference:
- haiku LSTM: gates split i, g, f, o with +1 added to the forget gate at run time;
- BatchNorm in eval mode (EMA statistics, eps 1e-5), folded into the preceding conv;
- GELU in its tanh form; softplus duration head (seconds per token);
- Gaussian upsampling with temperature 10; autoregressive decoder in an ONNX Scan with
  the prenet dropout keep-masks as inputs (all-ones masks switch dropout off);
- HiFi-GAN: LeakyReLU 0.1 inside, 0.01 before conv_post, ConvTranspose layout flipped.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from tts.voices.viettts.checkpoint import Params, param
from tts.voices.viettts.onnxgraph import GraphBuilder, float_input, int_input

BN_EPS = 1e-5


def _bn_fold(params: Params, aux: Params, module: str, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold eval-mode BatchNorm after a conv with weights [k, in, out] and bias [out]."""
    scale = param(params, module, "scale").reshape(-1)
    offset = param(params, module, "offset").reshape(-1)
    mean = param(aux, f"{module}/~/mean_ema", "average").reshape(-1)
    var = param(aux, f"{module}/~/var_ema", "average").reshape(-1)
    mult = scale / np.sqrt(var + BN_EPS)
    return (w * mult[None, None, :]).astype(np.float32), ((b - mean) * mult + offset).astype(np.float32)


def _haiku_gates_to_onnx(w: np.ndarray, b: np.ndarray, in_dim: int, hidden: int) -> tuple[np.ndarray, ...]:
    """Haiku LSTM weights ([in+H, 4H], gates i,g,f,o) -> ONNX W, R, B (gates i,o,f,c)."""
    order = [0, 3, 2, 1]

    def reorder(m: np.ndarray) -> np.ndarray:
        blocks = np.split(m, 4, axis=-1)
        return np.concatenate([blocks[i] for i in order], axis=-1)

    wx, wh = reorder(w[:in_dim]).T, reorder(w[in_dim:]).T
    bias = reorder(b).copy()
    bias[2 * hidden : 3 * hidden] += 1.0  # haiku adds 1 to the forget gate at run time
    return wx, wh, np.concatenate([bias, np.zeros_like(bias)])


def encoder_hidden(params: Params, prefix: str) -> int:
    """Hidden size of the TokenEncoder's LSTMs (256 in vietTTS)."""
    return int(param(params, f"{prefix}/~/token_encoder/~/lstm/linear", "w").shape[1] // 4)


def token_encoder(g: GraphBuilder, params: Params, aux: Params, prefix: str, tokens: str) -> str:
    """TokenEncoder: embed -> 3x(conv k3 + BN + ReLU) -> BiLSTM(256). Returns [1, L, 512]."""
    enc = f"{prefix}/~/token_encoder/~/"
    table = param(params, enc + "embed", "embeddings")
    x = g.op("Gather", [g.const(table, "embed"), tokens], axis=0)  # [1, L, 256]
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    for suffix in ("", "_1", "_2"):
        w = param(params, enc + "conv1_d" + suffix, "w")
        b = param(params, enc + "conv1_d" + suffix, "b")
        w, b = _bn_fold(params, aux, enc + "batch_norm" + suffix, w, b)
        x = g.op("Relu", [g.conv1d(x, w, b, hint="enc_conv")])
    seq = g.op("Transpose", [x], perm=[2, 0, 1])  # [L, 1, C]
    hidden = encoder_hidden(params, prefix)
    weights = []
    for name in ("lstm/linear", "lstm_1/linear"):
        w = param(params, enc + name, "w")
        weights.append(_haiku_gates_to_onnx(w, param(params, enc + name, "b"), w.shape[0] - hidden, hidden))
    W = g.const(np.stack([w[0] for w in weights]), "lstm_W")
    R = g.const(np.stack([w[1] for w in weights]), "lstm_R")
    B = g.const(np.stack([w[2] for w in weights]), "lstm_B")
    y = g.op("LSTM", [seq, W, R, B], "bilstm", hidden_size=hidden, direction="bidirectional")
    y = g.op("Transpose", [y], perm=[2, 0, 1, 3])  # [1, L, 2, H]
    return g.op("Reshape", [y, g.const([1, -1, 2 * hidden], dtype=np.int64)])


def duration_model(params: Params, aux: Params) -> onnx.ModelProto:
    """tokens int64 [1, L] -> durations float32 [1, L] (seconds per token)."""
    g = GraphBuilder("viettts_duration")
    tokens = int_input(g, "tokens", [1, "L"])
    x = token_encoder(g, params, aux, "duration_model", tokens)
    p = "duration_model/~/"
    x = g.matmul_add(x, param(params, p + "linear", "w"), param(params, p + "linear", "b"), "proj")
    x = g.gelu_tanh(x)
    x = g.matmul_add(x, param(params, p + "linear_1", "w"), param(params, p + "linear_1", "b"), "head")
    x = g.op("Softplus", [g.op("Squeeze", [x, g.const([2], dtype=np.int64)])])
    g.output(x, "durations", TensorProto.FLOAT, [1, "L"])
    return g.model({"loa.stage": "duration"})


def _decoder_body(params: Params, p: str, cond_dim: int) -> onnx.GraphProto:
    """One autoregressive step: prenet with dropout masks, 2 LSTMs with skip, projection."""
    b = GraphBuilder("decoder_step")
    w1 = param(params, p + "lstm/linear", "w")
    w2 = param(params, p + "lstm_1/linear", "w")
    mel_dim, pre_dim = param(params, p + "linear_1", "w").shape
    H = w1.shape[1] // 4
    state = [
        float_input(b, n, shape)
        for n, shape in (("prev", [1, mel_dim]), ("h1", [1, H]), ("c1", [1, H]), ("h2", [1, H]), ("c2", [1, H]))
    ]
    g1c, g2c, k1, k2 = (
        float_input(b, n, [s]) for n, s in (("g1c", 4 * H), ("g2c", 4 * H), ("k1", pre_dim), ("k2", pre_dim))
    )
    prev, h1, c1, h2, c2 = state
    x = b.op("Relu", [b.op("MatMul", [prev, b.const(param(params, p + "linear_1", "w"), "pre1")])])
    x = b.op("Mul", [x, k1])
    x = b.op("Relu", [b.op("MatMul", [x, b.const(param(params, p + "linear_2", "w"), "pre2")])])
    pre = b.op("Mul", [x, k2])

    def cell(gates: str, c: str) -> tuple[str, str]:
        i, gg, f, o = b.ops("Split", [gates], 4, axis=1)
        f = b.op("Add", [f, b.const(1.0)])
        c_new = b.op(
            "Add", [b.op("Mul", [b.op("Sigmoid", [f]), c]), b.op("Mul", [b.op("Sigmoid", [i]), b.op("Tanh", [gg])])]
        )
        h_new = b.op("Mul", [b.op("Sigmoid", [o]), b.op("Tanh", [c_new])])
        return h_new, c_new

    gates1 = b.op("Add", [g1c, b.op("MatMul", [b.op("Concat", [pre, h1], axis=1), b.const(w1[cond_dim:], "w1r")])])
    h1n, c1n = cell(gates1, c1)
    gates2 = b.op("Add", [g2c, b.op("MatMul", [b.op("Concat", [pre, h1n, h2], axis=1), b.const(w2[cond_dim:], "w2r")])])
    h2n, c2n = cell(gates2, c2)
    y = b.matmul_add(
        b.op("Concat", [h1n, h2n], axis=1),
        param(params, p + "linear", "w"),
        param(params, p + "linear", "b"),
        "mel_proj",
    )
    for value, name, shape in (
        (y, "prev_out", [1, mel_dim]),
        (h1n, "h1_out", [1, H]),
        (c1n, "c1_out", [1, H]),
        (h2n, "h2_out", [1, H]),
        (c2n, "c2_out", [1, H]),
        (y, "frame", [1, mel_dim]),
    ):
        b.output(value, name, TensorProto.FLOAT, shape)
    return b.graph()


def acoustic_model(params: Params, aux: Params) -> onnx.ModelProto:
    """tokens [1, L], frames [1, L] (durations in frames), keep1/keep2 [T, P] dropout
    multipliers (0 or 2; all 1 = no dropout) -> mel [1, T, M] and mel_decoder (pre-postnet).
    Full-size vietTTS: P = 256, M = 80, decoder LSTMs of 512."""
    g = GraphBuilder("viettts_acoustic")
    p = "acoustic_model/~/"
    mel_dim, pre_dim = param(params, p + "linear_1", "w").shape
    cond_dim = 2 * encoder_hidden(params, "acoustic_model")
    w1 = param(params, p + "lstm/linear", "w")
    w2 = param(params, p + "lstm_1/linear", "w")
    H = w1.shape[1] // 4
    if w1.shape[0] != cond_dim + pre_dim + H or w2.shape != (cond_dim + pre_dim + 2 * H, 4 * H):
        raise ValueError("kích thước LSTM của bộ giải mã không khớp với kiến trúc vietTTS")
    tokens = int_input(g, "tokens", [1, "L"])
    frames = float_input(g, "frames", [1, "L"])
    keep1 = float_input(g, "keep1", ["T", pre_dim])
    keep2 = float_input(g, "keep2", ["T", pre_dim])
    enc = token_encoder(g, params, aux, "acoustic_model", tokens)  # [1, L, cond_dim]

    # Gaussian upsampling: w[t, j] = softmax_j(-(mid_j - t)^2 / 10)
    n = g.op("Gather", [g.op("Shape", [keep1]), g.const(0, dtype=np.int64)], axis=0)
    ruler = g.op(
        "Cast", [g.op("Range", [g.const(0, dtype=np.int64), n, g.const(1, dtype=np.int64)])], to=TensorProto.FLOAT
    )
    ruler = g.op("Unsqueeze", [ruler, g.const([1], dtype=np.int64)])  # [T, 1]
    end = g.op("CumSum", [frames, g.const(1, dtype=np.int64)])
    mid = g.op("Sub", [end, g.op("Div", [frames, g.const(2.0)])])  # [1, L]
    diff = g.op("Sub", [mid, ruler])  # [T, L]
    d2 = g.op("Div", [g.op("Mul", [diff, diff]), g.const(10.0)])
    weights = g.op("Softmax", [g.op("Neg", [d2])], axis=-1)
    enc2d = g.op("Squeeze", [enc, g.const([0], dtype=np.int64)])  # [L, 512]
    cond = g.op("MatMul", [weights, enc2d])  # [T, 512]

    g1c = g.matmul_add(cond, w1[:cond_dim], param(params, p + "lstm/linear", "b"), "g1c")
    g2c = g.matmul_add(cond, w2[:cond_dim], param(params, p + "lstm_1/linear", "b"), "g2c")
    zeros_mel = g.const(np.zeros((1, mel_dim)), "prev0")
    zeros_h = g.const(np.zeros((1, H)), "state0")
    outs = g.ops(
        "Scan",
        [zeros_mel, zeros_h, zeros_h, zeros_h, zeros_h, g1c, g2c, keep1, keep2],
        6,
        "decoder",
        num_scan_inputs=4,
        body=_decoder_body(params, p, cond_dim),
    )
    dec = g.op("Reshape", [outs[5], g.const([1, -1, mel_dim], dtype=np.int64)])  # [1, T, mel]

    x = g.op("Transpose", [dec], perm=[0, 2, 1])
    y = x
    for i, suffix in enumerate(("", "_1", "_2", "_3")):
        w, bias = _bn_fold(
            params,
            aux,
            p + "batch_norm" + suffix,
            param(params, p + "conv1_d" + suffix, "w"),
            param(params, p + "conv1_d" + suffix, "b"),
        )
        y = g.op("Tanh", [g.conv1d(y, w, bias, hint=f"postnet{i}")])
    y = g.conv1d(y, param(params, p + "conv1_d_4", "w"), param(params, p + "conv1_d_4", "b"), hint="postnet4")
    mel = g.op("Transpose", [g.op("Add", [x, y])], perm=[0, 2, 1])
    g.output(mel, "mel", TensorProto.FLOAT, [1, "T", mel_dim])
    g.output(dec, "mel_decoder", TensorProto.FLOAT, [1, "T", mel_dim])
    return g.model({"loa.stage": "acoustic"})


def hifigan_generator(params: Params, config: dict[str, object], debug: bool = False) -> onnx.ModelProto:
    """HiFi-GAN V1 generator: mel [1, T, 80] -> wav [1, T * hop] in [-1, 1]."""
    g = GraphBuilder("hifigan")
    p = "generator/~/"
    rates = [int(r) for r in config["upsample_rates"]]  # type: ignore[attr-defined]
    kernels = [int(k) for k in config["upsample_kernel_sizes"]]  # type: ignore[attr-defined]
    rb_kernels = [int(k) for k in config["resblock_kernel_sizes"]]  # type: ignore[attr-defined]
    rb_dilations = [[int(d) for d in ds] for ds in config["resblock_dilation_sizes"]]  # type: ignore[attr-defined]
    if str(config.get("resblock", "1")) != "1":
        raise ValueError("chỉ hỗ trợ HiFi-GAN resblock '1' (V1)")
    mel_dim = param(params, p + "conv1_d", "w").shape[1]
    mel = float_input(g, "mel", [1, "T", mel_dim])
    x = g.op("Transpose", [mel], perm=[0, 2, 1])
    x = g.conv1d(x, param(params, p + "conv1_d", "w"), param(params, p + "conv1_d", "b"), hint="conv_pre")
    stages: list[str] = [x]
    for i, (u, k) in enumerate(zip(rates, kernels, strict=True)):
        x = g.op("LeakyRelu", [x], alpha=0.1)
        w = param(params, f"{p}ups_{i}", "w")  # [k, out, in]
        w_onnx = np.ascontiguousarray(w[::-1].transpose(2, 1, 0))  # [in, out, k]
        pad = (k - u) // 2
        x = g.op(
            "ConvTranspose",
            [x, g.const(w_onnx, f"ups{i}_w"), g.const(param(params, f"{p}ups_{i}", "b"), f"ups{i}_b")],
            f"ups{i}",
            strides=[u],
            pads=[pad, k - u - pad],
            kernel_shape=[k],
        )
        stages.append(x)
        total: str | None = None
        for j, dil in enumerate(rb_dilations):
            block = f"{p}res_block1_{i * len(rb_kernels) + j}/~/"
            h = x
            for z, d in enumerate(dil):
                t = g.op("LeakyRelu", [h], alpha=0.1)
                t = g.conv1d(
                    t, param(params, f"{block}convs1_{z}", "w"), param(params, f"{block}convs1_{z}", "b"), d, "rb"
                )
                t = g.op("LeakyRelu", [t], alpha=0.1)
                t = g.conv1d(
                    t, param(params, f"{block}convs2_{z}", "w"), param(params, f"{block}convs2_{z}", "b"), 1, "rb"
                )
                h = g.op("Add", [t, h])
            total = h if total is None else g.op("Add", [total, h])
        assert total is not None  # rb_kernels is never empty for a V1 config
        x = g.op("Div", [total, g.const(float(len(rb_kernels)))])
        stages.append(x)
    x = g.op("LeakyRelu", [x], alpha=0.01)
    x = g.conv1d(x, param(params, p + "conv1_d_1", "w"), param(params, p + "conv1_d_1", "b"), hint="conv_post")
    stages.append(x)
    wav = g.op("Reshape", [g.op("Tanh", [x]), g.const([1, -1], dtype=np.int64)])
    g.output(wav, "wav", TensorProto.FLOAT, [1, "S"])
    if debug:
        for n, value in enumerate(stages):
            g.output(value, f"stage_{n}", TensorProto.FLOAT, [1, f"C{n}", f"S{n}"])
    return g.model({"loa.stage": "vocoder", "loa.hop": str(int(np.prod(rates)))})


__all__ = ["acoustic_model", "duration_model", "helper", "hifigan_generator"]
