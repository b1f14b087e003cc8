"""``loa voices tune``: the vocoder's session options chosen by measurement on this machine.

The engine synthesizes two phrases at once; whether each phrase should use every core
(onnxruntime's default) or one, and whether idle intra-op threads should spin, depends on
the CPU and on what else runs. Each candidate vocodes the same phrases the way the engine
does, in interleaved rounds; the fastest (median) is written to ``voice.json`` under
``settings.runtime`` and every measured figure beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.runtime import onnx_session
from tts.voices.viettts.calibration import DEFAULT_TEXTS, phrase_mels


@dataclass(frozen=True)
class Candidate:
    threads: int  # onnxruntime intra-op threads per session (0: all cores)
    spinning: bool

    @property
    def label(self) -> str:
        threads = "mọi lõi" if self.threads == 0 else f"{self.threads} luồng"
        return f"{threads}/phrase, spinning {'bật' if self.spinning else 'tắt'}"


CANDIDATES = (Candidate(0, False), Candidate(0, True), Candidate(1, False), Candidate(1, True))


def _round(session: object, mels: Sequence[npt.NDArray[np.float32]], workers: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda mel: session.run(None, {"mel": mel}), mels))  # type: ignore[attr-defined]
    return time.perf_counter() - started


def tune_voice(
    folder: Path, texts: Sequence[str] = DEFAULT_TEXTS, workers: int = 2, rounds: int = 3
) -> tuple[Candidate, dict[str, float]]:
    """Measure every candidate (vocoder RTF, median of ``rounds``) and record the fastest."""
    from tts.voices.viettts.voice import VietTTSVoice

    manifest = folder / MANIFEST_NAME
    info = VoiceInfo.from_file(manifest)
    if info.kind != "viettts":
        raise VoiceError(f"giọng {info.id}: chỉ đo được giọng vietTTS (kind = viettts)")
    voice = VietTTSVoice(info, folder)
    mels = phrase_mels(voice, texts)
    audio_seconds = sum(m.shape[1] for m in mels) * voice.hop / info.sample_rate
    sessions = {c: onnx_session(voice.vocoder_path, c.threads, c.spinning) for c in CANDIDATES}
    for session in sessions.values():
        session.run(None, {"mel": mels[0]})
    timings: dict[Candidate, list[float]] = {c: [] for c in CANDIDATES}
    for _ in range(rounds):  # interleaved, so a noisy moment hurts every candidate alike
        for candidate, session in sessions.items():
            timings[candidate].append(_round(session, mels, workers) / audio_seconds)
    rtf = {c: statistics.median(t) for c, t in timings.items()}
    best = min(rtf, key=lambda c: rtf[c])
    measured = {c.label: round(v, 4) for c, v in rtf.items()}
    settings = dict(info.settings)
    settings["runtime"] = {
        "threads": best.threads,
        "allow_spinning": best.spinning,
        "workers": workers,
        "vocoder_rtf": measured,
    }
    manifest.write_text(replace(info, settings=settings).to_json(), encoding="utf-8")
    return best, measured
