"""The vietTTS voice's variants side by side (``python -m bench --only-voice``): fp32 as
converted, fp32 with session options chosen by ``loa voices tune``, and the static int8
vocoder of ``loa voices quantize``; end-to-end and stage RTF, first audio and peak memory
each in a fresh process, and fidelity against fp32 on held-out phrases and on mels of the
real 49 s clip. Weights are random, of the real shapes: fidelity is numerical error."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from bench import vocoder_variants
from bench.tts_bench import CaseResult, run_case
from tts.tuning import tune_voice
from tts.voices.cpu import int8_support
from tts.voices.viettts.quantize import quantize_voice


def _variant(base: Path, build: Path, name: str) -> Path:
    target = build / f"viettts-random-{name}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    return target


def _set(folder: Path, **settings: object) -> None:
    manifest = folder / "voice.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["settings"].update(settings)
    manifest.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _row(label: str, r: CaseResult, fid: str) -> str:
    stages = "  ".join(f"{k} {v / r.audio_seconds:.3f}" for k, v in r.stages.items())
    return (
        f"  {label:<34} RTF {r.rtf:.3f}  first audio {r.first_audio_ms:5.0f} ms  peak RSS {r.peak_rss_mb:5.0f} MB"
        f"  | stage RTF: {stages}  | {fid}"
    )


def main(base: Path | None, build: Path, text: str, clip: Path) -> None:
    print("\nvietTTS variants (full-size, random weights), paragraph end to end, each in a fresh process")
    if base is None:
        print("  skipped: shared fixtures not found")
        return
    cpu = int8_support()
    print(f"  {cpu.describe()}")
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's pre-processing advice
    tuned = _variant(base, build, "tuned")
    best, measured = tune_voice(tuned)
    int8 = _variant(tuned, build, "int8")
    # The random acoustic model's mels are not speech-shaped: calibrate and judge the int8
    # vocoder on the real clip's mels (a quarter held out) where the clip is there.
    if clip.is_file():
        report = quantize_voice(int8, (), log=lambda _: None, recordings=[clip])
    else:
        report = quantize_voice(int8, log=lambda _: None)
    _set(int8, vocoder_variant="int8")  # measured even where the gate or the CPU would keep fp32

    rows = [("fp32, default session options", base), (f"fp32 tuned ({best.label})", tuned), ("int8 vocoder", int8)]
    results = {}
    for label, folder in rows:
        results[label] = run_case(str(folder), "paragraph", text, build / f"variant-{folder.name}.wav")
    f = report.chosen
    clip_f = report.chosen if report.sources == ["recordings"] else None
    fid_int8 = f"vs fp32: log-mel {f.log_mel_db:.2f} dB, MR-STFT {f.mrstft:.3f}, SNR {f.snr_db:.1f} dB"
    for label, r in results.items():
        print(_row(label, r, fid_int8 if label.startswith("int8") else "exact"))
    if clip_f is not None:
        print(
            f"  int8 on held-out mels of the 49 s clip (a quarter; the rest calibrated): "
            f"log-mel {clip_f.log_mel_db:.2f} dB, "
            f"MR-STFT {clip_f.mrstft:.3f}, SNR {clip_f.snr_db:.1f} dB"
        )
    shown = ", ".join(f"{k}: RTF {m.rtf:.3f}, first {m.first_audio_ms:.0f} ms" for k, m in measured.items())
    print(f"  tune (end to end per option, 2 phrases at once): {shown}")
    print(
        f"  quantizer: gate {report.max_log_mel_db} dB {'passed' if report.gate_passed else 'FAILED'}; {report.reason}"
    )
    base_rtf = results[rows[0][0]].rtf
    for label, r in results.items():
        print(f"  {label:<34} {base_rtf / r.rtf:.2f}x the default fp32")
    print("  targets: int8 RTF <= 0.10 with log-mel <= 0.5 dB; fp32 <= 0.22; first audio <= 200 ms")
    vocoder_variants.main(base, clip)
