"""The vietTTS voice on a given number of cores (``python -m bench.voice_cores``).

A lean run for a quiet machine, e.g. the lent GPU machine's 16-core CPU: the full-size
voice with random weights is built from the fixture's checkpoint generator, converted,
quantized once, then measured with the process pinned to 2 cores (the target class of
machine) and to every core: per variant (fp32 with onnxruntime's defaults, fp32 with the
options ``loa voices tune`` picks for that core count, the int8 vocoder) the end-to-end RTF
of the paragraph, first audio of a fresh stream, peak RSS and stage RTF, each in a fresh
process; then a 20-minute bulletin on 2 cores. Anchor: the fp32 default, same run.

Needs only numpy, scipy, onnx, onnxruntime and soundfile (no gateway dependencies).
usage: python -m bench.voice_cores FIXTURES_DIR CORPUS_DIR BUILD_DIR [--cores 2 --cores 16] [--long-minutes 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import peak_rss_mb
from bench.voice_variants import _set


def _pin(cores: int) -> None:
    available = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(available[:cores]))


def _case(folder: str, text: str, first_text: str, out: str, cores: int, queue: Any) -> None:
    _pin(cores)
    from dataclasses import asdict

    from tts.engine import Synthesizer
    from tts.render import RenderSettings
    from tts.voices.registry import load_voice

    voice = load_voice(folder)
    workers = int(voice.info.settings.get("runtime", {}).get("workers", 2))
    synth = Synthesizer(voice, workers=workers)
    voice.synthesize(synth.plan(text)[0].text)  # load and warm the sessions
    threads = len(os.listdir("/proc/self/task"))
    result = synth.render(text, Path(out), RenderSettings(rate=voice.info.sample_rate))
    firsts = []
    for _ in range(3):
        start = time.perf_counter()
        stream = synth.stream(first_text)
        next(stream)
        firsts.append(time.perf_counter() - start)
        for _ in stream:
            pass
    stages: dict[str, float] = {}
    if hasattr(voice, "synthesize_timed") and result.duration_seconds < 120:
        for phrase in synth.plan(text):
            _, times = voice.synthesize_timed(phrase.text)
            for name, value in asdict(times).items():
                stages[name] = stages.get(name, 0.0) + value
    queue.put(
        {
            "audio_s": result.duration_seconds,
            "wall_s": result.wall_seconds,
            "rtf": result.wall_seconds / result.duration_seconds,
            "first_ms": float(np.median(firsts)) * 1000,
            "rss_mb": peak_rss_mb(),
            "stage_rtf": {k: v / result.duration_seconds for k, v in stages.items()},
            "threads": threads,
            "workers": workers,
        }
    )


def case(folder: Path, text: str, first_text: str, out: Path, cores: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_case, args=(str(folder), text, first_text, str(out), cores, queue))
    proc.start()
    result: dict[str, Any] = queue.get(timeout=1800)
    proc.join()
    return result


def _tune(folder: str, cores: int, workers: int, queue: Any) -> None:
    _pin(cores)
    from tts.tuning import tune_voice

    best, measured = tune_voice(Path(folder), workers=workers)
    queue.put((best.label, {k: round(m.rtf, 4) for k, m in measured.items()}))


def tune(folder: Path, cores: int) -> tuple[str, dict[str, float]]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_tune, args=(str(folder), cores, max(2, cores), queue))
    proc.start()
    result: tuple[str, dict[str, float]] = queue.get(timeout=900)
    proc.join()
    return result


def build_voice(fixtures: Path, build: Path) -> Path:
    from tts.voices.viettts.convert import convert_viettts

    target = build / "viettts-random"
    if (target / "voice.json").is_file():
        return target
    ckpt = build / "ckpt"
    if not (ckpt / "hk_hifi.pickle").is_file():
        subprocess.run([sys.executable, str(fixtures / "make_checkpoints.py"), str(ckpt)], check=True)
    convert_viettts(
        ckpt / "duration_latest_ckpt.pickle",
        ckpt / "acoustic_latest_ckpt.pickle",
        ckpt / "hk_hifi.pickle",
        fixtures / "lexicon.txt",
        target,
        voice_id="viettts-random",
        name="vietTTS architecture, random weights",
    )
    return target


def _copy(base: Path, build: Path, name: str) -> Path:
    target = build / f"viettts-random-{name}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    return target


def _row(label: str, r: dict[str, Any], anchor: float) -> str:
    stages = " ".join(f"{k} {v:.3f}" for k, v in r["stage_rtf"].items())
    return (
        f"  {label:<30} RTF {r['rtf']:.3f} ({anchor / r['rtf']:.2f}x)  first audio {r['first_ms']:4.0f} ms"
        f"  RSS {r['rss_mb']:4.0f} MB  threads {r['threads']:3d} workers {r['workers']:2d}  | {stages}"
    )


def long_bulletin(args: argparse.Namespace, record: dict[str, Any], cores: int, first: str) -> None:
    """A bulletin of ``args.long_minutes`` minutes (corpus texts repeated): fp32 as converted
    (every voice's default) and the int8 vocoder."""
    corpus = " ".join(p.read_text(encoding="utf-8") for p in sorted(args.corpus.glob("*.txt")))
    rate = record[f"{cores}_cores"]["variants"]["fp32, onnxruntime defaults"]["audio_s"] / 165
    need = int(args.long_minutes * 60 / rate)
    text_words = corpus.split()
    long_text = " ".join((text_words * (need // len(text_words) + 1))[:need])
    folders = {"fp32": args.build / "viettts-random", "int8 vocoder": args.build / f"viettts-random-int8-{cores}"}
    print(f"\n{args.long_minutes:.0f}-minute bulletin ({need} words), {cores} cores", flush=True)
    record["long"] = {}
    for name, folder in folders.items():
        r = case(folder, long_text, first, args.build / "long.wav", cores)
        scaled = r["wall_s"] * args.long_minutes * 60 / r["audio_s"]
        print(
            f"  {name:<13} {r['audio_s']:.0f} s of audio rendered in {r['wall_s']:.1f} s (RTF {r['rtf']:.3f},"
            f" peak RSS {r['rss_mb']:.0f} MB) => {scaled:.0f} s per {args.long_minutes:.0f} minutes; target <= 120 s",
            flush=True,
        )
        record["long"][name] = r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("build", type=Path)
    parser.add_argument("--cores", type=int, action="append", default=[])
    parser.add_argument("--long-minutes", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from tts.voices.cpu import int8_support
    from tts.voices.viettts.quantize import quantize_voice

    args.build.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"cpu": int8_support().describe(), "cores_available": len(os.sched_getaffinity(0))}
    print(f"{record['cpu']}; {record['cores_available']} cores available", flush=True)
    started = time.perf_counter()
    base = build_voice(args.fixtures, args.build)
    print(f"voice built in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    quantized = _copy(base, args.build, "int8")
    clip_path = args.fixtures / "clip.wav"
    # The random acoustic model's mels are not speech-shaped: calibrate and judge the int8
    # vocoder on the real clip's mels (a quarter held out).
    report = quantize_voice(quantized, (), log=lambda _: None, recordings=[clip_path])
    f = report.chosen
    record["quantizer"] = {"gate_passed": report.gate_passed, "reason": report.reason, "log_mel_db": f.log_mel_db}
    print(
        f"quantized in {time.perf_counter() - started:.0f} s"
        f" (vocoder RTF fp32 {report.rtf_fp32:.3f}, int8 {report.rtf_int8:.3f}):"
        f" gate {'passed' if report.gate_passed else 'FAILED'}; log-mel {f.log_mel_db:.2f} dB, MR-STFT {f.mrstft:.3f},"
        f" SNR {f.snr_db:.1f} dB; {report.reason}",
        flush=True,
    )
    kept = report.fp32_groups or "none"
    print(f"  calibrated and judged on held-out mels of the 49 s clip; fp32 groups kept: {kept}", flush=True)
    words = (args.corpus / "pleiku-thong-tin-co-so-2022.txt").read_text(encoding="utf-8").split()
    paragraph, first = " ".join(words[:165]), " ".join(words[:30])
    for cores in args.cores or [2]:
        print(f"\n{cores} cores: paragraph (165 words) end to end, each variant in a fresh process", flush=True)
        tuned = _copy(base, args.build, f"tuned{cores}")
        label, measured = tune(tuned, cores)
        print(f"  tune: {measured} -> {label}", flush=True)
        int8 = _copy(quantized, args.build, f"int8-{cores}")
        runtime = json.loads((tuned / "voice.json").read_text(encoding="utf-8"))["settings"]["runtime"]
        _set(int8, vocoder_variant="int8", runtime=runtime)  # measured even where the gate would keep fp32
        rows = {"fp32, onnxruntime defaults": base, f"fp32 tuned ({label})": tuned, "int8 vocoder, tuned": int8}
        results = {}
        for name, folder in rows.items():
            results[name] = case(folder, paragraph, first, args.build / f"{folder.name}.wav", cores)
            print(_row(name, results[name], results["fp32, onnxruntime defaults"]["rtf"]), flush=True)
        record[f"{cores}_cores"] = {"tune": measured, "variants": results}
        if args.long_minutes > 0 and cores == min(args.cores or [2]):
            long_bulletin(args, record, cores, first)
        if args.json:
            args.json.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
