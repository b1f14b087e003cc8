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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.cpu import int8_support
from tts.voices.runtime import onnx_session
from tts.voices.viettts.fidelity import Fidelity, compare, merge

INT8_FILE = "vocoder.int8.onnx"
DEFAULT_MAX_LOG_MEL_DB = 0.5

# Calibration and held-out phrases in the register of commune bulletins (normalized text).
DEFAULT_TEXTS = (
    "ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng vào sáng thứ hai tuần tới",
    "cơn bão số ba đang di chuyển theo hướng tây tây bắc với vận tốc hai mươi ki lô mét một giờ",
    "đề nghị bà con chằng chống nhà cửa và đưa tàu thuyền vào nơi tránh trú an toàn",
    "từ bảy giờ ba mươi đến mười một giờ ngày mai sẽ tạm ngừng cung cấp điện khu vực thôn ba",
    "hội nghị tiếp xúc cử tri được tổ chức tại nhà văn hóa thôn lúc tám giờ sáng chủ nhật",
    "các hộ gia đình hoàn thành nộp thuế sử dụng đất phi nông nghiệp trước ngày ba mươi tháng mười hai",
    "mực nước sông hồng tại hà nội đang lên nhanh người dân không đi qua ngầm tràn",
    "trạm y tế xã khám sức khỏe miễn phí cho người cao tuổi vào thứ sáu",
    "nghiêm cấm đốt rơm rạ trên đồng ruộng gây ô nhiễm môi trường",
    "xin mời bà con nghe bản tin thời sự của đài truyền thanh xã",
    "đội thanh niên tình nguyện hỗ trợ người dân khơi thông cống rãnh sau mưa lớn",
    "mọi ý kiến phản ánh xin gọi đường dây nóng hoặc nhắn tin theo cú pháp p a",
)


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
    fp32_groups: list[str] = field(default_factory=list)
    sensitivity: dict[str, float] = field(default_factory=dict)  # log-mel dB with only that group fp32
    rtf_fp32: float = 0.0
    rtf_int8: float = 0.0
    gate_passed: bool = False
    selected: bool = False
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("full_int8", "chosen"):
            data[key] = {k: round(float(v), 4) for k, v in data[key].items()}
        data["sensitivity"] = {k: round(v, 4) for k, v in self.sensitivity.items()}
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


class _MelReader:
    """onnxruntime's CalibrationDataReader protocol over a list of mels."""

    def __init__(self, mels: Sequence[npt.NDArray[np.float32]]) -> None:
        self._mels = list(mels)
        self._it: Iterator[npt.NDArray[np.float32]] = iter(self._mels)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        mel = next(self._it, None)
        return None if mel is None else {"mel": mel}

    def rewind(self) -> None:
        self._it = iter(self._mels)


def quantize_file(source: Path, target: Path, mels: Sequence[npt.NDArray[np.float32]], exclude: Sequence[str]) -> None:
    """Static int8 (QDQ, per-channel s8 weights, u8 activations, MinMax ranges) of ``source``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(_MelReader, CalibrationDataReader):  # type: ignore[misc]
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


def phrase_mels(voice: Any, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
    """Mels the voice's own duration and acoustic models make for ``texts``."""
    mels = []
    for text in texts:
        tokens = voice.tokens(text)
        mel = voice.mel(tokens, voice.durations(tokens), text=text)
        if mel.shape[1] > 0:
            mels.append(mel)
    if len(mels) < 2:
        raise VoiceError("cần ít nhất hai câu đọc được để hiệu chỉnh và kiểm tra bộ lượng tử hóa")
    return mels


def quantize_voice(
    folder: Path,
    texts: Sequence[str] = DEFAULT_TEXTS,
    max_log_mel_db: float = DEFAULT_MAX_LOG_MEL_DB,
    max_fp32_groups: int = 6,
    log: Any = print,
) -> QuantizationReport:
    """Write ``vocoder.int8.onnx`` into the voice folder and record the result in voice.json."""
    from tts.voices.viettts.voice import VietTTSVoice

    manifest = folder / MANIFEST_NAME
    info = VoiceInfo.from_file(manifest)
    if info.kind != "viettts":
        raise VoiceError(f"giọng {info.id}: chỉ lượng tử hóa được giọng vietTTS (kind = viettts)")
    fp32_only = replace(info, settings={**info.settings, "vocoder_variant": "fp32"})
    voice = VietTTSVoice(fp32_only, folder)
    mels = phrase_mels(voice, texts)
    held_out = max(1, len(mels) // 4)
    calibration, evaluation = mels[:-held_out], mels[-held_out:]
    sr = info.sample_rate

    fp32_path = folder / info.files["vocoder"]
    refs, fp32_seconds = vocode_all(fp32_path, evaluation)
    audio_seconds = sum(r.size for r in refs) / sr
    with tempfile.TemporaryDirectory(prefix="loa-quant-") as tmp:
        named, groups = named_vocoder(onnx.load(str(fp32_path)))
        source = Path(tmp) / "named.onnx"
        onnx.save(named, str(source))

        def attempt(keep: Sequence[Group], label: str) -> tuple[Path, Fidelity]:
            target = Path(tmp) / f"{label}.onnx"
            quantize_file(source, target, calibration, [n for g in keep for n in g.nodes])
            return target, _fidelity(target, evaluation, refs, sr)

        best_path, full = attempt([], "full")
        log(f"int8 toàn bộ: log-mel {full.log_mel_db:.2f} dB, SNR {full.snr_db:.1f} dB")
        report = QuantizationReport(max_log_mel_db=max_log_mel_db, full_int8=full, chosen=full)
        if not full.within(max_log_mel_db):
            for group in groups:
                _, fid = attempt([group], f"only-{group.name}")
                report.sensitivity[group.name] = fid.log_mel_db
            ranked = sorted(groups, key=lambda g: report.sensitivity[g.name])
            kept: list[Group] = []
            for group in ranked[:max_fp32_groups]:
                kept.append(group)
                path, fid = attempt(kept, f"keep{len(kept)}")
                log(f"giữ fp32 {', '.join(g.name for g in kept)}: log-mel {fid.log_mel_db:.2f} dB")
                if fid.log_mel_db < report.chosen.log_mel_db:
                    best_path, report.chosen = path, fid
                    report.fp32_groups = [g.name for g in kept]
                if fid.within(max_log_mel_db):
                    break
        _, int8_seconds = vocode_all(best_path, evaluation)
        target = folder / INT8_FILE
        target.write_bytes(best_path.read_bytes())

    report.rtf_fp32 = fp32_seconds / audio_seconds
    report.rtf_int8 = int8_seconds / audio_seconds
    report.gate_passed = report.chosen.within(max_log_mel_db)
    cpu = int8_support()
    if not report.gate_passed:
        report.reason = (
            f"độ sai khác log-mel {report.chosen.log_mel_db:.2f} dB vượt ngưỡng {max_log_mel_db} dB: giữ vocoder fp32"
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
