"""Read a PyTorch HiFi-GAN generator checkpoint (``g_XXXXXXXX``) without torch.

Supports the zip format torch has written since 1.6 (``archive/data.pkl`` plus one raw
file per storage). Only tensor rebuild functions and storage types are resolved; any
other global is refused. Weight norm (``weight_g``, ``weight_v``) is folded, and the
names are mapped onto vietTTS's haiku names (the inverse of its
``convert_torch_model_to_haiku.py``).
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from tts.voices.base import VoiceError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "BFloat16Storage": np.uint16,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_rest: Any
) -> np.ndarray:
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_rest: Any) -> np.ndarray:
    return data


class _TorchUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive = archive
        self.prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise pickle.UnpicklingError(f"checkpoint references {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError("unknown persistent id in torch checkpoint")
        storage_type, key = pid[1], str(pid[2])
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else np.dtype(np.float32)
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype=dtype)


def is_torch_checkpoint(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if not pkl:
            raise VoiceError(f"{path.name}: không phải checkpoint PyTorch dạng zip")
        prefix = pkl[0][: -len("/data.pkl")]
        try:
            obj = _TorchUnpickler(archive.read(pkl[0]), archive, prefix).load()
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError) as exc:
            raise VoiceError(f"{path.name}: không đọc được checkpoint PyTorch ({exc})") from exc
    if isinstance(obj, dict) and "generator" in obj:
        obj = obj["generator"]
    if not isinstance(obj, dict):
        raise VoiceError(f"{path.name}: checkpoint không chứa state_dict của generator")
    return {str(k): np.asarray(v) for k, v in obj.items() if isinstance(v, np.ndarray)}


def _fold_weight_norm(state: dict[str, np.ndarray], module: str) -> np.ndarray:
    if f"{module}.weight" in state:
        return state[f"{module}.weight"].astype(np.float32)
    try:
        g, v = state[f"{module}.weight_g"], state[f"{module}.weight_v"]
    except KeyError as exc:
        raise VoiceError(f"checkpoint PyTorch thiếu trọng số {module}") from exc
    norm = np.sqrt(np.sum(v.astype(np.float64) ** 2, axis=tuple(range(1, v.ndim)), keepdims=True))
    folded: np.ndarray = (g * v / norm).astype(np.float32)
    return folded


def load_torch_generator(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Haiku-named parameters (``generator/~/...``) from a PyTorch HiFi-GAN generator."""
    state = load_state_dict(path)
    params: dict[str, dict[str, np.ndarray]] = {}

    def conv(module: str, target: str) -> None:
        w = _fold_weight_norm(state, module)  # [out, in, k]
        params[f"generator/~/{target}"] = {
            "w": w.transpose(2, 1, 0).copy(),
            "b": state[f"{module}.bias"].astype(np.float32),
        }

    conv("conv_pre", "conv1_d")
    conv("conv_post", "conv1_d_1")
    ups = sorted({int(m[1]) for k in state if (m := re.match(r"ups\.(\d+)\.", k))})
    for i in ups:
        w = _fold_weight_norm(state, f"ups.{i}")  # [in, out, k]
        params[f"generator/~/ups_{i}"] = {
            "w": w.transpose(2, 1, 0)[::-1].copy(),
            "b": state[f"ups.{i}.bias"].astype(np.float32),
        }
    for key in state:
        m = re.match(r"resblocks\.(\d+)\.(convs[12])\.(\d+)\.bias$", key)
        if m:
            conv(f"resblocks.{m[1]}.{m[2]}.{m[3]}", f"res_block1_{m[1]}/~/{m[2]}_{m[3]}")
    if not ups:
        raise VoiceError(f"{path.name}: không thấy lớp 'ups' của HiFi-GAN")
    return params
