from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.support.piper_tiny import SAMPLES_PER_ID, id_map, write_tiny_piper
from tts.voices.base import VoiceError
from tts.voices.espeak import phonemize
from tts.voices.piper import PiperVoice, phoneme_ids
from tts.voices.registry import install_voice, list_voices, load_voice


def test_espeak_ipa_keeps_vietnamese_tones_as_digits() -> None:
    ipa = phonemize("ba bà bá bả bã bạ")
    assert [w[-1] for w in ipa.split()[1:]] == ["2", "ɜ", "4", "5", "6"]


def test_piper_id_layout_bos_pad_eos() -> None:
    ids_map = id_map()
    ids, missing = phoneme_ids("ba2", ids_map)
    pad, bos, eos = ids_map["_"][0], ids_map["^"][0], ids_map["$"][0]
    assert ids[:2] == [bos, pad] and ids[-1] == eos
    assert ids[2:-1] == [ids_map["b"][0], pad, ids_map["a"][0], pad, ids_map["2"][0], pad]
    assert not missing


def test_installed_piper_voice_synthesizes_through_onnxruntime(tmp_path: Path) -> None:
    model = write_tiny_piper(tmp_path / "src")
    info = install_voice(model)
    assert info.kind == "piper" and info.sample_rate == 22050
    assert info.id in [i.id for i, _ in list_voices()]
    voice = load_voice(info.id)
    assert isinstance(voice, PiperVoice) and voice.keeps_tones
    ids = voice.ids("xin chào việt nam")
    assert ids_contains(ids, id_map()["2"][0]) and ids_contains(ids, id_map()["6"][0])  # huyền, nặng
    audio = voice.synthesize("xin chào việt nam")
    assert audio.dtype == np.float32 and audio.size == ids.size * SAMPLES_PER_ID


def ids_contains(ids: np.ndarray, value: int) -> bool:
    return bool(np.any(ids == value))


def test_voice_without_tone_ids_reports_it_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = write_tiny_piper(tmp_path, name="vi_VN-notones-x_low", with_tones=False)
    voice = load_voice(str(model))
    assert isinstance(voice, PiperVoice) and not voice.keeps_tones
    with caplog.at_level(logging.WARNING):
        voice.synthesize("bà ba")
    assert "thiếu âm vị" in caplog.text


def test_multi_speaker_voice_gets_a_speaker_id(tmp_path: Path) -> None:
    model = write_tiny_piper(tmp_path, name="vi_VN-multi-x_low", speakers=4)
    assert load_voice(str(model)).synthesize("xin chào").size > 0


def test_install_rejects_a_model_without_config(tmp_path: Path) -> None:
    model = write_tiny_piper(tmp_path)
    model.with_name(model.name + ".json").unlink()
    with pytest.raises(VoiceError, match="thiếu tệp cấu hình"):
        install_voice(model)


def test_unknown_voice_lists_the_installed_ones() -> None:
    with pytest.raises(VoiceError, match="vi-espeak"):
        load_voice("khong-co-giong-nay")
