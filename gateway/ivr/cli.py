"""``loa ivr check``: validate the IVR flows before Asterisk sends a caller into them."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.config import load_settings
from gateway.ivr.flows import FlowError, load_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ivr = sub.add_parser("ivr", help="luồng tổng đài (IVR)").add_subparsers(dest="ivr_cmd", required=True)
    p = ivr.add_parser("check", help="kiểm tra các tệp ivr_flows/*.yaml")
    p.add_argument("directory", type=Path, nargs="?", help="thư mục luồng (mặc định: ivr_flows_dir)")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    directory = args.directory or load_settings(None).flows_dir
    try:
        flows = load_dir(directory)
    except FlowError as exc:
        for problem in exc.problems:
            print(f"lỗi: {problem}")
        return 2
    for flow in flows.values():
        print(f"{flow.source}: luồng '{flow.name}', {len(flow.nodes)} nút, hợp lệ")
    return 0
