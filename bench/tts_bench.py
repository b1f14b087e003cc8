"""Speech-engine measurements, one fresh process per case so peak memory is the case's own."""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import peak_rss_mb


@dataclass
class CaseResult:
    voice: str
    case: str
    audio_seconds: float
    wall_seconds: float
    first_audio_ms: float
    peak_rss_mb: float
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds (sequential pass)

    @property
    def rtf(self) -> float:
        return self.wall_seconds / self.audio_seconds if self.audio_seconds else float("nan")


def _run_case(voice_ref: str, case: str, text: str, out: Path, queue: Any) -> None:
    from tts.engine import Synthesizer
    from tts.render import RenderSettings
    from tts.voices.registry import load_voice

    voice = load_voice(voice_ref)
    synth = Synthesizer(voice, workers=2)
    warm = synth.plan(text)[0].text
    voice.synthesize(warm)  # load and warm up the sessions (not part of the measurement)
    result = synth.render(text, out, RenderSettings(rate=voice.info.sample_rate))
    stages: dict[str, float] = {}
    if hasattr(voice, "synthesize_timed"):
        phrases = [p.text for p in synth.plan(text)]
        for phrase in phrases:
            _, times = voice.synthesize_timed(phrase)
            for name, value in asdict(times).items():
                stages[name] = stages.get(name, 0.0) + value
    else:
        start = time.perf_counter()
        for phrase in synth.plan(text):
            voice.synthesize(phrase.text)
        stages["synthesis"] = time.perf_counter() - start
    firsts = []
    for _ in range(3):  # time to first audio: median of three fresh streams
        start = time.perf_counter()
        stream = synth.stream(text)
        next(stream)
        firsts.append(time.perf_counter() - start)
        for _ in stream:  # drain it, so no work of this stream overlaps the next start
            pass
    rss = peak_rss_mb()
    queue.put(
        CaseResult(
            voice.info.id,
            case,
            result.duration_seconds,
            result.wall_seconds,
            float(np.median(firsts)) * 1000,
            rss,
            stages,
        )
    )


def run_case(voice_ref: str, case: str, text: str, out: Path) -> CaseResult:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_case, args=(voice_ref, case, text, out, queue))
    proc.start()
    result: CaseResult = queue.get(timeout=3600)
    proc.join()
    return result


def _dump_phrases(voice_ref: str, text: str, out: Path, queue: Any) -> None:
    """Tokens, glued durations and seeded dropout masks per phrase, for the JAX anchor."""
    from tts.engine import Synthesizer
    from tts.voices.registry import load_voice

    voice = load_voice(voice_ref)
    synth = Synthesizer(voice)
    arrays: dict[str, np.ndarray] = {}
    for i, phrase in enumerate(synth.plan(text)):
        tokens = voice.tokens(phrase.text)  # type: ignore[attr-defined]
        durations = voice.durations(tokens)  # type: ignore[attr-defined]
        n = int(np.sum(durations * np.float32(16000) / np.float32(256), dtype=np.float32))
        keep1, keep2 = voice.keep_masks(phrase.text, n)  # type: ignore[attr-defined]
        arrays.update({f"tokens_{i}": tokens, f"durations_{i}": durations[0], f"keep1_{i}": keep1, f"keep2_{i}": keep2})
    np.savez(out, **arrays)  # type: ignore[arg-type]
    queue.put(len(arrays) // 4)


def dump_phrases(voice_ref: str, text: str, out: Path) -> int:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_dump_phrases, args=(voice_ref, text, out, queue))
    proc.start()
    count: int = queue.get(timeout=600)
    proc.join()
    return count
