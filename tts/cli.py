"""``loa normalize``, ``loa speak`` and ``loa voices ...``: the speech engine's commands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tts.audio.writers import FORMATS, AudioFormatError
from tts.voices.base import VoiceError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("normalize", help="đọc văn bản UTF-8 từ stdin, in dạng đọc (mỗi dòng vào một dòng ra)")
    p.add_argument("--le", action="store_true", help="đọc 'lẻ' thay cho 'linh' (105 → một trăm lẻ năm)")
    p.add_argument("--overrides", type=Path, help="tệp cách đọc riêng: 'chữ viết<TAB>cách đọc[<TAB>loại]' mỗi dòng")
    p.add_argument(
        "--explain", action="store_true", help="in từng chỗ đã đọc khác chữ viết: [loại] chữ viết → cách đọc"
    )
    p.set_defaults(func=cmd_normalize)

    p = sub.add_parser("speak", help="tổng hợp giọng đọc ra tệp âm thanh")
    p.add_argument("text", nargs="?", help="văn bản cần đọc (hoặc dùng -f)")
    p.add_argument("-f", "--file", help="đọc văn bản từ tệp; '-' là stdin")
    p.add_argument("-o", "--output", required=True, type=Path, help="tệp âm thanh ra")
    p.add_argument("--voice", help="mã giọng đã cài hoặc thư mục giọng (mặc định vi-espeak)")
    p.add_argument("--rate", type=int, help="tần số lấy mẫu ra (Hz)")
    p.add_argument("--format", choices=FORMATS, help="định dạng ra (mặc định theo đuôi tệp)")
    p.add_argument("--loudness", type=float, default=-16.0, help="độ lớn đích LUFS (-16 cho loa, -23 cho phát thanh)")
    p.add_argument("--no-loudness", action="store_true", help="không chuẩn hóa độ lớn")
    p.add_argument("--chime", action="store_true", help="thêm tiếng chuông đầu và cuối")
    p.add_argument("--overrides", type=Path, help="tệp cách đọc riêng")
    p.add_argument("--threads", type=int, default=0, help="số luồng onnxruntime (0 = tự chọn)")
    p.set_defaults(func=cmd_speak)

    voices = sub.add_parser("voices", help="quản lý giọng đọc").add_subparsers(dest="voices_cmd", required=True)
    p = voices.add_parser("list", help="liệt kê giọng đọc")
    p.set_defaults(func=cmd_voices_list)
    p = voices.add_parser("install", help="cài giọng từ thư mục (voice.json) hoặc tệp piper .onnx")
    p.add_argument("path", type=Path)
    p.add_argument("--id", help="đặt mã giọng")
    p.set_defaults(func=cmd_voices_install)
    p = voices.add_parser("convert-viettts", help="chuyển checkpoint vietTTS sang giọng ONNX")
    p.add_argument("--duration", required=True, type=Path, help="duration_latest_ckpt.pickle")
    p.add_argument("--acoustic", required=True, type=Path, help="acoustic_latest_ckpt.pickle")
    p.add_argument("--vocoder", required=True, type=Path, help="hk_hifi.pickle hoặc g_XXXXXXXX (PyTorch)")
    p.add_argument("--lexicon", required=True, type=Path, help="lexicon.txt của vietTTS")
    p.add_argument("--config", type=Path, help="config.json của HiFi-GAN (mặc định V1 16 kHz)")
    p.add_argument("-o", "--output", required=True, type=Path, help="thư mục giọng ra")
    p.add_argument("--id", default="viettts", help="mã giọng")
    p.add_argument("--name", default="vietTTS (ONNX)")
    p.add_argument(
        "--prenet-dropout",
        choices=("seeded", "off"),
        default="seeded",
        help="dropout ở prenet khi suy luận (vietTTS giữ bật): seeded hoặc off",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--install", action="store_true", help="cài luôn sau khi chuyển đổi")
    p.set_defaults(func=cmd_convert)
    p = voices.add_parser("quantize", help="tạo vocoder int8 (hiệu chỉnh, kiểm tra độ trung thực) cho giọng vietTTS")
    p.add_argument("voice", help="mã giọng đã cài hoặc thư mục giọng")
    p.add_argument("--calibrate", type=Path, help="tệp văn bản tiếng Việt, mỗi dòng một câu (mặc định: câu có sẵn)")
    p.add_argument(
        "--recording",
        type=Path,
        action="append",
        default=[],
        help="bản ghi âm giọng người đọc của giọng này (WAV/FLAC; lặp lại được): dùng để hiệu chỉnh và kiểm tra",
    )
    p.add_argument(
        "--max-log-mel-db",
        type=float,
        default=None,
        help="ngưỡng sai khác log-mel so với fp32, dB (mặc định 0.5)",
    )
    p.set_defaults(func=cmd_quantize)
    p = voices.add_parser("tune", help="đo và chọn cách chạy vocoder nhanh nhất trên máy này (ghi vào voice.json)")
    p.add_argument("voice", help="mã giọng đã cài hoặc thư mục giọng")
    p.add_argument("--text", type=Path, help="đo trên bản tin này (UTF-8) thay cho đoạn bản tin có sẵn")
    p.set_defaults(func=cmd_tune)


def _normalizer(args: argparse.Namespace) -> object:
    from tts.text.normalizer import Normalizer, load_overrides

    overrides = load_overrides(args.overrides) if getattr(args, "overrides", None) else None
    return Normalizer(overrides=overrides, le=getattr(args, "le", False))


def cmd_normalize(args: argparse.Namespace) -> int:
    normalizer = _normalizer(args)
    data = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    if data.endswith("\n"):
        data = data[:-1]
    if getattr(args, "explain", False):
        for line in normalizer.explain(data):  # type: ignore[attr-defined]
            marks = [f"[{r.cls}] {r.written} → {r.spoken}" for r in line if r.cls]
            sys.stdout.write(" | ".join(marks) + "\n")
        return 0
    sys.stdout.write(normalizer.normalize(data) + "\n")  # type: ignore[attr-defined]
    return 0


def cmd_speak(args: argparse.Namespace) -> int:
    from tts.engine import Synthesizer
    from tts.render import RenderSettings
    from tts.voices.registry import load_voice

    if args.file and args.text:
        raise SystemExit("loa speak: chỉ dùng một trong TEXT hoặc -f")
    if args.file == "-":
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    elif args.file:
        text = Path(args.file).read_text(encoding="utf-8")
    elif args.text:
        text = args.text
    else:
        raise SystemExit("loa speak: cần TEXT hoặc -f FILE")
    if not text.strip():
        raise SystemExit("loa speak: văn bản rỗng")
    voice = load_voice(args.voice, threads=args.threads)
    synth = Synthesizer(voice, _normalizer(args), workers=min(2, os.cpu_count() or 1))  # type: ignore[arg-type]
    settings = RenderSettings(
        format=args.format, rate=args.rate, loudness_lufs=None if args.no_loudness else args.loudness, chime=args.chime
    )
    result = synth.render(text, args.output, settings)
    synth.close()
    print(
        f"{result.path}: {result.format} {result.sample_rate} Hz, {result.duration_seconds:.2f} s âm thanh, "
        f"tổng hợp {result.wall_seconds:.2f} s, RTF {result.real_time_factor:.3f}, "
        f"âm thanh đầu tiên sau {result.first_audio_seconds * 1000:.0f} ms, "
        f"độ lớn gốc {result.input_loudness_lufs:.1f} LUFS, tăng {result.gain_db:+.1f} dB"
    )
    return 0


def cmd_voices_list(args: argparse.Namespace) -> int:
    from tts.voices.registry import list_voices

    for info, folder in list_voices():
        where = str(folder) if folder else "có sẵn"
        print(f"{info.id}\t{info.kind}\t{info.sample_rate} Hz\t{info.name}\t{where}")
    return 0


def cmd_voices_install(args: argparse.Namespace) -> int:
    from tts.voices.registry import install_voice, voices_dir

    info = install_voice(args.path, args.id)
    print(f"đã cài giọng {info.id} ({info.kind}, {info.sample_rate} Hz) vào {voices_dir() / info.id}")
    return 0


def _viettts_folder(ref: str) -> Path:
    from tts.voices.registry import resolve

    info, folder = resolve(ref)
    if folder is None or info.kind != "viettts":
        raise VoiceError(f"{ref}: cần một giọng vietTTS đã cài hoặc thư mục giọng vietTTS")
    return folder


def cmd_quantize(args: argparse.Namespace) -> int:
    import logging

    from tts.text.normalizer import Normalizer
    from tts.voices.viettts.quality import Quality
    from tts.voices.viettts.quantize import DEFAULT_MAX_LOG_MEL_DB, DEFAULT_TEXTS, quantize_voice

    folder = _viettts_folder(args.voice)
    texts: tuple[str, ...] = DEFAULT_TEXTS
    if args.calibrate is not None:
        try:
            raw = args.calibrate.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise VoiceError(f"--calibrate: không đọc được {args.calibrate} ({exc})") from exc
        normalizer = Normalizer()
        texts = tuple(t for t in (normalizer.normalize(line) for line in raw) if t.split())
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's quantizer advice on pre-processing
    limit = DEFAULT_MAX_LOG_MEL_DB if args.max_log_mel_db is None else args.max_log_mel_db
    report = quantize_voice(folder, texts, max_log_mel_db=limit, recordings=args.recording)
    chosen = report.chosen
    print(
        f"vocoder int8: log-mel {chosen.log_mel_db:.2f} dB, MR-STFT {chosen.mrstft:.3f}, SNR {chosen.snr_db:.1f} dB; "
        f"RTF vocoder fp32 {report.rtf_fp32:.3f}, int8 {report.rtf_int8:.3f}"
    )
    print(f"chất lượng so với fp32 (phần giữ lại): {Quality(**report.quality, phrases=0).describe()}")
    if report.recordings is not None:
        rec = report.recordings
        print(
            f"trên ghi âm (phần giữ lại): log-mel {rec.log_mel_db:.2f} dB, "
            f"MR-STFT {rec.mrstft:.3f}, SNR {rec.snr_db:.1f} dB"
        )
    if report.fp32_groups:
        print(f"giữ fp32: {', '.join(report.fp32_groups)}")
    verdict = "dùng int8" if report.selected else "GIỮ fp32"
    print(f"{verdict}: {report.reason}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from tts.tuning import TUNE_TEXT, tune_voice

    folder = _viettts_folder(args.voice)
    text = TUNE_TEXT
    if args.text is not None:
        try:
            text = args.text.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VoiceError(f"--text: không đọc được {args.text} ({exc})") from exc
    best, measured = tune_voice(folder, text)
    for label, m in measured.items():
        print(f"  {label:<32} RTF {m.rtf:.3f} (đầu đến cuối), âm thanh đầu tiên {m.first_audio_ms:.0f} ms")
    print(f"chọn: {best.label} (ghi vào {folder / 'voice.json'})")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from tts.voices.viettts.convert import convert_viettts

    info = convert_viettts(
        args.duration,
        args.acoustic,
        args.vocoder,
        args.lexicon,
        args.output,
        config=args.config,
        voice_id=args.id,
        name=args.name,
        prenet_dropout=args.prenet_dropout,
        seed=args.seed,
    )
    print(f"đã chuyển đổi giọng {info.id} vào {args.output}")
    if args.install:
        from tts.voices.registry import install_voice

        install_voice(args.output)
        print(f"đã cài giọng {info.id}")
    return 0


ERRORS: tuple[type[Exception], ...] = (VoiceError, AudioFormatError, OSError, ValueError)
