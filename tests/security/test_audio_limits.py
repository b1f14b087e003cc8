"""Issue 18, resource limits: a recording is measured by its header before it is decoded,
so a small file claiming hours of audio (a 55 KB FLAC once decoded to 2.3 GB) is refused
with its reason instead of filling the memory."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from gateway.feedback.asr.audio import MAX_SECONDS, AudioProblem, decode


def flac_of_silence(seconds: int, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    block = np.zeros(rate * 60, dtype=np.int16)
    with sf.SoundFile(out, "w", rate, 1, format="FLAC", subtype="PCM_16") as fh:
        for _ in range(seconds // 60):
            fh.write(block)
    return out.getvalue()


def test_a_small_flac_of_two_hours_is_refused_before_decoding() -> None:
    data = flac_of_silence(2 * 3600)
    assert len(data) < 500_000
    tracemalloc.start()
    try:
        with pytest.raises(AudioProblem) as refused:
            decode(data, "flac")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.rule == "too_long"
    assert "120 phút" in refused.value.message and f"tối đa {MAX_SECONDS // 60} phút" in refused.value.message
    assert peak < 20 * 1024 * 1024, f"{peak / 2**20:.0f} MB were allocated for a refused file"


def test_a_recording_within_the_limit_is_decoded() -> None:
    clip = decode(flac_of_silence(120), "flac")
    assert clip.rate == 8000 and clip.seconds == pytest.approx(120.0)
