"""Tiny vietTTS checkpoints through the real converter and onnxruntime.

The ONNX graphs must compute what an independent numpy transcription of vietTTS's maths
computes, stage by stage; the voice must be deterministic for a seed and honour the
prenet-dropout setting.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support import viettts_reference as ref
from tests.support.viettts_tiny import TINY_HIFIGAN, acoustic_tree, duration_tree, hifigan_tree, write_tiny_checkpoints
from tts.voices.base import VoiceError, VoiceInfo
from tts.voices.viettts.checkpoint import load_pickle
from tts.voices.viettts.convert import convert_viettts
from tts.voices.viettts.voice import VietTTSVoice


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


@pytest.fixture(scope="module")
def tiny_voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[VoiceInfo, Path]:
    src = write_tiny_checkpoints(tmp_path_factory.mktemp("ckpt"))
    out = tmp_path_factory.mktemp("voice")
    info = convert_viettts(
        src["duration"], src["acoustic"], src["vocoder"], src["lexicon"], out, config=src["config"], voice_id="tiny"
    )
    return info, out


def test_checkpoint_loads_without_jax_haiku_or_optax(tmp_path: Path) -> None:
    paths = write_tiny_checkpoints(tmp_path)
    code = (
        "import sys, pathlib\n"
        "from tts.voices.viettts.checkpoint import load_pickle\n"
        f"c = load_pickle(pathlib.Path({str(paths['acoustic'])!r}))\n"
        "assert set(c) == {'step', 'params', 'aux', 'rng', 'optim_state'}\n"
        "assert not any(m.split('.')[0] in ('jax', 'haiku', 'optax') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_checkpoint_with_foreign_code_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps({"params": {}, "x": print}))  # references builtins.print
    with pytest.raises(VoiceError, match="không phải checkpoint"):
        load_pickle(evil)


def test_converter_writes_manifest_and_onnx(tiny_voice: tuple[VoiceInfo, Path]) -> None:
    _, folder = tiny_voice
    manifest = json.loads((folder / "voice.json").read_text())
    assert manifest["kind"] == "viettts" and manifest["sample_rate"] == 16000
    for key in ("duration", "acoustic", "vocoder", "lexicon"):
        assert (folder / manifest["files"][key]).is_file()
    assert manifest["settings"]["hop"] == 256
    assert len(manifest["settings"]["sha256"]["vocoder"]) == 64


def test_onnx_matches_numpy_transcription_of_viettts(tiny_voice: tuple[VoiceInfo, Path]) -> None:
    info, folder = tiny_voice
    voice = VietTTSVoice(info, folder, threads=1)
    d_params, d_aux = duration_tree(0)
    a_params, a_aux = acoustic_tree(1)
    tokens = voice.tokens("xin chào các bạn")
    raw = voice._duration.run(None, {"tokens": tokens[None]})[0][0]  # type: ignore[attr-defined]
    assert rel_l2(raw, ref.durations(tokens, d_params, d_aux)) < 1e-5

    d = voice.durations(tokens)
    frames = (d * 16000 / 256).astype(np.float32)
    n = int(frames.sum())
    rng = np.random.default_rng(3)
    keep1 = ((rng.random((n, 8)) < 0.5) * 2).astype(np.float32)
    keep2 = ((rng.random((n, 8)) < 0.5) * 2).astype(np.float32)
    mel = voice._acoustic.run(["mel"], {"tokens": tokens[None], "frames": frames, "keep1": keep1, "keep2": keep2})[0][0]  # type: ignore[attr-defined]
    expected = ref.acoustic(tokens, frames[0].astype(np.float64), keep1, keep2, a_params, a_aux)
    assert mel.shape == expected.shape == (n, 8)
    assert rel_l2(mel, expected) < 1e-5

    wav = voice.vocode(mel[None, :40].astype(np.float32))
    assert wav.shape == (40 * 256,)
    assert rel_l2(wav, ref.hifigan(mel[:40].astype(np.float64), hifigan_tree(2), TINY_HIFIGAN)) < 1e-5


def test_voice_is_deterministic_for_a_seed_and_dropout_is_explicit(tiny_voice: tuple[VoiceInfo, Path]) -> None:
    info, folder = tiny_voice
    a = VietTTSVoice(info, folder).synthesize("xin chào bà con")
    b = VietTTSVoice(info, folder).synthesize("xin chào bà con")
    assert a.dtype == np.float32 and a.size % 256 == 0 and a.size > 0
    np.testing.assert_array_equal(a, b)
    reseeded = VoiceInfo(**{**info.__dict__, "settings": {**info.settings, "seed": 7}})
    assert not np.array_equal(a, VietTTSVoice(reseeded, folder).synthesize("xin chào bà con"))
    off = VoiceInfo(**{**info.__dict__, "settings": {**info.settings, "prenet_dropout": "off"}})
    c = VietTTSVoice(off, folder).synthesize("xin chào bà con")
    assert c.shape == a.shape and not np.array_equal(a, c)
    np.testing.assert_array_equal(c, VietTTSVoice(off, folder).synthesize("xin chào bà con"))


def test_letters_outside_the_inventory_never_crash(tiny_voice: tuple[VoiceInfo, Path]) -> None:
    info, folder = tiny_voice
    voice = VietTTSVoice(info, folder)
    assert voice.synthesize("cô brown zalo").size > 0  # vietTTS raises ValueError on 'w'
    assert voice.synthesize("").size == 0


def test_bad_checkpoint_names_the_missing_parameter(tmp_path: Path) -> None:
    paths = write_tiny_checkpoints(tmp_path / "c")
    params, aux = duration_tree(0)
    del params["duration_model/~/linear_1"]
    paths["duration"].write_bytes(pickle.dumps({"step": 0, "params": params, "aux": aux}))
    with pytest.raises(VoiceError, match="duration_model/~/linear_1"):
        convert_viettts(
            paths["duration"],
            paths["acoustic"],
            paths["vocoder"],
            paths["lexicon"],
            tmp_path / "o",
            config=paths["config"],
        )


def test_missing_input_file_names_the_option(tmp_path: Path) -> None:
    paths = write_tiny_checkpoints(tmp_path / "c")
    with pytest.raises(VoiceError, match="--acoustic"):
        convert_viettts(paths["duration"], tmp_path / "nope.pickle", paths["vocoder"], paths["lexicon"], tmp_path / "o")


def test_pytorch_generator_checkpoint_converts_like_the_haiku_one(tmp_path: Path) -> None:
    """g_XXXXXXXX (torch zip, weight norm, torch names) gives the same vocoder as hk_hifi."""
    paths = write_tiny_checkpoints(tmp_path / "c")
    g_file = tmp_path / "g_00000042"
    subprocess.run(
        [sys.executable, "-m", "tests.support.torch_ckpt_writer", str(g_file), "2"],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    from tts.voices.viettts.torch_ckpt import is_torch_checkpoint

    assert is_torch_checkpoint(g_file)
    args = (paths["duration"], paths["acoustic"])
    hk = convert_viettts(*args, paths["vocoder"], paths["lexicon"], tmp_path / "hk", config=paths["config"])
    th = convert_viettts(*args, g_file, paths["lexicon"], tmp_path / "th", config=paths["config"])
    mel = np.random.default_rng(0).standard_normal((1, 20, 8)).astype(np.float32)
    a = VietTTSVoice(hk, tmp_path / "hk").vocode(mel)
    b = VietTTSVoice(th, tmp_path / "th").vocode(mel)
    assert rel_l2(b, a) < 1e-5
