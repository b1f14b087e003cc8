"""``loa voices tune``: a vietTTS voice's session options chosen by measuring what a listener
waits for, on this machine.

The engine synthesizes two phrases at once; whether each phrase's sessions should use every
core (onnxruntime's default) or one, and whether the vocoder's idle intra-op threads should
spin, depends on the CPU and on what else runs. Each candidate reads the same paragraph end
to end through the engine (text front-end, duration, acoustic and vocoder stages, phrases in
order, the first phrase alone), in interleaved rounds so a noisy moment hurts every candidate
alike; the fastest median end-to-end RTF is written to ``voice.json`` under
``settings.runtime``, with every candidate's RTF and first audio beside it.

Measured on a bulletin, not on the vocoder alone nor on tidy sentences: on a 2-core EPYC the
vocoder by itself ran 1.15x faster with one thread per phrase (RTF 0.107 against 0.125), and
so did twelve 12-22-word sentences read end to end (0.114 against 0.132); a real bulletin
paragraph, whose phrases run from 1 to 30 words between its commas, read 1.10x slower that
way (0.132 against 0.120) with later first audio (155 against 88 ms): a long phrase, and
the first one, run on one core while the other idles. ``TUNE_TEXT`` is such a paragraph;
``loa voices tune --text FILE`` measures on the commune's own bulletin.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tts.engine import Synthesizer
from tts.voices.base import MANIFEST_NAME, VoiceError, VoiceInfo
from tts.voices.viettts.voice import VietTTSVoice

# A bulletin as officers write it (Báo Gia Lai, 2022; figures, abbreviations and the
# commas that cut it into phrases of 1 to 30 words kept).
TUNE_TEXT = (
    "Thời gian qua, để thực hiện Chỉ thị số 07-CT/TW, ngày 05 tháng 9 năm 2016 của Ban Bí thư khóa XII "
    "về đẩy mạnh công tác thông tin cơ sở trong tình hình mới, Ban Thường vụ Thành ủy chỉ đạo chính quyền, "
    "Mặt trận, các đoàn thể, các cơ quan, đơn vị, địa phương triển khai thực hiện công tác thông tin với "
    "nhiều hình thức phong phú đa dạng như tuyên truyền trên sóng phát thanh, qua hội họp, sinh hoạt của "
    "thôn, làng, tổ dân phố, Mặt trận và đoàn thể, tuyên truyền qua Pano, mạng xã hội Facebook, Zalo và "
    "xây dựng nội dung thông tin gắn liền với thực tiễn, phù hợp từng địa bàn, đối tượng. Qua đó, nhân dân "
    "hiểu và chấp hành tốt các chủ trương, đường lối của Đảng, chính sách, pháp luật của Nhà nước, quy định "
    "của địa phương. Phòng Văn hóa và Thông tin thành phố được bố trí 06 cán bộ, viên chức; Trung tâm Văn "
    "hóa, Thông tin và Thể thao thành phố được bố trí 46 cán bộ, công chức, viên chức."
)


@dataclass(frozen=True)
class Candidate:
    threads: int  # onnxruntime intra-op threads per session (0: all cores)
    spinning: bool

    @property
    def label(self) -> str:
        threads = "mọi lõi" if self.threads == 0 else f"{self.threads} luồng"
        return f"{threads}/phrase, spinning {'bật' if self.spinning else 'tắt'}"


# The first is onnxruntime's default: tune can only pick something measured faster than it.
CANDIDATES = (Candidate(0, False), Candidate(0, True), Candidate(1, False), Candidate(1, True))


@dataclass(frozen=True)
class Measured:
    rtf: float  # end to end, median of the rounds
    first_audio_ms: float  # median of the rounds


def _read(synth: Synthesizer, text: str) -> tuple[float, float, float]:
    """Wall seconds, audio seconds and seconds to the first chunk of one reading of ``text``."""
    started = time.perf_counter()
    first = 0.0
    audio = 0.0
    for chunk in synth.stream(text):
        if not first:
            first = time.perf_counter() - started
        audio += chunk.audio.size / chunk.sample_rate
    return time.perf_counter() - started, audio, first


def tune_voice(
    folder: Path, text: str = TUNE_TEXT, workers: int = 2, rounds: int = 3
) -> tuple[Candidate, dict[str, Measured]]:
    """Measure every candidate reading ``text`` end to end; record the fastest in ``voice.json``."""
    manifest = folder / MANIFEST_NAME
    info = VoiceInfo.from_file(manifest)
    if info.kind != "viettts":
        raise VoiceError(f"giọng {info.id}: chỉ đo được giọng vietTTS (kind = viettts)")
    if not text.split():
        raise VoiceError("--text: văn bản đo trống")
    synths: dict[Candidate, Synthesizer] = {}
    for c in CANDIDATES:
        runtime = {**dict(info.settings.get("runtime", {})), "threads": c.threads, "allow_spinning": c.spinning}
        voice = VietTTSVoice(replace(info, settings={**info.settings, "runtime": runtime}), folder)
        synths[c] = Synthesizer(voice, workers=workers)
        _read(synths[c], " ".join(text.split()[:12]))  # first runs allocate; not timed
    rtfs: dict[Candidate, list[float]] = {c: [] for c in CANDIDATES}
    firsts: dict[Candidate, list[float]] = {c: [] for c in CANDIDATES}
    for _ in range(rounds):
        for candidate, synth in synths.items():
            wall, audio, first = _read(synth, text)
            rtfs[candidate].append(wall / audio)
            firsts[candidate].append(first * 1000)
    for synth in synths.values():
        synth.close()
    measured = {c: Measured(statistics.median(rtfs[c]), statistics.median(firsts[c])) for c in CANDIDATES}
    best = min(CANDIDATES, key=lambda c: measured[c].rtf)
    settings = dict(info.settings)
    settings["runtime"] = {
        "threads": best.threads,
        "allow_spinning": best.spinning,
        "workers": workers,
        "measured": f"end to end, {len(text.split())} words",
        "rtf": {c.label: round(m.rtf, 4) for c, m in measured.items()},
        "first_audio_ms": {c.label: round(m.first_audio_ms, 1) for c, m in measured.items()},
    }
    manifest.write_text(replace(info, settings=settings).to_json(), encoding="utf-8")
    return best, {c.label: m for c, m in measured.items()}
