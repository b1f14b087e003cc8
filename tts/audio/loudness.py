"""EBU R128 / ITU-R BS.1770-4 integrated loudness, measured in a stream.

Memory is one float per 100 ms of audio, so a 20-minute bulletin is measured in
12,000 numbers whatever its sample rate. The K-weighting filters follow BS.1770-4's
two stages (high shelf, then RLB high-pass), designed for any sample rate the way
libebur128 does.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0


def k_weighting(rate: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Coefficients (b, a) of the cascaded K-weighting filter at ``rate``."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    a1 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    b2 = np.array([1.0, -2.0, 1.0])
    a2 = np.array([1.0, 2 * (k * k - 1) / (1 + k / q + k * k), (1 - k / q + k * k) / (1 + k / q + k * k)])
    return np.convolve(b1, b2), np.convolve(a1, a2)


class LoudnessMeter:
    """Feed mono float audio with :meth:`add`; read :meth:`integrated` at any time."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._b, self._a = k_weighting(rate)
        self._zi = np.zeros(max(len(self._a), len(self._b)) - 1)
        self._step = round(rate * 0.1)
        self._carry = np.zeros(0)
        self._energies: list[float] = []

    def add(self, samples: npt.NDArray[np.floating]) -> None:
        if samples.size == 0:
            return
        filtered, self._zi = lfilter(self._b, self._a, samples.astype(np.float64), zi=self._zi)
        data = np.concatenate([self._carry, filtered])
        whole = (data.size // self._step) * self._step
        if whole:
            blocks = data[:whole].reshape(-1, self._step)
            self._energies.extend(np.mean(blocks * blocks, axis=1).tolist())
        self._carry = data[whole:]

    def integrated(self) -> float:
        """Integrated loudness in LUFS (-inf for silence or audio under 400 ms)."""
        sub = np.asarray(self._energies)
        if sub.size < 4:
            return float("-inf")
        blocks = np.convolve(sub, np.ones(4) / 4, mode="valid")  # 400 ms, 75 % overlap
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10 * np.log10(blocks)
        gated = blocks[loud > ABSOLUTE_GATE]
        if gated.size == 0:
            return float("-inf")
        threshold = -0.691 + 10 * np.log10(np.mean(gated)) + RELATIVE_GATE
        final = blocks[(loud > ABSOLUTE_GATE) & (loud > threshold)]
        return float(-0.691 + 10 * np.log10(np.mean(final)))


def integrated_loudness(samples: npt.NDArray[np.floating], rate: int) -> float:
    meter = LoudnessMeter(rate)
    meter.add(samples)
    return meter.integrated()
