"""PESQ and STOI of a variant against its reference, through the real ``pesq`` and ``pystoi``."""

from __future__ import annotations

import numpy as np
import pytest

from tts.voices.viettts import quality
from tts.voices.viettts.quality import speech_quality

RATE = 16000


def _voiced(seconds: float = 3.0) -> np.ndarray:
    """A speech-like signal: a gliding 120 Hz harmonic series, switched on and off 3 times a second."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.5 * t)) / RATE
    envelope = (np.sin(2 * np.pi * 3 * t) > 0) * 0.5 + 0.05
    return (sum(np.sin(k * phase) / k for k in range(1, 20)) * envelope * 0.3).astype(np.float32)


def test_identical_signals_score_the_top_of_both_scales() -> None:
    x = _voiced()
    q = speech_quality([x], [x], RATE)
    assert q.pesq is not None and q.pesq > 4.5  # P.862.2's MOS-LQO tops out at 4.64
    assert q.stoi is not None and q.stoi > 0.999
    assert q.phrases == 1


def test_more_noise_scores_lower() -> None:
    x = _voiced()
    rng = np.random.default_rng(1)
    scores = [
        speech_quality([x], [(x + level * rng.standard_normal(x.size)).astype(np.float32)], RATE)
        for level in (0.001, 0.03, 0.1)
    ]
    stoi = [s.stoi for s in scores]
    pesq = [s.pesq for s in scores]
    assert None not in stoi and None not in pesq
    assert stoi[0] > stoi[1] > stoi[2]  # type: ignore[operator]
    assert pesq[0] > pesq[2]  # type: ignore[operator]
    assert pesq[0] < 4.5  # type: ignore[operator]


def test_silence_and_unsupported_rates_are_not_scored_rather_than_crashing() -> None:
    silent = np.zeros(2 * RATE, np.float32)
    assert speech_quality([silent], [silent], RATE) == quality.Quality(None, None, 0)
    x = _voiced()
    q = speech_quality([x], [x], 22050)  # PESQ is defined at 8 and 16 kHz only
    assert q.pesq is None and q.stoi is not None


def test_without_the_packages_the_report_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality, "installed", lambda: (False, False))
    x = _voiced()
    q = speech_quality([x], [x], RATE)
    assert (q.pesq, q.stoi) == (None, None)
    assert "pesq" in q.describe() and "pystoi" in q.describe()
