"""The vietTTS inference maths written directly in numpy, step by step, from
NTT123/vietTTS's model code (haiku semantics) - an independent check of Loa's ONNX graphs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Tree = dict[str, dict[str, np.ndarray]]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def haiku_lstm(xs: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """hk.LSTM over xs [T, in]: gated = [x, h] @ w + b, split i, g, f, o, forget bias +1."""
    hidden = w.shape[1] // 4
    h = np.zeros(hidden)
    c = np.zeros(hidden)
    out = []
    for x in xs:
        i, g, f, o = np.split(np.concatenate([x, h]) @ w + b, 4)
        c = sigmoid(f + 1) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def conv1d_same(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dilation: int = 1) -> np.ndarray:
    """hk.Conv1D, SAME padding, channels last: x [T, in], w [k, in, out]."""
    k = w.shape[0]
    total = (k - 1) * dilation
    xp = np.pad(x, ((total // 2, total - total // 2), (0, 0)))
    y = sum(xp[j * dilation : j * dilation + x.shape[0]] @ w[j] for j in range(k))
    return y + (b if b is not None else 0)


def batch_norm(x: np.ndarray, params: Tree, aux: Tree, name: str) -> np.ndarray:
    mean = aux[f"{name}/~/mean_ema"]["average"].reshape(-1)
    var = aux[f"{name}/~/var_ema"]["average"].reshape(-1)
    scale = params[name]["scale"].reshape(-1)
    offset = params[name]["offset"].reshape(-1)
    return (x - mean) * (scale / np.sqrt(var + 1e-5)) + offset


def token_encoder(tokens: np.ndarray, params: Tree, aux: Tree, prefix: str) -> np.ndarray:
    enc = f"{prefix}/~/token_encoder/~/"
    x = params[enc + "embed"]["embeddings"][tokens].astype(np.float64)
    for s in ("", "_1", "_2"):
        x = conv1d_same(x, params[enc + "conv1_d" + s]["w"], params[enc + "conv1_d" + s]["b"])
        x = np.maximum(batch_norm(x, params, aux, enc + "batch_norm" + s), 0)
    fwd = haiku_lstm(x, params[enc + "lstm/linear"]["w"], params[enc + "lstm/linear"]["b"])
    bwd = haiku_lstm(x[::-1], params[enc + "lstm_1/linear"]["w"], params[enc + "lstm_1/linear"]["b"])[::-1]
    return np.concatenate([fwd, bwd], axis=1)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def durations(tokens: np.ndarray, params: Tree, aux: Tree) -> np.ndarray:
    x = token_encoder(tokens, params, aux, "duration_model")
    p = "duration_model/~/"
    x = gelu_tanh(x @ params[p + "linear"]["w"] + params[p + "linear"]["b"])
    x = (x @ params[p + "linear_1"]["w"] + params[p + "linear_1"]["b"])[:, 0]
    return np.logaddexp(x, 0)  # softplus


def acoustic(
    tokens: np.ndarray, frames: np.ndarray, keep1: np.ndarray, keep2: np.ndarray, params: Tree, aux: Tree
) -> np.ndarray:
    """Mel after postnet [T, M]; keep1/keep2 are the dropout multipliers (0 or 2)."""
    p = "acoustic_model/~/"
    enc = token_encoder(tokens, params, aux, "acoustic_model")
    n = keep1.shape[0]
    end = np.cumsum(frames)
    mid = end - frames / 2
    d2 = (mid[None, :] - np.arange(n)[:, None]) ** 2 / 10.0
    w = np.exp(-d2 - (-d2).max(axis=1, keepdims=True))
    cond = (w / w.sum(axis=1, keepdims=True)) @ enc
    w1, b1 = params[p + "lstm/linear"]["w"], params[p + "lstm/linear"]["b"]
    w2, b2 = params[p + "lstm_1/linear"]["w"], params[p + "lstm_1/linear"]["b"]
    hidden = w1.shape[1] // 4
    h1 = c1 = h2 = c2 = np.zeros(hidden)
    prev = np.zeros(params[p + "linear_1"]["w"].shape[0])
    mels = []
    for t in range(n):
        x = np.maximum(prev @ params[p + "linear_1"]["w"], 0) * keep1[t]
        x = np.maximum(x @ params[p + "linear_2"]["w"], 0) * keep2[t]
        inp = np.concatenate([cond[t], x])
        i, g, f, o = np.split(np.concatenate([inp, h1]) @ w1 + b1, 4)
        c1 = sigmoid(f + 1) * c1 + sigmoid(i) * np.tanh(g)
        h1 = sigmoid(o) * np.tanh(c1)
        i, g, f, o = np.split(np.concatenate([inp, h1, h2]) @ w2 + b2, 4)
        c2 = sigmoid(f + 1) * c2 + sigmoid(i) * np.tanh(g)
        h2 = sigmoid(o) * np.tanh(c2)
        prev = np.concatenate([h1, h2]) @ params[p + "linear"]["w"] + params[p + "linear"]["b"]
        mels.append(prev)
    mel = np.array(mels)
    y = mel
    for s in ("", "_1", "_2", "_3"):
        y = np.tanh(
            batch_norm(
                conv1d_same(y, params[p + "conv1_d" + s]["w"], params[p + "conv1_d" + s]["b"]),
                params,
                aux,
                p + "batch_norm" + s,
            )
        )
    return mel + conv1d_same(y, params[p + "conv1_d_4"]["w"], params[p + "conv1_d_4"]["b"])


def _leaky(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x >= 0, x, slope * x)


def conv_transpose(x: np.ndarray, w_haiku: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Transposed conv with the torch/ONNX kernel W[in, out, j] = w[k-1-j, out, in] and
    padding (k - stride) / 2: each input frame scatters a kernel-long window."""
    k = w_haiku.shape[0]
    W = w_haiku[::-1].transpose(2, 1, 0)  # [in, out, k]
    n = x.shape[0]
    full = np.zeros(((n - 1) * stride + k, W.shape[1]))
    for t in range(n):
        full[t * stride : t * stride + k] += np.einsum("i,iok->ko", x[t], W)
    pad = (k - stride) // 2
    return full[pad : pad + n * stride] + b


def hifigan(mel: np.ndarray, params: Tree, config: dict[str, Any]) -> np.ndarray:
    p = "generator/~/"
    x = conv1d_same(mel, params[p + "conv1_d"]["w"], params[p + "conv1_d"]["b"])
    kernels = config["resblock_kernel_sizes"]
    for i, u in enumerate(config["upsample_rates"]):
        x = conv_transpose(_leaky(x, 0.1), params[f"{p}ups_{i}"]["w"], params[f"{p}ups_{i}"]["b"], u)
        total = 0
        for j, dil in enumerate(config["resblock_dilation_sizes"]):
            block = f"{p}res_block1_{i * len(kernels) + j}/~/"
            h = x
            for z, d in enumerate(dil):
                t = conv1d_same(_leaky(h, 0.1), params[f"{block}convs1_{z}"]["w"], params[f"{block}convs1_{z}"]["b"], d)
                t = conv1d_same(_leaky(t, 0.1), params[f"{block}convs2_{z}"]["w"], params[f"{block}convs2_{z}"]["b"])
                h = t + h
            total = total + h
        x = total / len(kernels)
    x = conv1d_same(_leaky(x, 0.01), params[p + "conv1_d_1"]["w"], params[p + "conv1_d_1"]["b"])
    return np.tanh(x[:, 0])
