"""Every output format decoded by an independent decoder (ffmpeg), with loudness and
true peak measured by ffmpeg's own EBU R128 filter."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CORPUS, need_shared
from tts.audio.loudness import integrated_loudness
from tts.cache import PhraseCache
from tts.engine import Synthesizer
from tts.render import RenderSettings
from tts.voices.registry import load_voice

TEXT = (
    "Thông báo của Ủy ban nhân dân xã: từ 14h ngày 10/8, mưa lớn 100-150 mm, gió cấp 8. "
    "Bà con chủ động phòng tránh, liên hệ 0912 345 678 khi cần hỗ trợ."
)

# (file name, ffmpeg input options, expected rate)
FORMATS = [
    ("out.wav", [], None),
    ("out.ulaw", ["-f", "mulaw", "-ar", "8000"], 8000),
    ("out.alaw", ["-f", "alaw", "-ar", "8000"], 8000),
    ("out.sln", ["-f", "s16le", "-ar", "8000"], 8000),
    ("out.sln16", ["-f", "s16le", "-ar", "16000"], 16000),
    ("out.mp3", [], None),
    ("out.opus", [], 48000),
]


def ffmpeg_decode(ffmpeg: str, path: Path, options: list[str]) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            *options,
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768


def ffmpeg_r128(ffmpeg: str, path: Path, options: list[str]) -> tuple[float, float]:
    out = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostats", *options, "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    summary = out[out.rindex("Summary:") :]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])  # type: ignore[index]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary)[1])  # type: ignore[index]
    return lufs, peak


def envelope(x: np.ndarray) -> np.ndarray:
    """10 ms RMS envelope at 16 kHz."""
    frames = x[: x.size // 160 * 160].reshape(-1, 160)
    return np.sqrt(np.mean(frames**2, axis=1))


def shifted(a: np.ndarray, b: np.ndarray, lag: int) -> np.ndarray:
    a, b = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
    n = min(a.size, b.size)
    return np.vstack([a[:n], b[:n]])


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesizer:
    # espeak-ng's output drifts by a few samples between identical calls; the phrase
    # cache (as in production) makes every render of TEXT use the same phrase audio.
    return Synthesizer(load_voice(), cache=PhraseCache(tmp_path_factory.mktemp("cache")))


@pytest.mark.parametrize(("name", "options", "rate"), FORMATS)
def test_each_format_decodes_to_the_same_bulletin(
    ffmpeg: str, synth: Synthesizer, tmp_path: Path, name: str, options: list[str], rate: int | None
) -> None:
    result = synth.render(TEXT, tmp_path / name, RenderSettings())
    if rate:
        assert result.sample_rate == rate
    # The same bulletin as plain PCM WAV at the same rate: only the codec differs.
    synth.render(TEXT, tmp_path / "ref.wav", RenderSettings(rate=result.sample_rate))
    decoded = ffmpeg_decode(ffmpeg, tmp_path / name, options)
    ref = ffmpeg_decode(ffmpeg, tmp_path / "ref.wav", [])
    assert abs(decoded.size - ref.size) / ref.size < 0.05
    env_a, env_b = envelope(decoded), envelope(ref)
    best = max(np.corrcoef(shifted(env_a, env_b, lag))[0, 1] for lag in range(-10, 11))  # ±100 ms codec delay
    assert best > (0.95 if name.endswith((".mp3", ".opus")) else 0.99)
    lufs, peak = ffmpeg_r128(ffmpeg, tmp_path / name, options)
    lossy = name.endswith((".mp3", ".opus"))  # measured after the decoder: ~0.5 LU lower for MP3
    assert lufs == pytest.approx(-16.0, abs=1.0 if lossy else 0.4)
    assert peak <= -0.9


def test_our_meter_agrees_with_ffmpeg_ebur128(ffmpeg: str, tmp_path: Path) -> None:
    from tests.conftest import VIETTTS

    clip = need_shared(VIETTTS / "clip.wav")
    import soundfile as sf

    audio, rate = sf.read(clip, dtype="float32")
    theirs, _ = ffmpeg_r128(ffmpeg, clip, [])
    assert integrated_loudness(audio, rate) == pytest.approx(theirs, abs=0.1)


def test_corpus_bulletin_renders_loudness_normalized(ffmpeg: str, synth: Synthesizer, tmp_path: Path) -> None:
    text = need_shared(CORPUS / "hanoi-ke-hoach-179-2020.txt").read_text(encoding="utf-8")
    for target in (-16.0, -23.0):
        out = tmp_path / f"bulletin{int(-target)}.wav"
        result = synth.render(text, out, RenderSettings(loudness_lufs=target, chime=True))
        lufs, peak = ffmpeg_r128(ffmpeg, out, [])
        assert lufs == pytest.approx(target, abs=0.5) and peak <= -0.9
        assert result.duration_seconds > 60 and result.phrases > 10
