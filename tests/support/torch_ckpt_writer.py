"""Write a HiFi-GAN generator checkpoint in PyTorch's zip format without torch.

The layout is what ``torch.save({'generator': state_dict}, 'g_XXXXXXXX')`` produces:
``archive/data.pkl`` referencing ``torch._utils._rebuild_tensor_v2`` and
``torch.FloatStorage`` through persistent ids, one raw little-endian file per storage
under ``archive/data/``, plus ``archive/version``. Weights are weight-normed
(``weight_g``/``weight_v``) with torch's names (conv_pre, ups.N, resblocks.N.convsK.M,
conv_post), as jik876/hifi-gan trains them.

Run it in its own process (``python -m tests.support.torch_ckpt_writer OUT SEED``): it
registers stand-in ``torch`` modules so pickle can name the real globals.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.viettts_tiny import hifigan_tree


def _install_stand_ins() -> tuple[Any, Any]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise RuntimeError("stand-in")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return FloatStorage, _rebuild_tensor_v2


class _Tensor:
    def __init__(self, array: np.ndarray, key: str) -> None:
        self.array = np.ascontiguousarray(array, dtype="<f4")
        self.key = key


def torch_state_dict(seed: int) -> dict[str, np.ndarray]:
    """The tiny generator of viettts_tiny in torch layout, weight-normed."""
    params = hifigan_tree(seed)
    state: dict[str, np.ndarray] = {}

    def weight_norm(name: str, w: np.ndarray) -> None:
        norm = np.sqrt(np.sum(w.astype(np.float64) ** 2, axis=tuple(range(1, w.ndim)), keepdims=True))
        scale = np.random.default_rng(len(name)).uniform(0.5, 2.0, size=norm.shape)
        state[f"{name}.weight_v"] = (w * scale).astype(np.float32)  # direction only matters
        state[f"{name}.weight_g"] = norm.astype(np.float32)

    for module, leaves in params.items():
        short = module.split("/~/", 1)[1]
        if short == "conv1_d":
            name = "conv_pre"
        elif short == "conv1_d_1":
            name = "conv_post"
        elif short.startswith("ups_"):
            name = f"ups.{short[4:]}"
            weight_norm(name, leaves["w"][::-1].transpose(2, 1, 0))  # [in, out, k]
            state[f"{name}.bias"] = leaves["b"]
            continue
        else:
            block, conv = short.split("/~/")
            kind, index = conv.rsplit("_", 1)
            name = f"resblocks.{block.rsplit('_', 1)[1]}.{kind}.{index}"
        weight_norm(name, leaves["w"].transpose(2, 1, 0))  # [out, in, k]
        state[f"{name}.bias"] = leaves["b"]
    return state


def write(path: Path, seed: int) -> None:
    storage_type, rebuild = _install_stand_ins()
    state = torch_state_dict(seed)
    tensors = {name: _Tensor(value, str(i)) for i, (name, value) in enumerate(state.items())}

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _Tensor):
                return ("storage", storage_type, obj.key, "cpu", obj.array.size)
            return None

    class Reduced:
        def __init__(self, t: _Tensor) -> None:
            self.t = t

        def __reduce__(self) -> Any:
            a = self.t.array
            stride = tuple(s // 4 for s in a.strides)
            return (rebuild, (self.t, 0, a.shape, stride, False, collections.OrderedDict()))

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({"generator": collections.OrderedDict((n, Reduced(t)) for n, t in tensors.items())})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buf.getvalue())
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")
        for t in tensors.values():
            archive.writestr(f"archive/data/{t.key}", t.array.tobytes())


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))
