"""Safe loading of vietTTS checkpoints without jax, haiku or optax.

The training pickles reference optax state classes (and, depending on the version that
wrote them, haiku FlatMapping or jax array types). This unpickler rebuilds numpy arrays
and plain containers, replaces every class from jax/haiku/optax with an inert stand-in,
and refuses anything else, so a checkpoint can never run code on load.
"""

from __future__ import annotations

import codecs
import importlib
import io
import lzma
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from tts.voices.base import VoiceError

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS = {
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "tuple"),
    ("builtins", "list"),
    ("builtins", "dict"),
}
_FOREIGN_PREFIXES = ("optax", "haiku", "jax", "jaxlib", "chex")


class Stub:
    """Inert stand-in for a jax/haiku/optax object found in a checkpoint."""

    def __init__(self, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.qualname = qualname
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"Stub({self.qualname})"


def _stub_factory(qualname: str) -> Any:
    class _Factory:
        def __new__(cls, *args: Any, **kwargs: Any) -> Stub:  # type: ignore[misc]
            return Stub(qualname, args, kwargs)

    _Factory.__name__ = qualname.rsplit(".", 1)[-1]
    return _Factory


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            if module == "numpy":
                return getattr(np, name)
            # numpy 2 moved numpy.core to numpy._core; old pickles still name the former.
            current = module.replace("numpy.core", "numpy._core", 1)
            try:
                return getattr(importlib.import_module(current), name)
            except (ImportError, AttributeError):
                return getattr(importlib.import_module(module), name)
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode  # protocol-2 pickles store bytes as _codecs.encode(str, "latin1")
        if (module, name) in _BUILTINS:
            return OrderedDict if name == "OrderedDict" else getattr(__import__("builtins"), name)
        if module.split(".")[0] in _FOREIGN_PREFIXES:
            return _stub_factory(f"{module}.{name}")
        raise pickle.UnpicklingError(f"checkpoint references {module}.{name}, which is not allowed")


def _plain(obj: Any) -> Any:
    """Turn stand-ins into plain containers: mappings into dicts, array wrappers into arrays."""
    if isinstance(obj, Stub):
        for candidate in (*obj.args, obj.state, *obj.kwargs.values()):
            if isinstance(candidate, dict | np.ndarray):
                return _plain(candidate)
            if isinstance(candidate, list | tuple):
                for item in candidate:
                    if isinstance(item, np.ndarray | dict):
                        return _plain(item)
        return obj
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):  # namedtuples from checkpoints become plain tuples
        return tuple(_plain(v) for v in obj)
    return obj


def load_pickle(path: Path) -> Any:
    """Load a (possibly .xz-compressed) vietTTS pickle safely."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VoiceError(f"không đọc được {path}: {exc}") from exc
    if raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    try:
        return _plain(SafeUnpickler(io.BytesIO(raw)).load())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise VoiceError(f"{path.name}: không phải checkpoint vietTTS hợp lệ ({exc})") from exc


Params = dict[str, dict[str, np.ndarray]]


def model_tree(ckpt: Any, path: Path) -> tuple[Params, Params]:
    """(params, aux) of a duration/acoustic checkpoint, or (params, {}) of hk_hifi."""
    if isinstance(ckpt, dict) and "params" in ckpt:
        params, aux = ckpt["params"], ckpt.get("aux", {}) or {}
    elif isinstance(ckpt, dict):
        params, aux = ckpt, {}
    else:
        raise VoiceError(f"{path.name}: cấu trúc checkpoint không nhận ra")
    for tree in (params, aux):
        for module, leaves in tree.items():
            if not isinstance(leaves, dict):
                raise VoiceError(f"{path.name}: mô-đun {module} không có tham số dạng từ điển")
    return params, aux


def param(tree: Params, module: str, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Fetch one float32 parameter, checking its presence and shape with a clear message."""
    try:
        value = np.asarray(tree[module][name], dtype=np.float32)
    except KeyError as exc:
        raise VoiceError(f"checkpoint thiếu tham số {module}/{name}") from exc
    if shape is not None and value.shape != shape:
        raise VoiceError(f"tham số {module}/{name} có kích thước {value.shape}, cần {shape}")
    return value
