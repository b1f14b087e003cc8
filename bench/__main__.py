"""``make bench``: speech-engine and SMS benchmarks with their anchors, measured in the same run.

Anchors: the machine's measured float32 GEMM rate (compute floor of the vocoder), the
vietTTS architecture in JAX/XLA (a separate venv made here; skipped with a message where
jax cannot be installed), and the targets of issue #2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import (
    alerts_bench,
    loudspeaker_bench,
    normalize_bench,
    programme_bench,
    sms_bench,
    telephony_bench,
    voice_variants,
)
from bench.flops import conv_flops_per_audio_second
from bench.machine import describe, gemm_flops
from bench.tts_bench import CaseResult, dump_phrases, run_case

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LOA_SHARED_DIR", ROOT.parent / "shared"))
BUILD = ROOT / "build" / "bench"

SENTENCE = "Ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng vào sáng thứ hai tuần tới tại trạm y tế."


def corpus(name: str) -> str:
    return (SHARED / "corpus" / name).read_text(encoding="utf-8")


def paragraph() -> str:
    words = corpus("pleiku-thong-tin-co-so-2022.txt").split()
    return " ".join(words[:165])


def bulletin() -> str:
    return corpus("hanoi-ke-hoach-179-2020.txt")


def prepare_viettts() -> Path | None:
    """Convert the shared full-size vietTTS fixture checkpoints (random weights) once."""
    ckpt = SHARED / "fixtures" / "viettts" / "parity" / "ckpt"
    target = BUILD / "viettts-random"
    if (target / "voice.json").is_file():
        return target
    if not ckpt.is_dir():
        return None
    from tts.voices.viettts.convert import convert_viettts

    convert_viettts(
        ckpt / "duration_latest_ckpt.pickle.xz",
        ckpt / "acoustic_latest_ckpt.pickle.xz",
        ckpt / "hk_hifi.pickle.xz",
        SHARED / "fixtures" / "viettts" / "lexicon.txt",
        target,
        voice_id="viettts-random",
        name="vietTTS architecture, random weights",
    )
    return target


def jax_anchor(voice_dir: Path, cases: dict[str, str]) -> dict[str, dict[str, float]] | str:
    venv = BUILD / "jax-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        print("  creating the JAX reference venv (jax, jaxlib from PyPI) ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        if made.returncode == 0:
            made = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "jax", "jaxlib", "numpy"], capture_output=True, text=True
            )
        if made.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            return f"skipped: jax could not be installed ({str(made.stderr)[-200:].strip()})"
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases.items():
            npz = Path(tmp) / f"{name}.npz"
            dump_phrases(str(voice_dir), text, npz)
            report = Path(tmp) / f"{name}.json"
            run = subprocess.run(
                [
                    str(py),
                    str(ROOT / "bench" / "jax_reference.py"),
                    str(SHARED / "fixtures" / "viettts" / "parity" / "ckpt"),
                    str(SHARED / "fixtures" / "viettts" / "parity"),
                    str(npz),
                    str(report),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "JAX_PLATFORMS": "cpu"},
            )
            if run.returncode != 0:
                return f"skipped: the JAX reference failed ({run.stderr[-300:].strip()})"
            data = json.loads(report.read_text())
            totals = {k: sum(p[k] for p in data["phrases"]) for k in ("duration", "acoustic", "vocoder", "compile")}
            totals.update({f"parity_{k}": v for k, v in data["parity_rel_l2"].items()})
            totals["jax_version"] = data["jax"]
            out[name] = totals
    return out


def show(r: CaseResult) -> None:
    stages = "  ".join(f"{k} {v / r.audio_seconds:.3f}" for k, v in r.stages.items())
    print(
        f"  {r.case:<9} audio {r.audio_seconds:7.1f} s  wall {r.wall_seconds:7.2f} s  RTF {r.rtf:.3f}  "
        f"first audio {r.first_audio_ms:6.0f} ms  peak RSS {r.peak_rss_mb:6.0f} MB  | stage RTF: {stages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX reference anchor")
    parser.add_argument("--voice", action="append", default=[], help="also benchmark this installed voice")
    parser.add_argument("--only-viettts", action="store_true", help="only the vietTTS architecture and its anchor")
    parser.add_argument("--only-sms", action="store_true", help="only the SMS benchmarks (SMPP throughput, campaign)")
    parser.add_argument("--sms-recipients", type=int, default=0, help="SMS whole-path campaign size (10,000)")
    parser.add_argument(
        "--sms-postgres", action="store_true", help="with --only-sms: also PostgreSQL, 1 and 2 worker processes"
    )
    parser.add_argument(
        "--only-loudspeakers", action="store_true", help="only the loudspeaker benchmarks (pull API, RTP pacing)"
    )
    parser.add_argument(
        "--only-telephony", action="store_true", help="only the telephony benchmarks (hotline AGI, campaign pacing)"
    )
    parser.add_argument("--calls", type=int, default=10_000, help="numbers in the campaign pacing benchmark")
    parser.add_argument("--cps", type=float, default=50.0, help="call_cps of the campaign pacing benchmark")
    parser.add_argument(
        "--only-programmes", action="store_true", help="only the programme benchmark (a 15-minute programme)"
    )
    parser.add_argument(
        "--only-voice", action="store_true", help="only the vietTTS variants (fp32, tuned fp32, int8 vocoder)"
    )
    parser.add_argument(
        "--only-alerts", action="store_true", help="only the alert benchmark (time to silence after a stop)"
    )
    parser.add_argument(
        "--only-normalize", action="store_true", help="only the normalizer evaluation (Loa, soe-vinorm, vietnormalizer)"
    )
    parser.add_argument(
        "--only-chaos", action="store_true", help="only the chaos suite (campaigns while processes are killed)"
    )
    parser.add_argument("--chaos-seed", type=int, help="with --only-chaos: replay the faults of this seed")
    parser.add_argument(
        "--chaos-times", type=int, default=2, help="with --only-chaos: how often each fault is injected"
    )
    parser.add_argument("--chaos-quick", action="store_true", help="with --only-chaos: small campaigns")
    parser.add_argument(
        "--chaos-only", default="", help="with --only-chaos: scenarios whose name contains this (any case)"
    )
    parser.add_argument("--show-errors", type=int, default=0, help="with --only-normalize: print Loa's first N misses")
    parser.add_argument("--no-anchors", action="store_true", help="with --only-normalize: Loa only")
    args = parser.parse_args()
    if args.only_chaos:
        from bench.chaos.main import main as chaos

        chaos(args.chaos_seed, args.chaos_times, args.chaos_quick, args.chaos_only)
        return
    if args.only_normalize:
        normalize_bench.run(args.show_errors, anchors=not args.no_anchors)
        return
    if args.only_voice:
        BUILD.mkdir(parents=True, exist_ok=True)
        print(f"machine: {describe()}")
        voice_variants.main(prepare_viettts(), BUILD, paragraph(), SHARED / "fixtures" / "viettts" / "clip.wav")
        return
    if args.only_alerts:
        alerts_bench.main()
        return
    if args.only_programmes:
        programme_bench.main(prepare_viettts())
        return
    if args.only_telephony:
        telephony_bench.main(args.calls, args.cps)
        programme_bench.main(prepare_viettts())
        return
    if args.only_sms:
        sms_bench.main(args.sms_recipients, args.sms_postgres)
        return
    if args.only_loudspeakers:
        loudspeaker_bench.main()
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe()}")
    gemm = gemm_flops()
    print(f"anchor: float32 GEMM (numpy BLAS, 1024^3) {gemm / 1e9:.1f} GFLOP/s")

    cases = {"sentence": SENTENCE, "paragraph": paragraph(), "bulletin": bulletin()}
    results: dict[str, list[CaseResult]] = {}
    if not args.only_viettts:
        espeak_and_installed(args, cases, results)
    viettts(args, cases, gemm)
    voice_variants.main(prepare_viettts(), BUILD, paragraph(), SHARED / "fixtures" / "viettts" / "clip.wav")
    if not args.only_viettts:
        normalize_bench.run(0, anchors=True)
        sms_bench.main()
        loudspeaker_bench.main()
        telephony_bench.main(args.calls, args.cps)
        alerts_bench.main()
        programme_bench.main(prepare_viettts())


def espeak_and_installed(args: argparse.Namespace, cases: dict[str, str], results: dict[str, list[CaseResult]]) -> None:
    for voice in ["vi-espeak", *args.voice]:
        print(f"\nvoice {voice}")
        results[voice] = []
        for name, text in cases.items():
            r = run_case(voice, name, text, BUILD / f"{voice}-{name}.wav")
            results[voice].append(r)
            show(r)

    print("\nvi-espeak, 20-minute bulletin (target: <= 10 s)")
    long_text = corpus("pleiku-thong-tin-co-so-2022.txt")
    long_text = long_text * 3
    r = run_case("vi-espeak", "20min", long_text, BUILD / "espeak-20min.wav")
    scaled = r.wall_seconds * 1200 / r.audio_seconds
    show(r)
    print(f"  => {scaled:.1f} s per 20 minutes of audio ({scaled / 10:.2f} x the 10 s target)")


def viettts(args: argparse.Namespace, cases: dict[str, str], gemm: float) -> None:
    voice_dir = prepare_viettts()
    if voice_dir is None:
        print("\nvietTTS architecture: skipped (shared fixtures not found)")
        return
    print(f"\nvoice vietTTS architecture (full-size, random weights: {voice_dir})")
    vt = []
    for name, text in cases.items():
        r = run_case(str(voice_dir), name, text, BUILD / f"viettts-{name}.wav")
        vt.append(r)
        show(r)
    flops = conv_flops_per_audio_second(voice_dir / "vocoder.onnx", 16000, 256)
    floor = flops / gemm
    voc = sum(r.stages.get("vocoder", 0) for r in vt) / sum(r.audio_seconds for r in vt)
    print(
        f"  vocoder: {flops / 1e9:.1f} GFLOP per second of audio; at numpy's measured GEMM rate that is "
        f"RTF {floor:.3f} (a yardstick, not a floor: onnxruntime's convolutions can beat it); "
        f"measured vocoder RTF {voc:.3f} ({voc / floor:.2f} x the yardstick)"
    )
    print("  targets: fp32 RTF <= 0.22, first audio <= 200 ms (int8: --only-voice, below)")

    if args.no_jax:
        return
    print("\nanchor: vietTTS architecture in JAX/XLA (jit, steady state), same weights, tokens and masks")
    anchor = jax_anchor(voice_dir, {"sentence": SENTENCE, "paragraph": paragraph()})
    if isinstance(anchor, str):
        print(f"  {anchor}")
        return
    for r in vt:
        if r.case not in anchor:
            continue
        a = anchor[r.case]
        jax_total = a["duration"] + a["acoustic"] + a["vocoder"]
        ours = sum(r.stages.get(k, 0) for k in ("duration", "acoustic", "vocoder"))
        print(
            f"  {r.case:<9} jax {a['jax_version']}: RTF {jax_total / r.audio_seconds:.3f} "
            f"(duration {a['duration'] / r.audio_seconds:.3f}, acoustic {a['acoustic'] / r.audio_seconds:.3f}, "
            f"vocoder {a['vocoder'] / r.audio_seconds:.3f}; compile {a['compile']:.1f} s)  "
            f"| Loa ONNX RTF {ours / r.audio_seconds:.3f}  => speed-up x{jax_total / ours:.2f}  "
            f"| anchor parity vs vietTTS vectors (rel L2): mel {a['parity_mel']:.1e}, wav {a['parity_wav']:.1e}"
        )


if __name__ == "__main__":
    main()
