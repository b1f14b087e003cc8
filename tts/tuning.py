"""``loa voices tune``: a vietTTS voice's session options chosen by measuring what a listener
waits for, on this machine.

The engine synthesizes two phrases at once; whether each phrase's sessions should use every
core (onnxruntime's default) or one, and whether the vocoder's idle intra-op threads should
spin, depends on the CPU and on what else runs. Each candidate reads the same paragraph end
to end through the engine (text front-end, duration, acoustic and vocoder stages, phrases in
order, the first phrase alone), in interleaved rounds so a noisy moment hurts every candidate
alike; the fastest median end-to-end RTF is written to ``voice.json`` under
``settings.runtime``, with every candidate's RTF and first audio beside it.

Measured, not the vocoder alone: on a 2-core EPYC the vocoder by itself ran 1.15x faster with
one thread per phrase (RTF 0.107 against 0.125), and the whole voice with that choice 1.12x
slower (0.133 against 0.119) and with later first audio (144 against 85 ms): the last phrase
and the first one run on one core while the other idles.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tts.engine import Synthesizer
from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.viettts.calibration import DEFAULT_TEXTS
from tts.voices.viettts.voice import VietTTSVoice


@dataclass(frozen=True)
class Candidate:
    threads: int  # onnxruntime intra-op threads per session (0: all cores)
    spinning: bool

    @property
    def label(self) -> str:
        threads = "mọi lõi" if self.threads == 0 else f"{self.threads} luồng"
        return f"{threads}/phrase, spinning {'bật' if self.spinning else 'tắt'}"


# The first is onnxruntime's default: tune can only pick something measured faster than it.
CANDIDATES = (Candidate(0, False), Candidate(0, True), Candidate(1, False), Candidate(1, True))


@dataclass(frozen=True)
class Measured:
    rtf: float  # end to end, median of the rounds
    first_audio_ms: float  # median of the rounds


def _read(synth: Synthesizer, text: str) -> tuple[float, float, float]:
    """Wall seconds, audio seconds and seconds to the first chunk of one reading of ``text``."""
    started = time.perf_counter()
    first = 0.0
    audio = 0.0
    for chunk in synth.stream(text):
        if not first:
            first = time.perf_counter() - started
        audio += chunk.audio.size / chunk.sample_rate
    return time.perf_counter() - started, audio, first


def tune_voice(
    folder: Path, texts: Sequence[str] = DEFAULT_TEXTS, workers: int = 2, rounds: int = 3
) -> tuple[Candidate, dict[str, Measured]]:
    """Measure every candidate end to end and record the fastest in ``voice.json``."""
    manifest = folder / MANIFEST_NAME
    info = VoiceInfo.from_file(manifest)
    if info.kind != "viettts":
        raise VoiceError(f"giọng {info.id}: chỉ đo được giọng vietTTS (kind = viettts)")
    text = ". ".join(texts) + "."
    synths: dict[Candidate, Synthesizer] = {}
    for c in CANDIDATES:
        runtime = {**dict(info.settings.get("runtime", {})), "threads": c.threads, "allow_spinning": c.spinning}
        voice = VietTTSVoice(replace(info, settings={**info.settings, "runtime": runtime}), folder)
        synths[c] = Synthesizer(voice, workers=workers)
        _read(synths[c], texts[0])  # first runs allocate; not timed
    rtfs: dict[Candidate, list[float]] = {c: [] for c in CANDIDATES}
    firsts: dict[Candidate, list[float]] = {c: [] for c in CANDIDATES}
    for _ in range(rounds):
        for candidate, synth in synths.items():
            wall, audio, first = _read(synth, text)
            rtfs[candidate].append(wall / audio)
            firsts[candidate].append(first * 1000)
    for synth in synths.values():
        synth.close()
    measured = {c: Measured(statistics.median(rtfs[c]), statistics.median(firsts[c])) for c in CANDIDATES}
    best = min(CANDIDATES, key=lambda c: measured[c].rtf)
    settings = dict(info.settings)
    settings["runtime"] = {
        "threads": best.threads,
        "allow_spinning": best.spinning,
        "workers": workers,
        "measured": "end to end",
        "rtf": {c.label: round(m.rtf, 4) for c, m in measured.items()},
        "first_audio_ms": {c.label: round(m.first_audio_ms, 1) for c, m in measured.items()},
    }
    manifest.write_text(replace(info, settings=settings).to_json(), encoding="utf-8")
    return best, {c.label: m for c, m in measured.items()}
