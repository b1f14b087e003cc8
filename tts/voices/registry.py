"""Where voices live and how they are found, installed and loaded.

Installed voices are folders under ``$LOA_MODELS_DIR/voices/<id>/`` (default
``./models/voices``), each with a ``voice.json`` manifest. ``vi-espeak`` is built in.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tts.voices.base import MANIFEST_NAME, Voice, VoiceError, VoiceInfo

DEFAULT_VOICE = "vi-espeak"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VoiceCache = dict[tuple[str, str, int, float], Voice]


def models_dir() -> Path:
    return Path(os.environ.get("LOA_MODELS_DIR", "models"))


def voices_dir() -> Path:
    return models_dir() / "voices"


def _espeak_info() -> VoiceInfo:
    return VoiceInfo(
        id=DEFAULT_VOICE,
        kind="espeak",
        name="espeak-ng tiếng Việt (mặc định)",
        sample_rate=22050,
        settings={"espeak_voice": "vi", "rate_wpm": 150, "pitch": 50},
    )


def list_voices() -> list[tuple[VoiceInfo, Path | None]]:
    found: list[tuple[VoiceInfo, Path | None]] = [(_espeak_info(), None)]
    root = voices_dir()
    if root.is_dir():
        for manifest in sorted(root.glob(f"*/{MANIFEST_NAME}")):
            try:
                found.append((VoiceInfo.from_file(manifest), manifest.parent))
            except VoiceError:
                continue
    return found


def resolve(voice: str | None) -> tuple[VoiceInfo, Path | None]:
    """A voice id (built-in or installed) or a voice folder path -> (manifest, folder)."""
    name = voice or DEFAULT_VOICE
    if name == DEFAULT_VOICE:
        return _espeak_info(), None
    path = Path(name)
    if (path / MANIFEST_NAME).is_file():
        return VoiceInfo.from_file(path / MANIFEST_NAME), path
    if path.suffix == ".onnx" and path.is_file():
        return _piper_info(path), path.parent
    for info, folder in list_voices():
        if info.id == name:
            return info, folder
    known = ", ".join(i.id for i, _ in list_voices())
    raise VoiceError(f"giọng đọc '{name}' chưa được cài; các giọng có: {known}")


SPEEDS = (0.8, 0.9, 1.0, 1.1, 1.2)  # speaking speeds offered, relative to the voice's own


def at_speed(info: VoiceInfo, speed: float) -> VoiceInfo:
    """The voice's manifest with its speaking speed scaled: espeak-ng's words per minute,
    a Piper model's ``length_scale``. The settings are part of the phrase cache key, so
    phrases at one speed are never reused at another."""
    if speed == 1.0:
        return info
    if speed not in SPEEDS:
        raise VoiceError(f"tốc độ đọc phải là một trong: {', '.join(str(s) for s in SPEEDS)}")
    settings = dict(info.settings)
    if info.kind == "espeak":
        settings["rate_wpm"] = round(int(settings.get("rate_wpm", 150)) * speed)
    elif info.kind == "piper":
        settings["length_scale"] = round(float(settings.get("length_scale", 1.0)) / speed, 4)
    else:
        raise VoiceError(f"giọng {info.id} chưa đổi được tốc độ đọc (chỉ đọc ở tốc độ bình thường)")
    return VoiceInfo(**{**info.__dict__, "settings": settings})


def load_voice(
    voice: str | None = None, threads: int = 0, speed: float = 1.0, cache: VoiceCache | None = None
) -> Voice:
    """The voice at ``speed``, loaded (models read, sessions built). ``cache``: the owner's
    voices already loaded (the gateway's ``Renderer``, one per process's ``Services``),
    filled here; the owner serializes calls. No cache: a new instance."""
    info, folder = resolve(voice)
    info = at_speed(info, speed)
    key = (info.id, str(folder), threads, speed)
    if cache is not None and key in cache:
        return cache[key]
    loaded = _instantiate(info, folder, threads)
    if cache is not None:
        cache[key] = loaded
    return loaded


def _instantiate(info: VoiceInfo, folder: Path | None, threads: int) -> Voice:
    if info.kind == "espeak":
        from tts.voices.espeak import EspeakVoice

        return EspeakVoice(info)
    if folder is None:
        raise VoiceError(f"giọng {info.id} không có thư mục mô hình")
    if info.kind == "viettts":
        from tts.voices.viettts.voice import VietTTSVoice

        return VietTTSVoice(info, folder, threads)
    from tts.voices.piper import PiperVoice

    return PiperVoice(info, folder, threads)


def _piper_info(model: Path) -> VoiceInfo:
    from tts.voices.piper import read_config

    config_path = model.with_name(model.name + ".json")
    if not config_path.is_file():
        raise VoiceError(f"thiếu tệp cấu hình {config_path.name} cạnh {model.name}")
    config = read_config(config_path)
    return VoiceInfo(
        id=model.stem,
        kind="piper",
        name=f"Piper {model.stem}",
        sample_rate=int(config["audio"]["sample_rate"]),
        files={"model": model.name, "config": config_path.name},
    )


def install_voice(source: Path, voice_id: str | None = None) -> VoiceInfo:
    """Copy a voice folder (with voice.json) or a piper ``.onnx`` (+ ``.onnx.json``) into
    the voices directory, then load it once to prove it works."""
    if (source / MANIFEST_NAME).is_file():
        info = VoiceInfo.from_file(source / MANIFEST_NAME)
        files = [source / MANIFEST_NAME, *(source / rel for rel in info.files.values())]
        extra = source / "hifigan_config.json"
        if extra.is_file():
            files.append(extra)
    elif source.suffix == ".onnx" and source.is_file():
        info = _piper_info(source)
        files = [source, source.with_name(source.name + ".json")]
    else:
        raise VoiceError(f"{source}: cần thư mục có voice.json hoặc tệp .onnx của piper (kèm .onnx.json)")
    if voice_id:
        info = VoiceInfo(**{**info.__dict__, "id": voice_id})
    if not _ID_RE.match(info.id) or info.id == DEFAULT_VOICE:
        raise VoiceError(f"mã giọng '{info.id}' không hợp lệ: chỉ chữ, số, '.', '_', '-' (tối đa 64 ký tự)")
    for path in files:
        if not path.is_file():
            raise VoiceError(f"thiếu tệp {path}")
    target = voices_dir() / info.id
    staging = voices_dir() / f".{info.id}.installing"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path in files:
        if path.name != MANIFEST_NAME:
            shutil.copyfile(path, staging / path.name)
    (staging / MANIFEST_NAME).write_text(info.to_json(), encoding="utf-8")
    try:
        _instantiate(info, staging, threads=1).synthesize("xin chào")
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # a running gateway (another process) keeps the voice it loaded until restarted
    return info
