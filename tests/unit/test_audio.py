from __future__ import annotations

import warnings

import numpy as np
import pytest

from tts.audio.effects import chime, fade, resample, trim_silence
from tts.audio.g711 import decode_alaw, decode_ulaw, encode_alaw, encode_ulaw
from tts.audio.limiter import limit, true_peak_dbtp
from tts.audio.loudness import integrated_loudness
from tts.audio.writers import AudioFormatError, check_rate, format_for

ALL16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def test_g711_matches_the_itu_reference_in_cpython_audioop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert encode_ulaw(ALL16) == audioop.lin2ulaw(ALL16.tobytes(), 2)
    assert encode_alaw(ALL16) == audioop.lin2alaw(ALL16.tobytes(), 2)
    codes = bytes(range(256))
    assert decode_ulaw(codes).tobytes() == audioop.ulaw2lin(codes, 2)
    assert decode_alaw(codes).tobytes() == audioop.alaw2lin(codes, 2)


@pytest.mark.parametrize(("encode", "decode"), [(encode_ulaw, decode_ulaw), (encode_alaw, decode_alaw)])
def test_g711_round_trip_error_is_within_one_quantization_step(encode, decode) -> None:  # type: ignore[no-untyped-def]
    x = ALL16[::3]
    y = decode(encode(x)).astype(np.int32)
    err = np.abs(y - x.astype(np.int32))
    assert np.all(err <= np.maximum(np.abs(x.astype(np.int32)) // 16, 16) + 8)
    assert encode(decode(encode(x))) == encode(x)  # decoding then re-encoding is stable


def test_bs1770_reference_sine_reads_minus_3_lufs() -> None:
    """BS.1770-4: a 0 dBFS 997 Hz sine on one channel measures -3.01 LKFS."""
    rate = 48000
    t = np.arange(rate * 5) / rate
    assert integrated_loudness(np.sin(2 * np.pi * 997 * t), rate) == pytest.approx(-3.01, abs=0.05)


def test_loudness_gates_silence() -> None:
    rate = 16000
    t = np.arange(rate * 4) / rate
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    padded = np.concatenate([tone, np.zeros(rate * 20)])
    # 20 s of silence changes nothing but the three blocks straddling the end of the tone
    assert integrated_loudness(padded, rate) == pytest.approx(integrated_loudness(tone, rate), abs=0.3)
    assert integrated_loudness(np.zeros(rate), rate) == float("-inf")


def test_limiter_holds_the_true_peak_ceiling() -> None:
    rate = 16000
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(rate * 2) * 0.5).astype(np.float32)
    x[8000:8010] = 1.5
    y = limit(x, -1.0, rate)
    assert true_peak_dbtp(y) <= -1.0 + 1e-3
    assert np.array_equal(limit(x * 0.1, -1.0, rate), x * 0.1)  # quiet audio untouched


def test_true_peak_sees_intersample_peaks() -> None:
    n = np.arange(4000)
    x = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)  # samples at 0.354
    assert true_peak_dbtp(x) > 20 * np.log10(0.5) - 0.3


def test_effects() -> None:
    rate = 8000
    x = np.ones(rate, np.float32)
    faded = fade(x, rate, 10, 30)
    assert faded[0] == 0 and faded[-1] == 0 and faded[rate // 2] == 1
    assert trim_silence(np.concatenate([np.zeros(800), x, np.zeros(800)]).astype(np.float32), rate).size < rate + 400
    assert resample(x, rate, 16000).size == 2 * rate
    c = chime(rate)
    assert 0.4 < np.max(np.abs(c)) <= 0.5 and c.size > rate


def test_format_and_rate_errors_name_the_option() -> None:
    from pathlib import Path

    with pytest.raises(AudioFormatError, match="--format"):
        format_for(Path("x.xyz"), None)
    with pytest.raises(AudioFormatError, match="--rate"):
        check_rate("ulaw", 16000)
    with pytest.raises(AudioFormatError, match="--rate"):
        check_rate("mp3", 12345)
    assert format_for(Path("prompt.sln16"), None) == "sln"
