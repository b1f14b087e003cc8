"""``loa asr install PATH``, ``loa asr list``, ``loa asr transcribe FILE``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gateway.feedback.asr import models
from gateway.feedback.asr.audio import AudioProblem
from gateway.feedback.asr.base import ModelError

ERRORS = (ModelError, AudioProblem)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    asr = sub.add_parser("asr", help="mô hình nhận dạng giọng nói (cài từ tệp, không tải về)")
    cmds = asr.add_subparsers(dest="asr_cmd", required=True)
    p = cmds.add_parser("install", help="cài mô hình từ thư mục hoặc tệp nén .tar.bz2/.tar.gz/.zip")
    p.add_argument("path", type=Path)
    p.add_argument("--name", default=None, help="tên mô hình (mặc định: tên thư mục)")
    p.set_defaults(func=cmd_install)
    p = cmds.add_parser("list", help="liệt kê mô hình đã cài")
    p.set_defaults(func=cmd_list)
    p = cmds.add_parser("transcribe", help="nhận dạng một tệp ghi âm bằng mô hình đã cài")
    p.add_argument("file", type=Path)
    p.add_argument("--model", default="", help="tên mô hình (mặc định: mô hình cài đầu tiên)")
    p.set_defaults(func=cmd_transcribe)


def cmd_install(args: argparse.Namespace) -> int:
    done = models.install(args.path, args.name)
    print(f"đã cài mô hình {done.name} ({done.backend}) vào {done.folder}")
    return 0


def cmd_list(_args: argparse.Namespace) -> int:
    found = models.installed()
    if not found:
        print(f"chưa cài mô hình nào (thư mục {models.asr_dir()}); phản ánh ghi âm sẽ chờ cán bộ nghe và gõ lại")
    for model in found:
        print(f"{model.name}\t{model.backend}\t{model.folder}\t{model.installed_at}")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from gateway.feedback.asr.pipeline import transcribe_file

    backend = models.load(args.model)
    if backend is None:
        raise ModelError("chưa cài mô hình nhận dạng nào: dùng 'loa asr install PATH'")
    start = time.perf_counter()
    transcript = transcribe_file(backend, args.file)
    elapsed = time.perf_counter() - start
    for begin, end, text in transcript.segments:
        print(f"[{begin:6.2f}-{end:6.2f}] {text}")
    print(transcript.normalized)
    print(
        f"# {transcript.seconds:.1f} s âm thanh, {len(transcript.segments)} đoạn, {elapsed:.2f} s xử lý "
        f"(RTF {elapsed / max(transcript.seconds, 1e-9):.3f}), {transcript.backend}"
    )
    return 0
