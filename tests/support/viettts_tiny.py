"""Tiny vietTTS checkpoints in the real on-disk format.

Same parameter names and tree layout as NTT123/vietTTS training pickles ({step, params,
aux, rng, optim_state}, haiku module paths, BatchNorm EMA state, optax Adam state whose
classes live in ``optax._src``), with small dimensions so tests run in seconds.
The optax classes are registered only while pickling, under their real module names,
exactly as ../shared/fixtures/viettts/make_checkpoints.py does.
"""

from __future__ import annotations

import collections
import contextlib
import json
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

EMB = 8  # token encoder width (256 in vietTTS)
DEC = 16  # decoder LSTM width (512)
PRE = 8  # prenet width (256)
MEL = 8  # mel bins (80)
POST = 8  # postnet width (512)
VOC = 16  # HiFi-GAN initial channels (512)

TINY_HIFIGAN = {
    "resblock": "1",
    "upsample_rates": [8, 8, 2, 2],
    "upsample_kernel_sizes": [16, 16, 4, 4],
    "upsample_initial_channel": VOC,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "num_mels": MEL,
    "hop_size": 256,
    "sampling_rate": 16000,
}


@contextlib.contextmanager
def optax_stand_ins() -> Iterator[dict[str, Any]]:
    added: list[str] = []
    classes: dict[str, Any] = {}
    for qual, fields in (
        ("optax._src.base.EmptyState", []),
        ("optax._src.transform.ScaleByAdamState", ["count", "mu", "nu"]),
    ):
        module, name = qual.rsplit(".", 1)
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            key = ".".join(parts[:i])
            if key not in sys.modules:
                sys.modules[key] = types.ModuleType(key)
                added.append(key)
        cls = collections.namedtuple(name, fields)  # type: ignore[misc]
        cls.__module__ = module
        setattr(sys.modules[module], name, cls)
        classes[name] = cls
    try:
        yield classes
    finally:
        for key in added:
            sys.modules.pop(key, None)


def _bn(rng: np.random.Generator, tree: dict[str, Any], aux: dict[str, Any], name: str, c: int) -> None:
    tree[name] = {
        "scale": (1 + 0.1 * rng.standard_normal((1, 1, c))).astype(np.float32),
        "offset": (0.1 * rng.standard_normal((1, 1, c))).astype(np.float32),
    }
    aux[f"{name}/~/mean_ema"] = {
        "average": (0.1 * rng.standard_normal((1, 1, c))).astype(np.float32),
        "hidden": np.zeros((1, 1, c), np.float32),
        "counter": np.array(1, np.int32),
    }
    aux[f"{name}/~/var_ema"] = {
        "average": (1 + 0.2 * rng.random((1, 1, c))).astype(np.float32),
        "hidden": np.zeros((1, 1, c), np.float32),
        "counter": np.array(1, np.int32),
    }


def _w(rng: np.random.Generator, *shape: int, scale: float = 0.3) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _encoder(rng: np.random.Generator, prefix: str, params: dict[str, Any], aux: dict[str, Any]) -> None:
    enc = f"{prefix}/~/token_encoder/~/"
    params[enc + "embed"] = {"embeddings": _w(rng, 256, EMB, scale=1.0)}
    for s in ("", "_1", "_2"):
        params[enc + "conv1_d" + s] = {"w": _w(rng, 3, EMB, EMB), "b": _w(rng, EMB, scale=0.1)}
        _bn(rng, params, aux, enc + "batch_norm" + s, EMB)
    for s in ("lstm", "lstm_1"):
        params[enc + s + "/linear"] = {"w": _w(rng, 2 * EMB, 4 * EMB), "b": _w(rng, 4 * EMB, scale=0.1)}


def duration_tree(seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    params: dict[str, Any] = {}
    aux: dict[str, Any] = {}
    _encoder(rng, "duration_model", params, aux)
    params["duration_model/~/linear"] = {"w": _w(rng, 2 * EMB, 16), "b": _w(rng, 16, scale=0.1)}
    params["duration_model/~/linear_1"] = {"w": _w(rng, 16, 1, scale=0.05), "b": np.array([-2.6], np.float32)}
    return params, aux


def acoustic_tree(seed: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    params: dict[str, Any] = {}
    aux: dict[str, Any] = {}
    _encoder(rng, "acoustic_model", params, aux)
    p = "acoustic_model/~/"
    cond = 2 * EMB
    params[p + "lstm/linear"] = {"w": _w(rng, cond + PRE + DEC, 4 * DEC), "b": _w(rng, 4 * DEC, scale=0.1)}
    params[p + "lstm_1/linear"] = {"w": _w(rng, cond + PRE + 2 * DEC, 4 * DEC), "b": _w(rng, 4 * DEC, scale=0.1)}
    params[p + "linear"] = {"w": _w(rng, 2 * DEC, MEL), "b": _w(rng, MEL, scale=0.1)}
    params[p + "linear_1"] = {"w": _w(rng, MEL, PRE)}
    params[p + "linear_2"] = {"w": _w(rng, PRE, PRE)}
    chans = [MEL, POST, POST, POST, POST]
    for i, s in enumerate(("", "_1", "_2", "_3")):
        params[p + "conv1_d" + s] = {"w": _w(rng, 5, chans[i], POST, scale=0.2), "b": _w(rng, POST, scale=0.1)}
        _bn(rng, params, aux, p + "batch_norm" + s, POST)
    params[p + "conv1_d_4"] = {"w": _w(rng, 5, POST, MEL, scale=0.2), "b": _w(rng, MEL, scale=0.1)}
    aux["acoustic_model"] = {"attn": _w(rng, 4, 4)}
    return params, aux


def hifigan_tree(seed: int = 2) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    p = "generator/~/"
    params: dict[str, Any] = {p + "conv1_d": {"w": _w(rng, 7, MEL, VOC), "b": _w(rng, VOC, scale=0.1)}}
    ch = VOC
    kernels = TINY_HIFIGAN["resblock_kernel_sizes"]
    for i, k in enumerate(TINY_HIFIGAN["upsample_kernel_sizes"]):  # type: ignore[arg-type]
        out = ch // 2
        params[f"{p}ups_{i}"] = {"w": _w(rng, k, out, ch, scale=0.2), "b": _w(rng, out, scale=0.05)}
        for j, rk in enumerate(kernels):  # type: ignore[arg-type]
            for conv in ("convs1", "convs2"):
                for z in range(3):
                    params[f"{p}res_block1_{i * 3 + j}/~/{conv}_{z}"] = {
                        "w": _w(rng, rk, out, out, scale=0.1),
                        "b": _w(rng, out, scale=0.05),
                    }
        ch = out
    params[p + "conv1_d_1"] = {"w": _w(rng, 7, ch, 1, scale=0.5), "b": np.zeros(1, np.float32)}
    return params


def _training_pickle(params: dict[str, Any], aux: dict[str, Any], rng_seed: int) -> bytes:
    with optax_stand_ins() as cls:
        zeros = {m: {k: np.zeros_like(v) for k, v in leaves.items()} for m, leaves in params.items()}
        optim = (
            cls["EmptyState"](),
            (cls["ScaleByAdamState"](np.array(0, np.int32), zeros, zeros), cls["EmptyState"](), cls["EmptyState"]()),
        )
        ckpt = {
            "step": 0,
            "params": params,
            "aux": aux,
            "rng": np.array([0, rng_seed], np.uint32),
            "optim_state": optim,
        }
        return pickle.dumps(ckpt, protocol=4)


def write_tiny_checkpoints(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Write duration/acoustic training pickles, hk_hifi.pickle, a lexicon and a config."""
    folder.mkdir(parents=True, exist_ok=True)
    d_params, d_aux = duration_tree(seed)
    a_params, a_aux = acoustic_tree(seed + 1)
    paths = {
        "duration": folder / "duration_latest_ckpt.pickle",
        "acoustic": folder / "acoustic_latest_ckpt.pickle",
        "vocoder": folder / "hk_hifi.pickle",
        "lexicon": folder / "lexicon.txt",
        "config": folder / "config.json",
    }
    paths["duration"].write_bytes(_training_pickle(d_params, d_aux, 0))
    paths["acoustic"].write_bytes(_training_pickle(a_params, a_aux, 1))
    paths["vocoder"].write_bytes(pickle.dumps(hifigan_tree(seed + 2), protocol=4))
    paths["lexicon"].write_text("xin\t x i n\nchào\t c h à o\nbrown\t b r o w n\n", encoding="utf-8")
    paths["config"].write_text(json.dumps(TINY_HIFIGAN), encoding="utf-8")
    return paths
