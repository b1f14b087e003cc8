"""Small signal helpers: silence, fades, resampling, the intro/outro chime."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]


def silence(seconds: float, rate: int) -> Audio:
    return np.zeros(max(0, round(seconds * rate)), np.float32)


def fade(x: Audio, rate: int, fade_in_ms: float = 10.0, fade_out_ms: float = 30.0) -> Audio:
    """Raised-cosine fades so a file never starts or ends with a click."""
    out = x.astype(np.float32, copy=True)
    for ms, at_start in ((fade_in_ms, True), (fade_out_ms, False)):
        n = min(out.size, int(rate * ms / 1000))
        if n <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
        if at_start:
            out[:n] *= ramp
        else:
            out[-n:] *= ramp[::-1]
    return out


def resample(x: Audio, rate_in: int, rate_out: int, quality: str = "HQ") -> Audio:
    """soxr; ``quality`` as soxr names it (HQ for synthesis, VHQ where audio is analysed)."""
    if rate_in == rate_out or x.size == 0:
        return x.astype(np.float32, copy=False)
    import soxr

    return np.asarray(soxr.resample(x, rate_in, rate_out, quality=quality), dtype=np.float32)


def trim_silence(x: Audio, rate: int, threshold_db: float = -45.0, keep_ms: float = 20.0) -> Audio:
    """Cut leading and trailing silence (``threshold_db`` below the phrase's own peak),
    keeping a short margin; relative, so quiet voices are trimmed like loud ones."""
    if x.size == 0:
        return x
    level = float(np.max(np.abs(x))) * 10 ** (threshold_db / 20)
    loud = np.nonzero(np.abs(x) > level)[0]
    if level == 0 or loud.size == 0:
        return x[:0]
    keep = int(rate * keep_ms / 1000)
    return x[max(0, loud[0] - keep) : min(x.size, loud[-1] + keep + 1)]


def chime(rate: int, notes: tuple[float, ...] = (659.25, 523.25, 783.99), note_s: float = 0.35) -> Audio:
    """A three-note bell chime (bell-like partials with exponential decay), peak 0.5."""
    parts = []
    t = np.arange(int(rate * note_s * 1.6)) / rate
    for f in notes:
        tone = np.zeros_like(t)
        for ratio, amp in ((1.0, 1.0), (2.0, 0.35), (3.01, 0.12)):
            if f * ratio < rate / 2:
                tone += amp * np.sin(2 * np.pi * f * ratio * t)
        tone *= np.exp(-t * 5.0)
        parts.append(tone)
    step = int(rate * note_s)
    out = np.zeros(step * (len(notes) - 1) + t.size)
    for i, tone in enumerate(parts):
        out[i * step : i * step + tone.size] += tone
    out = out / np.max(np.abs(out)) * 0.5
    return fade(out.astype(np.float32), rate, 2.0, 50.0)
