"""The voice interface every engine implements, and the manifest that describes a voice."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]

MANIFEST_NAME = "voice.json"
VOICE_KINDS = ("espeak", "viettts", "piper")


class VoiceError(Exception):
    """A voice cannot be found, installed or loaded; the message is for a person."""


class SynthesisYielded(Exception):
    """An interruptible voice (``synthesize(text, yield_to=...)``) stopped a phrase because
    ``yield_to()`` said more urgent work waits; the phrase is to be synthesized again."""


@dataclass(frozen=True)
class VoiceInfo:
    """What a voice is: read from ``voice.json`` in the voice's folder."""

    id: str
    kind: str
    name: str
    sample_rate: int
    language: str = "vi"
    files: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_file(cls, path: Path) -> VoiceInfo:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VoiceError(f"{path}: không đọc được tệp mô tả giọng đọc ({exc})") from exc
        missing = [k for k in ("id", "kind", "name", "sample_rate") if k not in data]
        if missing:
            raise VoiceError(f"{path}: thiếu trường {', '.join(missing)}")
        if data["kind"] not in VOICE_KINDS:
            raise VoiceError(f"{path}: trường 'kind' phải là một trong {', '.join(VOICE_KINDS)}")
        if not isinstance(data["sample_rate"], int) or data["sample_rate"] <= 0:
            raise VoiceError(f"{path}: trường 'sample_rate' phải là số nguyên dương")
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            name=str(data["name"]),
            sample_rate=int(data["sample_rate"]),
            language=str(data.get("language", "vi")),
            files={str(k): str(v) for k, v in dict(data.get("files", {})).items()},
            settings=dict(data.get("settings", {})),
        )


@runtime_checkable
class Voice(Protocol):
    """A loaded voice. ``synthesize`` takes one normalized phrase (lowercase words)."""

    info: VoiceInfo
    thread_safe: bool  # False: callers serialize calls (espeak-ng has global state)

    def synthesize(self, text: str) -> Audio:
        """Mono float32 audio in [-1, 1] at ``info.sample_rate`` for one phrase."""
        ...
