"""Installed ASR models: ``$LOA_MODELS_DIR/asr/<name>/`` with an ``asr.json`` manifest.

``loa asr install PATH`` takes a model folder or its archive (.tar.bz2, .tar.gz, .zip, as
the model pages distribute them), finds the model inside (bundles nest it one folder
deep), recognizes the backend by its files, checks that it loads, and copies it in.
Nothing is ever downloaded.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.feedback.asr import sherpa, vosk_backend, whisper_backend
from gateway.feedback.asr.base import Backend, ModelError
from tts.voices.registry import models_dir

MANIFEST = "asr.json"
DETECTORS = (
    ("sherpa-onnx", sherpa.looks_like),
    ("vosk", vosk_backend.looks_like),
    ("faster-whisper", whisper_backend.looks_like),
)


@dataclass(frozen=True)
class Installed:
    name: str
    backend: str
    folder: Path
    installed_at: str


def asr_dir(root: Path | None = None) -> Path:
    return (root or models_dir()) / "asr"


def detect(folder: Path) -> tuple[str, Path]:
    """The backend and the model's own folder (itself or one level down)."""
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        for backend, looks_like in DETECTORS:
            if looks_like(candidate):
                return backend, candidate
    raise ModelError(
        f"{folder}: không nhận ra mô hình (cần sherpa-onnx: encoder/decoder/joiner*.onnx + tokens.txt; "
        "Vosk: am/final.mdl; faster-whisper: model.bin + config.json)"
    )


def open_backend(backend: str, folder: Path) -> Backend:
    if backend == "sherpa-onnx":
        return sherpa.SherpaTransducer(folder)
    if backend == "vosk":
        return vosk_backend.VoskModel(folder)
    if backend == "faster-whisper":
        return whisper_backend.FasterWhisper(folder)
    raise ModelError(f"không biết loại mô hình '{backend}'")


def _unpack(source: Path, into: Path) -> Path:
    name = source.name.lower()
    if name.endswith((".tar.bz2", ".tar.gz", ".tgz", ".tar.xz", ".tar")):
        with tarfile.open(source) as archive:
            archive.extractall(into, filter="data")  # no absolute paths, links out or devices
    elif name.endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ModelError(f"{source}: tệp nén có đường dẫn không an toàn: {member}")
            archive.extractall(into)
    else:
        raise ModelError(f"{source}: cần thư mục mô hình hoặc tệp .tar.bz2/.tar.gz/.zip")
    return into


def install(source: Path, name: str | None = None, root: Path | None = None) -> Installed:
    if not source.exists():
        raise ModelError(f"{source}: không tồn tại")
    with tempfile.TemporaryDirectory() as tmp:
        folder = source if source.is_dir() else _unpack(source, Path(tmp))
        backend, model = detect(folder)
        open_backend(backend, model)  # refuse what does not load, before copying anything
        chosen = name or re.sub(r"[^a-z0-9._-]+", "-", model.name.lower()).strip("-") or backend
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", chosen):
            raise ModelError("name: chỉ dùng chữ thường không dấu, số, '.', '_' và '-' (tối đa 64 ký tự)")
        target = asr_dir(root) / chosen
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(model, target)
    installed = Installed(chosen, backend, target, datetime.now(UTC).isoformat(timespec="seconds"))
    manifest = {"name": chosen, "backend": backend, "source": str(source), "installed_at": installed.installed_at}
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return installed


def installed(root: Path | None = None) -> list[Installed]:
    out = []
    base = asr_dir(root)
    for manifest in sorted(base.glob(f"*/{MANIFEST}")) if base.is_dir() else []:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        out.append(Installed(data["name"], data["backend"], manifest.parent, data.get("installed_at", "")))
    return out


def load(name: str = "", root: Path | None = None) -> Backend | None:
    """The named model, or the only/first installed one; None when none is installed."""
    models = installed(root)
    if name:
        models = [m for m in models if m.name == name]
        if not models:
            raise ModelError(f"asr_model: chưa cài mô hình '{name}' (loa asr list)")
    if not models:
        return None
    return open_backend(models[0].backend, models[0].folder)
