"""Voice activity by frame energy: long messages are cut into speech segments at pauses,
none longer than ``max_seconds`` (offline recognizers degrade on long inputs).

The threshold adapts to the recording: 10 dB above its noise floor (the 10th percentile
of frame energies) when the recording has pauses at all, never below an absolute floor,
so a quiet line and a noisy market call are both split at their own pauses. Short gaps
are bridged and short blips dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_S = 0.03
FLOOR_DBFS = -50.0


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def frame_energy(samples: np.ndarray, rate: int) -> np.ndarray:
    size = max(1, int(rate * FRAME_S))
    count = len(samples) // size
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    return np.asarray(10 * np.log10(np.mean(frames**2, axis=1) + 1e-12))


def segments(
    samples: np.ndarray,
    rate: int,
    max_seconds: float = 25.0,
    min_gap: float = 0.4,
    min_speech: float = 0.25,
    pad: float = 0.15,
) -> list[Segment]:
    energy = frame_energy(samples, rate)
    if not len(energy):
        return []
    noise, loud = float(np.percentile(energy, 10)), float(np.percentile(energy, 90))
    # No pause anywhere (a short message, a constant line): all above the floor is speech.
    threshold = max(noise + 10.0 if loud - noise >= 10.0 else FLOOR_DBFS, FLOOR_DBFS)
    speech = energy > threshold
    runs: list[list[int]] = []
    for i, active in enumerate(speech):
        if not active:
            continue
        if runs and i - runs[-1][1] <= min_gap / FRAME_S:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    out: list[Segment] = []
    total = len(samples) / rate
    for first, last in runs:
        if (last - first) * FRAME_S < min_speech:
            continue
        out.extend(_split(energy, first, last, max_seconds))
    return [Segment(max(0.0, s.start - pad), min(total, s.end + pad)) for s in out]


def _split(energy: np.ndarray, first: int, last: int, max_seconds: float) -> list[Segment]:
    """Cut a run longer than ``max_seconds`` at its quietest frame in the second half of the window."""
    limit = int(max_seconds / FRAME_S)
    out = []
    while last - first > limit:
        window = energy[first + limit // 2 : first + limit]
        cut = first + limit // 2 + int(np.argmin(window))
        out.append(Segment(first * FRAME_S, cut * FRAME_S))
        first = cut
    out.append(Segment(first * FRAME_S, last * FRAME_S))
    return out
