"""Parity with NTT123/vietTTS itself: the shared fixture checkpoints (vietTTS's pickle
layout, xz-compressed) converted by Loa must reproduce vietTTS's stored outputs stage by
stage within 1e-5 relative L2 (../shared/fixtures/viettts/parity/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import VIETTTS, need_shared
from tts.voices.base import VoiceInfo
from tts.voices.viettts.convert import convert_viettts
from tts.voices.viettts.voice import VietTTSVoice

PARITY = VIETTTS / "parity"
TOLERANCE = 1e-5


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> VietTTSVoice:
    ckpt = need_shared(PARITY / "ckpt")
    out = tmp_path_factory.mktemp("viettts-parity")
    info = convert_viettts(
        ckpt / "duration_latest_ckpt.pickle.xz",
        ckpt / "acoustic_latest_ckpt.pickle.xz",
        ckpt / "hk_hifi.pickle.xz",
        VIETTTS / "lexicon.txt",
        out,
        config=VIETTTS / "hifigan_config.json",
        voice_id="parity",
    )
    return VietTTSVoice(info, out, threads=2)


def load(name: str) -> np.ndarray:
    return np.load(PARITY / f"{name}.npy")


@pytest.mark.parametrize("case", ["short", "main"])
def test_tokens_match_viettts_text2tokens(voice: VietTTSVoice, case: str) -> None:
    vectors = json.loads((PARITY / "vectors.json").read_text())
    tokens = voice.tokens(vectors["cases"][case]["normalized_text"])
    np.testing.assert_array_equal(tokens, load(f"{case}_tokens").astype(np.int64))


@pytest.mark.parametrize("case", ["short", "main"])
def test_duration_model_parity(voice: VietTTSVoice, case: str) -> None:
    tokens = load(f"{case}_tokens").astype(np.int64)
    raw = voice._duration.run(None, {"tokens": tokens[None]})[0]  # type: ignore[attr-defined]
    assert rel_l2(raw, load(f"{case}_durations_raw")) < TOLERANCE
    np.testing.assert_allclose(voice.durations(tokens), load(f"{case}_durations"), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", ["short", "main"])
def test_acoustic_model_parity_with_fed_dropout_masks(voice: VietTTSVoice, case: str) -> None:
    tokens = load(f"{case}_tokens").astype(np.int64)
    durations = load(f"{case}_durations").astype(np.float32)
    masks = (
        load(f"{case}_prenet_keep_mask1")[0].astype(np.float32) * 2,
        load(f"{case}_prenet_keep_mask2")[0].astype(np.float32) * 2,
    )
    frames = durations * np.float32(16000) / np.float32(256)
    mel_full, decoder = voice._acoustic.run(
        None,
        {
            "tokens": tokens[None],
            "frames": frames,  # type: ignore[attr-defined]
            "keep1": masks[0],
            "keep2": masks[1],
        },
    )
    assert rel_l2(decoder, load(f"{case}_acoustic_decoder_mel")) < TOLERANCE
    assert rel_l2(mel_full, load(f"{case}_mel_full")) < TOLERANCE
    trimmed = voice.mel(tokens, durations, masks=masks)
    assert trimmed.shape == load(f"{case}_mel").shape
    assert rel_l2(trimmed, load(f"{case}_mel")) < TOLERANCE


@pytest.mark.parametrize("case", ["short", "main", "realmel"])
def test_vocoder_parity(voice: VietTTSVoice, case: str) -> None:
    wav = voice.vocode(load(f"{case}_mel"))
    assert wav.shape == load(f"{case}_wav").shape
    assert rel_l2(wav, load(f"{case}_wav")) < TOLERANCE


def test_converted_voice_speaks_a_bulletin_sentence(voice: VietTTSVoice) -> None:
    wav = voice.synthesize("thứ trưởng bộ thông tin và truyền thông dẫn đầu đoàn")
    assert wav.dtype == np.float32 and wav.size > 16000 and np.all(np.isfinite(wav))


def test_checkpoints_from_the_fixture_generator_convert(tmp_path: Path) -> None:
    """make_checkpoints.py writes full-size pickles with protocol 2 and optax stand-ins:
    the converter must read them unchanged, as it will real training output."""
    import subprocess
    import sys

    script = need_shared(VIETTTS / "make_checkpoints.py")
    subprocess.run([sys.executable, str(script), str(tmp_path / "ck"), "--seed", "3"], check=True, capture_output=True)
    info = convert_viettts(
        tmp_path / "ck" / "duration_latest_ckpt.pickle",
        tmp_path / "ck" / "acoustic_latest_ckpt.pickle",
        tmp_path / "ck" / "hk_hifi.pickle",
        VIETTTS / "lexicon.txt",
        tmp_path / "voice",
        voice_id="generated",
    )
    assert isinstance(info, VoiceInfo) and info.sample_rate == 16000
    assert VietTTSVoice(info, tmp_path / "voice", threads=2).synthesize("xin chào").size > 0
