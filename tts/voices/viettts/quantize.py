"""``loa voices quantize``: a static int8 HiFi-GAN vocoder beside the fp32 one, with a fidelity gate.

Weights int8 per output channel, activations uint8 (onnxruntime's fast u8s8 path on VNNI
and AMX), ranges calibrated on mels the voice's own acoustic model makes from Vietnamese
text. Each convolution group (the input conv, each upsampling, each residual block, the
output conv) is scored by how much fidelity it costs; the costliest groups stay fp32 until
the held-out phrases are within ``max_log_mel_db`` of the fp32 vocoder, and the choice is
recorded in ``voice.json``. The int8 file is selected only when the gate passes and the CPU
has fast int8 instructions; otherwise fp32 stays the voice's vocoder and the report says why.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.cpu import int8_support
from tts.voices.runtime import onnx_session
from tts.voices.viettts.calibration import DEFAULT_TEXTS, MelReader, phrase_mels, recording_mels, split
from tts.voices.viettts.fidelity import Fidelity, compare, merge
from tts.voices.viettts.quality import speech_quality

__all__ = ["DEFAULT_TEXTS", "INT8_FILE", "quantize_voice"]

INT8_FILE = "vocoder.int8.onnx"
DEFAULT_MAX_LOG_MEL_DB = 0.5


@dataclass(frozen=True)
class Group:
    """Convolutions that are kept fp32 or quantized together."""

    name: str
    nodes: tuple[str, ...]


@dataclass
class QuantizationReport:
    max_log_mel_db: float
    full_int8: Fidelity
    chosen: Fidelity
    recordings: Fidelity | None = None  # the chosen file on held-out recording chunks
    sources: list[str] = field(default_factory=list)  # what calibrated and judged: phrases, recordings
    cpu_flags: list[str] = field(default_factory=list)  # int8 instructions of the CPU the gate ran on
    fp32_groups: list[str] = field(default_factory=list)
    sensitivity: dict[str, float] = field(default_factory=dict)  # log-mel dB with only that group fp32
    rtf_fp32: float = 0.0
    rtf_int8: float = 0.0
    quality: dict[str, float | None] = field(default_factory=dict)  # PESQ/STOI of the chosen file, held-out phrases
    gate_passed: bool = False
    selected: bool = False
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("full_int8", "chosen", "recordings"):
            if data[key] is not None:
                data[key] = {k: round(float(v), 4) for k, v in data[key].items()}
        data["sensitivity"] = {k: round(v, 4) for k, v in self.sensitivity.items()}
        data["quality"] = {k: None if v is None else round(v, 4) for k, v in self.quality.items()}
        return data


def named_vocoder(fp32: onnx.ModelProto) -> tuple[onnx.ModelProto, list[Group]]:
    """A copy of the vocoder whose nodes all have names, and its convolution groups."""
    model = onnx.ModelProto()
    model.CopyFrom(fp32)
    groups: list[tuple[str, list[str]]] = []
    stage = -1
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"n{i}_{node.op_type}"
        if node.op_type == "ConvTranspose":
            stage += 1
            groups.append((f"ups{stage}", [node.name]))
        elif node.op_type == "Conv":
            if stage < 0:
                groups.append(("conv_pre", [node.name]))
            else:
                groups.append((f"stage{stage}.res", [node.name]))
    # The last Conv is the output conv; residual convs of one stage form one group.
    if groups and groups[-1][0].endswith(".res"):
        last = groups.pop()
        groups.append(("conv_post", last[1]))
    merged: dict[str, list[str]] = {}
    for name, nodes in groups:
        merged.setdefault(name, []).extend(nodes)
    return model, [Group(name, tuple(nodes)) for name, nodes in merged.items()]


def quantize_file(source: Path, target: Path, mels: Sequence[npt.NDArray[np.float32]], exclude: Sequence[str]) -> None:
    """Static int8 (QDQ, per-channel s8 weights, u8 activations, MinMax ranges) of ``source``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(MelReader, CalibrationDataReader):  # type: ignore[misc]
        pass

    quantize_static(
        str(source),
        str(target),
        Reader(mels),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv", "ConvTranspose"],
        nodes_to_exclude=list(exclude),
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )


def vocode_all(path: Path, mels: Sequence[npt.NDArray[np.float32]]) -> tuple[list[npt.NDArray[np.float32]], float]:
    """Waveforms of ``mels`` through the vocoder at ``path`` and the seconds it took."""
    session = onnx_session(path)
    session.run(None, {"mel": mels[0]})  # first run allocates; not timed
    started = time.perf_counter()
    waves = [np.asarray(session.run(None, {"mel": mel})[0][0], np.float32) for mel in mels]
    return waves, time.perf_counter() - started


def _fidelity(
    path: Path, mels: Sequence[npt.NDArray[np.float32]], refs: Sequence[npt.NDArray[np.float32]], sr: int
) -> Fidelity:
    waves, _ = vocode_all(path, mels)
    return merge([compare(r, w, sr) for r, w in zip(refs, waves, strict=True)])


def quantize_voice(
    folder: Path,
    texts: Sequence[str] = DEFAULT_TEXTS,
    max_log_mel_db: float = DEFAULT_MAX_LOG_MEL_DB,
    max_fp32_groups: int = 6,
    log: Any = print,
    recordings: Sequence[Path] = (),
) -> QuantizationReport:
    """Write ``vocoder.int8.onnx`` into the voice folder and record the result in voice.json.

    ``recordings`` (the voice's speaker) join the calibration and the gate: a quarter of
    their chunks is held out, and the gate passes only if both held-out sets are within
    ``max_log_mel_db``."""
    from tts.voices.viettts.voice import VietTTSVoice

    manifest = folder / MANIFEST_NAME
    info = VoiceInfo.from_file(manifest)
    if info.kind != "viettts":
        raise VoiceError(f"giọng {info.id}: chỉ lượng tử hóa được giọng vietTTS (kind = viettts)")
    fp32_only = replace(info, settings={**info.settings, "vocoder_variant": "fp32"})
    voice = VietTTSVoice(fp32_only, folder)
    sr = info.sample_rate
    fp32_path = folder / info.files["vocoder"]
    fp32_model = onnx.load(str(fp32_path))
    bands = fp32_model.graph.input[0].type.tensor_type.shape.dim[-1].dim_value
    phrases = phrase_mels(voice, texts) if texts else []
    recorded = recording_mels(recordings, sr, bands) if recordings else []
    if not phrases and not recorded:
        raise VoiceError("cần câu văn (--calibrate) hoặc bản ghi âm (--recording) để hiệu chỉnh")
    # Without phrases (an acoustic model whose mels are not speech-shaped), recordings alone
    # calibrate and judge: they take the phrases' place and ``recordings`` stays empty.
    calibration, evaluation = split(phrases or recorded)
    rec_calibration, rec_evaluation = split(recorded) if phrases and recorded else ([], [])

    refs, fp32_seconds = vocode_all(fp32_path, evaluation)
    rec_refs, _ = vocode_all(fp32_path, rec_evaluation) if rec_evaluation else ([], 0.0)
    audio_seconds = sum(r.size for r in refs) / sr

    def worst(fid: Fidelity, rec: Fidelity | None) -> float:
        return max(fid.log_mel_db, rec.log_mel_db if rec is not None else 0.0)

    with tempfile.TemporaryDirectory(prefix="loa-quant-") as tmp:
        named, groups = named_vocoder(fp32_model)
        source = Path(tmp) / "named.onnx"
        onnx.save(named, str(source))

        def attempt(keep: Sequence[Group], label: str) -> tuple[Path, Fidelity, Fidelity | None]:
            target = Path(tmp) / f"{label}.onnx"
            quantize_file(source, target, calibration + rec_calibration, [n for g in keep for n in g.nodes])
            rec = _fidelity(target, rec_evaluation, rec_refs, sr) if rec_evaluation else None
            return target, _fidelity(target, evaluation, refs, sr), rec

        best_path, full, full_rec = attempt([], "full")
        log(f"int8 toàn bộ: log-mel {full.log_mel_db:.2f} dB, SNR {full.snr_db:.1f} dB")
        if full_rec is not None:
            log(f"  trên ghi âm (phần giữ lại): log-mel {full_rec.log_mel_db:.2f} dB, SNR {full_rec.snr_db:.1f} dB")
        report = QuantizationReport(max_log_mel_db=max_log_mel_db, full_int8=full, chosen=full, recordings=full_rec)
        report.sources = [name for name, mels in (("phrases", phrases), ("recordings", recorded)) if mels]
        if worst(full, full_rec) > max_log_mel_db:
            for group in groups:
                _, fid, rec = attempt([group], f"only-{group.name}")
                report.sensitivity[group.name] = worst(fid, rec)
            ranked = sorted(groups, key=lambda g: report.sensitivity[g.name])
            kept: list[Group] = []
            for group in ranked[:max_fp32_groups]:
                kept.append(group)
                path, fid, rec = attempt(kept, f"keep{len(kept)}")
                log(f"giữ fp32 {', '.join(g.name for g in kept)}: log-mel {worst(fid, rec):.2f} dB")
                if worst(fid, rec) < worst(report.chosen, report.recordings):
                    best_path, report.chosen, report.recordings = path, fid, rec
                    report.fp32_groups = [g.name for g in kept]
                if worst(fid, rec) <= max_log_mel_db:
                    break
        int8_waves, int8_seconds = vocode_all(best_path, evaluation)
        scores = speech_quality(refs, int8_waves, sr)
        report.quality = {"pesq": scores.pesq, "stoi": scores.stoi}
        target = folder / INT8_FILE
        target.write_bytes(best_path.read_bytes())

    report.rtf_fp32 = fp32_seconds / audio_seconds
    report.rtf_int8 = int8_seconds / audio_seconds
    report.gate_passed = worst(report.chosen, report.recordings) <= max_log_mel_db
    cpu = int8_support()
    report.cpu_flags = list(cpu.flags)  # int8 kernels differ by instruction set, and so does their error
    if not report.gate_passed:
        report.reason = (
            f"độ sai khác log-mel {worst(report.chosen, report.recordings):.2f} dB vượt ngưỡng {max_log_mel_db} dB:"
            " giữ vocoder fp32"
        )
    elif not cpu.fast:
        report.reason = f"{cpu.describe()}: giữ vocoder fp32"
    elif report.rtf_int8 >= report.rtf_fp32:
        report.reason = f"int8 không nhanh hơn trên máy này (RTF {report.rtf_int8:.3f} so với {report.rtf_fp32:.3f})"
    else:
        report.selected = True
        report.reason = f"đạt ngưỡng {max_log_mel_db} dB và nhanh hơn {report.rtf_fp32 / report.rtf_int8:.2f} lần"
    _record(manifest, info, report)
    return report


def _record(manifest: Path, info: VoiceInfo, report: QuantizationReport) -> None:
    files = {**info.files, "vocoder_int8": INT8_FILE}
    digest = hashlib.sha256((manifest.parent / INT8_FILE).read_bytes()).hexdigest()
    settings = dict(info.settings)
    settings["vocoder_variant"] = "int8" if report.selected else "fp32"
    settings["quantization"] = report.to_json()
    sha = dict(settings.get("sha256", {}))
    sha["vocoder_int8"] = digest
    settings["sha256"] = sha
    updated = replace(info, files=files, settings=settings)
    manifest.write_text(updated.to_json(), encoding="utf-8")
    json.loads(manifest.read_text(encoding="utf-8"))  # written whole and readable
