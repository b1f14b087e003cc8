"""The one small interface every speech recognizer implements, and what it returns."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class ModelError(Exception):
    """An ASR model that cannot be installed or loaded; the message names the file or package."""


@dataclass(frozen=True)
class Capabilities:
    sample_rate: int  # the rate the backend is fed (Loa resamples to it)
    streaming: bool = False
    int8: bool = False  # quantized weights in use


@dataclass(frozen=True)
class Transcript:
    raw: str  # as the recognizer wrote it (sherpa's Vietnamese models: UPPERCASE, no punctuation)
    normalized: str  # NFC, lowercase, single spaces: what search and staff read
    seconds: float  # audio duration
    backend: str
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, raw text


class Backend(Protocol):
    name: str
    capabilities: Capabilities

    def transcribe(self, samples: np.ndarray) -> str:
        """Blocking: float32 mono at ``capabilities.sample_rate`` -> raw text. Called off the event loop."""
        ...


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()
