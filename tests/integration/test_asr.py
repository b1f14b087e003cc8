"""Speech recognition through real sherpa-onnx with a tiny transducer in the real file
layout, on 8 kHz and 16 kHz input; the 49 s Vietnamese clip for resampling, voice
activity splitting and durations; model installation from folders and archives."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gateway.feedback.asr import audio, models, sherpa, vad
from gateway.feedback.asr.base import ModelError
from gateway.feedback.asr.pipeline import transcribe_clip, transcribe_file
from tests.conftest import VIETTTS, need_shared
from tests.support.sherpa_tiny import build, expected_text

SPOKEN = expected_text().lower()  # "xin chào bà con"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("asr") / "vi-tiny")


@pytest.fixture(scope="module")
def clip() -> audio.Clip:
    return audio.load(need_shared(VIETTTS / "clip.wav"))


def tone(rate: int, seconds: float = 1.0) -> audio.Clip:
    t = np.arange(int(rate * seconds)) / rate
    return audio.Clip((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_real_sherpa_onnx_decodes_telephone_and_wideband_input(tiny: Path, rate: int) -> None:
    backend = sherpa.SherpaTransducer(tiny)
    transcript = transcribe_clip(backend, tone(rate))
    assert transcript.raw == expected_text() and transcript.normalized == SPOKEN
    assert transcript.backend == "sherpa-onnx" and transcript.seconds == pytest.approx(1.0)


def test_bundle_file_names_are_found_int8_first(tiny: Path, tmp_path: Path) -> None:
    """The 2025-04-20 Vietnamese bundle: epoch-named files, int8 encoder/joiner, fp32 decoder."""
    bundle = tmp_path / "sherpa-onnx-zipformer-vi-int8-2025-04-20"
    bundle.mkdir()
    for role in ("encoder", "joiner"):
        shutil.copy(tiny / f"{role}.onnx", bundle / f"{role}-epoch-12-avg-8.int8.onnx")
        shutil.copy(tiny / f"{role}.onnx", bundle / f"{role}-epoch-12-avg-8.onnx")
    shutil.copy(tiny / "decoder.onnx", bundle / "decoder-epoch-12-avg-8.onnx")
    shutil.copy(tiny / "tokens.txt", bundle / "tokens.txt")
    files = sherpa.find_files(bundle)
    assert files["encoder"].name == "encoder-epoch-12-avg-8.int8.onnx"
    assert files["decoder"].name == "decoder-epoch-12-avg-8.onnx"
    backend = sherpa.SherpaTransducer(bundle)
    assert backend.capabilities.int8
    assert transcribe_clip(backend, tone(8000)).normalized == SPOKEN


def test_broken_models_are_refused_with_the_file_named(tiny: Path, tmp_path: Path) -> None:
    no_joiner = tmp_path / "no-joiner"
    shutil.copytree(tiny, no_joiner)
    (no_joiner / "joiner.onnx").unlink()
    with pytest.raises(ModelError, match="joiner"):
        sherpa.SherpaTransducer(no_joiner)
    # sherpa-onnx itself would exit() the whole process on this one
    no_metadata = build(tmp_path / "no-meta", metadata=False)
    with pytest.raises(ModelError, match="vocab_size"):
        sherpa.SherpaTransducer(no_metadata)
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny, damaged)
    (damaged / "decoder.onnx").write_bytes(b"\x08\x07not a model")
    with pytest.raises(ModelError, match="decoder"):
        sherpa.SherpaTransducer(damaged)


def test_the_49_second_clip_is_resampled_split_at_pauses_and_timed(tiny: Path, clip: audio.Clip) -> None:
    assert clip.seconds == pytest.approx(49.4, abs=0.1)
    phone = audio.Clip(audio.resample(clip.samples, clip.rate, 8000), 8000)  # as the hotline records it
    assert phone.seconds == pytest.approx(clip.seconds, abs=0.01)
    pieces = vad.segments(audio.resample(phone.samples, 8000, 16000), 16000, max_seconds=10.0)
    assert len(pieces) >= 5 and all(p.seconds <= 10.0 + 0.31 for p in pieces)
    assert pieces[0].start < 1.0 and pieces[-1].end > 48.0  # speech from start to end
    assert all(a.start < b.start for a, b in itertools.pairwise(pieces))
    transcript = transcribe_clip(sherpa.SherpaTransducer(tiny), phone, max_segment_s=10.0)
    assert len(transcript.segments) == len(pieces)
    assert transcript.normalized == " ".join([SPOKEN] * len(pieces))


def test_empty_silent_and_corrupt_recordings_get_a_reason(tiny: Path, tmp_path: Path) -> None:
    backend = sherpa.SherpaTransducer(tiny)
    cases = {
        "empty": audio.Clip(np.zeros(800, np.float32), 8000),
        "silent": audio.Clip(np.random.default_rng(1).normal(0, 1e-4, 8000 * 5).astype(np.float32), 8000),
    }
    for rule, empty in cases.items():
        with pytest.raises(audio.AudioProblem) as problem:
            transcribe_clip(backend, empty)
        assert problem.value.rule == rule and problem.value.message
    corrupt = tmp_path / "call.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(audio.AudioProblem) as problem:
        transcribe_file(backend, corrupt)
    assert problem.value.rule == "corrupt" and "hỏng" in problem.value.message


def test_asterisk_raw_recordings_are_read_by_extension(tiny: Path, tmp_path: Path) -> None:
    from tts.audio.g711 import encode_ulaw

    pcm = (tone(8000).samples * 32767).astype(np.int16)
    (tmp_path / "msg.ulaw").write_bytes(encode_ulaw(pcm))
    (tmp_path / "msg.sln").write_bytes(pcm.astype("<i2").tobytes())
    backend = sherpa.SherpaTransducer(tiny)
    for name in ("msg.ulaw", "msg.sln"):
        assert transcribe_file(backend, tmp_path / name).normalized == SPOKEN


def test_models_install_from_a_folder_or_archive_and_nothing_else(tiny: Path, tmp_path: Path) -> None:
    root = tmp_path / "models"
    assert models.load(root=root) is None  # no model: cases wait for staff
    archive = tmp_path / "sherpa-onnx-zipformer-vi-tiny.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        tar.add(tiny, arcname="sherpa-onnx-zipformer-vi-tiny")  # bundles nest the model one level down
    done = models.install(archive, root=root)
    assert (done.name, done.backend) == ("sherpa-onnx-zipformer-vi-tiny", "sherpa-onnx")
    models.install(tiny, name="second", root=root)
    assert [m.name for m in models.installed(root)] == ["second", "sherpa-onnx-zipformer-vi-tiny"]
    loaded = models.load("sherpa-onnx-zipformer-vi-tiny", root=root)
    assert loaded is not None and transcribe_clip(loaded, tone(16000)).normalized == SPOKEN
    with pytest.raises(ModelError, match="chưa cài"):
        models.load("khong-co", root=root)

    unknown = tmp_path / "notes"
    unknown.mkdir()
    (unknown / "readme.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ModelError, match="không nhận ra"):
        models.install(unknown, root=root)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../outside.txt", "x")
    with pytest.raises(ModelError, match="không an toàn"):
        models.install(evil, root=root)
    with pytest.raises(ModelError, match="name"):
        models.install(tiny, name="Tên Có Dấu", root=root)


def test_vosk_and_faster_whisper_say_what_is_missing(tmp_path: Path) -> None:
    """Neither package is installed by default: choosing them says how to get them."""
    (tmp_path / "vosk" / "am").mkdir(parents=True)
    (tmp_path / "vosk" / "am" / "final.mdl").write_bytes(b"x")
    (tmp_path / "vosk" / "conf").mkdir()
    (tmp_path / "vosk" / "conf" / "mfcc.conf").write_text("--sample-frequency=16000\n", encoding="utf-8")
    (tmp_path / "whisper").mkdir()
    for name in ("model.bin", "config.json"):
        (tmp_path / "whisper" / name).write_bytes(b"{}")
    assert models.detect(tmp_path / "vosk")[0] == "vosk"
    assert models.detect(tmp_path / "whisper")[0] == "faster-whisper"
    from gateway.feedback.asr import vosk_backend

    assert vosk_backend.model_rate(tmp_path / "vosk") == 16000
    for backend, folder in (("vosk", "vosk"), ("faster-whisper", "whisper")):
        try:
            models.open_backend(backend, tmp_path / folder)
        except ModelError as exc:
            assert "pip install" in str(exc) or "không nạp được" in str(exc)
        else:  # pragma: no cover - only if someone installed the package with a real model
            pytest.fail(f"{backend} loaded a fake model")


@pytest.mark.asyncio
async def test_transcription_never_blocks_the_event_loop(tiny: Path, clip: audio.Clip) -> None:
    backend = sherpa.SherpaTransducer(tiny)
    long_call = audio.Clip(np.tile(clip.samples, 6), clip.rate)  # about five minutes
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    start = time.perf_counter()
    transcript = await asyncio.to_thread(transcribe_clip, backend, long_call)
    elapsed = time.perf_counter() - start
    task.cancel()
    assert transcript.seconds == pytest.approx(296, abs=1) and elapsed > 0.2
    assert max(gaps) < 0.15  # the loop kept ticking while five minutes were transcribed
