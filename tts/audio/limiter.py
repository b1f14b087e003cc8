"""True-peak measurement and a look-ahead limiter.

True peak follows ITU-R BS.1770-4 Annex 2: 4x oversampling with a short polyphase
interpolator (12 taps per phase, Kaiser-windowed sinc), peak of the absolute values.
Blocks whose sample peak leaves at least 3.5 dB of headroom cannot reach the ceiling
between samples with this interpolator's gain, so they are passed through untouched.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.ndimage import minimum_filter1d, uniform_filter1d

OVERSAMPLE = 4
_HALF = 6  # taps each side per phase
_SAFE_HEADROOM_DB = 3.5


@lru_cache(maxsize=1)
def _phase_filters() -> npt.NDArray[np.float32]:
    """Filters estimating x(n + p/4) for p = 1..3 from x[n-6 .. n+5]."""
    k = np.arange(-_HALF + 1, _HALF + 1)  # offsets m - n
    rows = []
    for p in range(1, OVERSAMPLE):
        t = k - p / OVERSAMPLE
        taps = np.sinc(t) * np.kaiser(2 * _HALF + 2, 5.0)[1:-1][: t.size]
        rows.append(taps / taps.sum())
    return np.asarray(rows, dtype=np.float32)


def sample_envelope(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-sample true-peak envelope: max |x| over the sample and the 3 points after it."""
    x = np.asarray(x, dtype=np.float32)
    env = np.abs(x)
    if x.size == 0:
        return env
    padded = np.concatenate([np.zeros(_HALF - 1, np.float32), x, np.zeros(_HALF, np.float32)])
    # y_p[n] = sum_j taps_p[j] * x[n + j - (HALF - 1)]: one small GEMM over a sliding window
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * _HALF)[: x.size]
    interp = windows @ _phase_filters().T  # [n, 3]
    np.maximum(env, np.abs(interp).max(axis=1), out=env)
    return env


def true_peak_dbtp(x: npt.NDArray[np.float32]) -> float:
    env = sample_envelope(x)
    peak = float(env.max()) if env.size else 0.0
    return float(20 * np.log10(peak)) if peak > 0 else float("-inf")


def limit(
    x: npt.NDArray[np.float32],
    ceiling_dbtp: float,
    rate: int,
    attack_ms: float = 2.0,
    release_ms: float = 30.0,
    envelope: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Reduce gain smoothly wherever the true peak would exceed ``ceiling_dbtp``.

    ``envelope`` may carry :func:`sample_envelope` of ``x`` when the caller has it (it
    scales with gain, so one computation serves every gain tried)."""
    ceiling = 10 ** (ceiling_dbtp / 20)
    if x.size == 0 or float(np.max(np.abs(x))) * 10 ** (_SAFE_HEADROOM_DB / 20) <= ceiling:
        return x
    env = sample_envelope(x) if envelope is None else envelope
    if env.max() <= ceiling:
        return x
    needed = np.minimum(1.0, ceiling / np.maximum(env, 1e-12)).astype(np.float32)
    attack = max(1, int(rate * attack_ms / 1000))
    hold = max(attack, int(rate * release_ms / 1000))
    gain = minimum_filter1d(needed, size=2 * hold + 1, mode="nearest")
    gain = uniform_filter1d(gain, size=attack, mode="nearest")
    gain = np.minimum(gain, minimum_filter1d(needed, size=2 * attack + 1, mode="nearest"))
    out: npt.NDArray[np.float32] = np.clip(x * gain, -ceiling, ceiling).astype(np.float32)
    return out
