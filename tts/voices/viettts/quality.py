"""Objective speech-quality scores of a variant against its fp32 reference, where the
packages are installed: wide-band PESQ (ITU-T P.862.2, package ``pesq``, 1.0–4.64) and STOI
(short-time objective intelligibility, package ``pystoi``, 0–1). Both are optional (the
fidelity gate itself is the log-mel distance); they are installed with the dev extras, so
``make test`` and ``make bench`` have them.

Like the distances in ``fidelity``, with random weights they measure numerical error, not
how a listener would rate a trained voice."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Wave = npt.NDArray[np.float32]
Signal = npt.NDArray[np.float64]
PESQ_RATES = (8000, 16000)  # P.862 narrow band at 8 kHz, P.862.2 wide band at 16 kHz


@dataclass(frozen=True)
class Quality:
    pesq: float | None  # mean MOS-LQO over the phrases scored; None: not installed or not scorable
    stoi: float | None
    phrases: int  # phrases that had a score

    def describe(self) -> str:
        parts = []
        if self.pesq is not None:
            parts.append(f"PESQ {self.pesq:.2f}")
        if self.stoi is not None:
            parts.append(f"STOI {self.stoi:.3f}")
        return ", ".join(parts) if parts else "PESQ/STOI: chưa cài gói pesq, pystoi"


def installed() -> tuple[bool, bool]:
    """Whether ``pesq`` and ``pystoi`` can be imported here."""
    return importlib.util.find_spec("pesq") is not None, importlib.util.find_spec("pystoi") is not None


def _pesq(ref: Signal, out: Signal, sr: int) -> float | None:
    from pesq import PesqError, pesq

    try:
        return float(pesq(sr, ref, out, "wb" if sr == 16000 else "nb"))
    except PesqError:  # too short, or no utterance found (silence): not scorable
        return None


def _stoi(ref: Signal, out: Signal, sr: int) -> float | None:
    from pystoi import stoi

    value = float(stoi(ref, out, sr, extended=False))
    return None if np.isnan(value) else value


def speech_quality(references: Sequence[Wave], tests: Sequence[Wave], sample_rate: int) -> Quality:
    """Mean PESQ and STOI of ``tests`` against ``references`` (pairs, same order)."""
    has_pesq, has_stoi = installed()
    has_pesq = has_pesq and sample_rate in PESQ_RATES
    pesq_scores: list[float] = []
    stoi_scores: list[float] = []
    for ref, out in zip(references, tests, strict=True):
        n = min(ref.size, out.size)
        a = np.asarray(ref[:n], np.float64)
        b = np.asarray(out[:n], np.float64)
        if not np.any(np.abs(a) > 1e-4):  # silence has no speech to score
            continue
        if has_pesq and (score := _pesq(a, b, sample_rate)) is not None:
            pesq_scores.append(score)
        if has_stoi and (value := _stoi(a, b, sample_rate)) is not None:
            stoi_scores.append(value)
    return Quality(
        pesq=float(np.mean(pesq_scores)) if pesq_scores else None,
        stoi=float(np.mean(stoi_scores)) if stoi_scores else None,
        phrases=max(len(pesq_scores), len(stoi_scores)),
    )
