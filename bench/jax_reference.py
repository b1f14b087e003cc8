"""The vietTTS architecture in JAX, jit-compiled: the anchor for Loa's ONNX core.

Run only by the benchmark, inside the separate virtual environment it creates with jax
from PyPI (Loa itself never imports jax). This is Loa's own transcription of
NTT123/vietTTS's inference maths (its source cannot be fetched here); before timing,
it is checked against vietTTS's stored outputs (shared/fixtures/viettts/parity), so
the anchor computes what vietTTS computes, as XLA compiles it.

usage: python jax_reference.py CKPT_DIR PARITY_DIR CASES.npz OUT.json
CASES.npz holds, per case i, tokens_i, durations_i, keep1_i, keep2_i (as Loa computed them).
"""

from __future__ import annotations

import json
import lzma
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


class _Stub:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in ("optax", "haiku", "jax", "chex"):
            return _Stub
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def load(path: Path) -> Any:
    raw = path.read_bytes()
    if raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    return _Unpickler(__import__("io").BytesIO(raw)).load()


def lstm(xs: jnp.ndarray, w: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    hidden = w.shape[1] // 4

    def step(carry: tuple[jnp.ndarray, jnp.ndarray], x: jnp.ndarray) -> tuple[Any, jnp.ndarray]:
        h, c = carry
        i, g, f, o = jnp.split(jnp.concatenate([x, h]) @ w + b, 4)
        c = jax.nn.sigmoid(f + 1) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros(hidden, xs.dtype)
    return lax.scan(step, (zeros, zeros), xs)[1]


def conv(x: jnp.ndarray, w: jnp.ndarray, b: jnp.ndarray, dilation: int = 1) -> jnp.ndarray:
    y = lax.conv_general_dilated(
        x[None], w, (1,), "SAME", rhs_dilation=(dilation,), dimension_numbers=("NWC", "WIO", "NWC")
    )[0]
    return y + b


def conv_transpose(x: jnp.ndarray, w: jnp.ndarray, b: jnp.ndarray, stride: int) -> jnp.ndarray:
    k = w.shape[0]
    pad = k - 1 - (k - stride) // 2
    y = lax.conv_general_dilated(
        x[None],
        jnp.transpose(w, (0, 2, 1)),
        (1,),
        [(pad, pad)],
        lhs_dilation=(stride,),
        dimension_numbers=("NWC", "WIO", "NWC"),
    )[0]
    return y + b


def bn(x: jnp.ndarray, p: dict[str, Any], a: dict[str, Any], name: str) -> jnp.ndarray:
    mean = a[f"{name}/~/mean_ema"]["average"].reshape(-1)
    var = a[f"{name}/~/var_ema"]["average"].reshape(-1)
    return (x - mean) * (p[name]["scale"].reshape(-1) * lax.rsqrt(var + 1e-5)) + p[name]["offset"].reshape(-1)


def encoder(tokens: jnp.ndarray, p: dict[str, Any], a: dict[str, Any], prefix: str) -> jnp.ndarray:
    e = f"{prefix}/~/token_encoder/~/"
    x = p[e + "embed"]["embeddings"][tokens]
    for s in ("", "_1", "_2"):
        x = jax.nn.relu(bn(conv(x, p[e + "conv1_d" + s]["w"], p[e + "conv1_d" + s]["b"]), p, a, e + "batch_norm" + s))
    fwd = lstm(x, p[e + "lstm/linear"]["w"], p[e + "lstm/linear"]["b"])
    bwd = lstm(x[::-1], p[e + "lstm_1/linear"]["w"], p[e + "lstm_1/linear"]["b"])[::-1]
    return jnp.concatenate([fwd, bwd], axis=1)


def duration(tokens: jnp.ndarray, p: dict[str, Any], a: dict[str, Any]) -> jnp.ndarray:
    x = encoder(tokens, p, a, "duration_model")
    x = jax.nn.gelu(x @ p["duration_model/~/linear"]["w"] + p["duration_model/~/linear"]["b"], approximate=True)
    x = (x @ p["duration_model/~/linear_1"]["w"] + p["duration_model/~/linear_1"]["b"])[:, 0]
    return jax.nn.softplus(x)


def acoustic(
    tokens: jnp.ndarray,
    frames: jnp.ndarray,
    keep1: jnp.ndarray,
    keep2: jnp.ndarray,
    p: dict[str, Any],
    a: dict[str, Any],
) -> jnp.ndarray:
    q = "acoustic_model/~/"
    enc = encoder(tokens, p, a, "acoustic_model")
    end = jnp.cumsum(frames)
    mid = end - frames / 2
    ruler = jnp.arange(keep1.shape[0])[:, None]
    w = jax.nn.softmax(-jnp.square(mid[None, :] - ruler) / 10.0, axis=-1)
    cond = w @ enc
    w1, b1 = p[q + "lstm/linear"]["w"], p[q + "lstm/linear"]["b"]
    w2, b2 = p[q + "lstm_1/linear"]["w"], p[q + "lstm_1/linear"]["b"]
    hidden = w1.shape[1] // 4

    def cell(x: jnp.ndarray, h: jnp.ndarray, c: jnp.ndarray, w: jnp.ndarray, b: jnp.ndarray) -> Any:
        i, g, f, o = jnp.split(jnp.concatenate([x, h]) @ w + b, 4)
        c = jax.nn.sigmoid(f + 1) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c

    def step(carry: Any, inputs: Any) -> Any:
        prev, h1, c1, h2, c2 = carry
        cond_t, k1, k2 = inputs
        x = jax.nn.relu(prev @ p[q + "linear_1"]["w"]) * k1
        x = jax.nn.relu(x @ p[q + "linear_2"]["w"]) * k2
        x = jnp.concatenate([cond_t, x])
        h1, c1 = cell(x, h1, c1, w1, b1)
        h2, c2 = cell(jnp.concatenate([x, h1]), h2, c2, w2, b2)
        y = jnp.concatenate([h1, h2]) @ p[q + "linear"]["w"] + p[q + "linear"]["b"]
        return (y, h1, c1, h2, c2), y

    z = jnp.zeros(hidden)
    init = (jnp.zeros(p[q + "linear_1"]["w"].shape[0]), z, z, z, z)
    mel = lax.scan(step, init, (cond, keep1, keep2))[1]
    y = mel
    for s in ("", "_1", "_2", "_3"):
        y = jnp.tanh(bn(conv(y, p[q + "conv1_d" + s]["w"], p[q + "conv1_d" + s]["b"]), p, a, q + "batch_norm" + s))
    return mel + conv(y, p[q + "conv1_d_4"]["w"], p[q + "conv1_d_4"]["b"])


def hifigan(mel: jnp.ndarray, p: dict[str, Any]) -> jnp.ndarray:
    g = "generator/~/"
    x = conv(mel, p[g + "conv1_d"]["w"], p[g + "conv1_d"]["b"])
    for i, u in enumerate((8, 8, 2, 2)):
        x = conv_transpose(jax.nn.leaky_relu(x, 0.1), p[f"{g}ups_{i}"]["w"], p[f"{g}ups_{i}"]["b"], u)
        total = 0
        for j in range(3):
            blk = f"{g}res_block1_{i * 3 + j}/~/"
            h = x
            for z, d in enumerate((1, 3, 5)):
                t = conv(jax.nn.leaky_relu(h, 0.1), p[f"{blk}convs1_{z}"]["w"], p[f"{blk}convs1_{z}"]["b"], d)
                t = conv(jax.nn.leaky_relu(t, 0.1), p[f"{blk}convs2_{z}"]["w"], p[f"{blk}convs2_{z}"]["b"])
                h = t + h
            total = total + h
        x = total / 3
    x = conv(jax.nn.leaky_relu(x, 0.01), p[g + "conv1_d_1"]["w"], p[g + "conv1_d_1"]["b"])
    return jnp.tanh(x[:, 0])


def timed(fn: Any, *args: Any, repeats: int = 3) -> tuple[Any, float, float]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start  # compile + run
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best.append(time.perf_counter() - start)
    return out, first, float(np.median(best))


def rel(a: Any, b: Any) -> float:
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def main() -> None:
    ckpt, parity, cases_path, out_path = map(Path, sys.argv[1:5])
    dur = load(ckpt / "duration_latest_ckpt.pickle.xz")
    aco = load(ckpt / "acoustic_latest_ckpt.pickle.xz")
    voc = load(ckpt / "hk_hifi.pickle.xz")

    def arrays(tree: Any) -> Any:
        return jax.tree_util.tree_map(
            lambda leaf: jnp.asarray(leaf) if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" else leaf, tree
        )

    dp, da, ap, aa = (arrays(t) for t in (dur["params"], dur["aux"], aco["params"], aco["aux"]))
    voc = arrays(voc)
    f_dur = jax.jit(lambda t: duration(t, dp, da))
    f_aco = jax.jit(lambda t, f, k1, k2: acoustic(t, f, k1, k2, ap, aa))
    f_voc = jax.jit(lambda m: hifigan(m, voc))

    # The anchor must compute what vietTTS computes.
    tok = np.load(parity / "main_tokens.npy")
    d = np.load(parity / "main_durations.npy")[0]
    k1 = np.load(parity / "main_prenet_keep_mask1.npy")[0].astype(np.float32) * 2
    k2 = np.load(parity / "main_prenet_keep_mask2.npy")[0].astype(np.float32) * 2
    check = {
        "durations": rel(f_dur(tok), np.load(parity / "main_durations_raw.npy")[0]),
        "mel": rel(f_aco(tok, d * 16000 / 256, k1, k2), np.load(parity / "main_mel_full.npy")[0]),
        "wav": rel(f_voc(np.load(parity / "realmel_mel.npy")[0]), np.load(parity / "realmel_wav.npy")),
    }
    cases = np.load(cases_path)
    results = []
    for i in range(len([k for k in cases.files if k.startswith("tokens_")])):
        tokens, durations = cases[f"tokens_{i}"], cases[f"durations_{i}"]
        frames = (durations * np.float32(16000) / np.float32(256)).astype(np.float32)
        _, c1, t1 = timed(f_dur, tokens)
        mel, c2, t2 = timed(f_aco, tokens, frames, cases[f"keep1_{i}"], cases[f"keep2_{i}"])
        trim = int(durations[-1] * 16000 / 256)
        _, c3, t3 = timed(f_voc, np.asarray(mel)[: mel.shape[0] - trim])
        results.append({"duration": t1, "acoustic": t2, "vocoder": t3, "compile": c1 + c2 + c3 - t1 - t2 - t3})
    json.dump({"jax": jax.__version__, "parity_rel_l2": check, "phrases": results}, out_path.open("w"))


if __name__ == "__main__":
    main()
