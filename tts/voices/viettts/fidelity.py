"""How far a variant's waveform is from the fp32 reference: log-mel distance, multi-resolution
STFT distance and SNR. Numbers, not perception: they bound the numerical error a cheaper
vocoder adds, which is what the quantizer's gate needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Wave = npt.NDArray[np.float32]

# (FFT size, hop) pairs of the usual multi-resolution STFT loss (Yamamoto et al., 2020).
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


@dataclass(frozen=True)
class Fidelity:
    """Distances of one waveform to its reference; 0 / inf for identical signals."""

    log_mel_db: float  # mean |20 log10| difference of 80-band mel magnitudes, dB
    mrstft: float  # spectral convergence + log-magnitude L1, averaged over RESOLUTIONS
    snr_db: float  # reference energy over difference energy

    def within(self, max_log_mel_db: float) -> bool:
        return self.log_mel_db <= max_log_mel_db


def _stft_mag(x: Wave, n_fft: int, hop: int) -> npt.NDArray[np.float64]:
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size)).astype(np.float32)
    frames = 1 + (x.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = np.hanning(n_fft)
    return np.abs(np.fft.rfft(x[idx].astype(np.float64) * window, axis=1))


def _mel_filters(sample_rate: int, n_fft: int, bands: int = 80) -> npt.NDArray[np.float64]:
    def hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(2595.0 * np.log10(1.0 + f / 700.0), np.float64)

    def mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(700.0 * (10 ** (m / 2595.0) - 1.0), np.float64)

    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(np.array(sample_rate / 2.0)), bands + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    filters = np.zeros((bands, bins.size))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        rise = (bins - lo) / max(mid - lo, 1e-9)
        fall = (hi - bins) / max(hi - mid, 1e-9)
        filters[b] = np.maximum(0.0, np.minimum(rise, fall))
    return filters


def compare(reference: Wave, test: Wave, sample_rate: int) -> Fidelity:
    """Distances of ``test`` to ``reference`` (same length expected; the shorter one wins)."""
    n = min(reference.size, test.size)
    ref = np.asarray(reference[:n], np.float32)
    out = np.asarray(test[:n], np.float32)
    noise = float(np.sum((ref.astype(np.float64) - out) ** 2))
    signal = float(np.sum(ref.astype(np.float64) ** 2))
    snr = float("inf") if noise == 0.0 else 10.0 * np.log10(max(signal, 1e-20) / noise)

    filters = _mel_filters(sample_rate, 1024)
    eps = 1e-5
    mel_ref = np.log10(np.maximum(_stft_mag(ref, 1024, 256) @ filters.T, eps))
    mel_out = np.log10(np.maximum(_stft_mag(out, 1024, 256) @ filters.T, eps))
    log_mel_db = float(np.mean(np.abs(20.0 * (mel_ref - mel_out))))

    parts = []
    for n_fft, hop in RESOLUTIONS:
        a, b = _stft_mag(ref, n_fft, hop), _stft_mag(out, n_fft, hop)
        convergence = np.linalg.norm(a - b) / max(float(np.linalg.norm(a)), eps)
        log_l1 = float(np.mean(np.abs(np.log(np.maximum(a, eps)) - np.log(np.maximum(b, eps)))))
        parts.append(float(convergence) + log_l1)
    return Fidelity(log_mel_db=log_mel_db, mrstft=float(np.mean(parts)), snr_db=snr)


def merge(results: list[Fidelity]) -> Fidelity:
    """The mean of several phrases' distances (SNR averaged in dB)."""
    if not results:
        return Fidelity(0.0, 0.0, float("inf"))
    return Fidelity(
        log_mel_db=float(np.mean([r.log_mel_db for r in results])),
        mrstft=float(np.mean([r.mrstft for r in results])),
        snr_db=float(np.mean([r.snr_db for r in results])),
    )


def log_mel_features(wave: Wave, sample_rate: int, bands: int = 80) -> npt.NDArray[np.float32]:
    """HiFi-GAN-style input features of a recording, [frames, bands]: 1024-point STFT, hop 256,
    ``bands`` triangular mel filters to Nyquist, natural log clamped at 1e-5. Close to
    vietTTS's features, not identical (its filters are librosa's Slaney-normalised ones):
    enough to drive the vocoder with speech-shaped input for a numerical comparison."""
    mags = _stft_mag(np.asarray(wave, np.float32), 1024, 256)
    mel = mags @ _mel_filters(sample_rate, 1024, bands).T
    return np.log(np.maximum(mel, 1e-5)).astype(np.float32)
