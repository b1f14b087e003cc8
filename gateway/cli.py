"""The ``loa`` command: one entry point for the speech engine and the gateway."""

from __future__ import annotations

import argparse
import sys

from gateway import backup, serve
from gateway.cli_parser import Parser
from gateway.config import ConfigError
from gateway.feedback.asr import cli as asr_cli
from gateway.ivr import cli as ivr_cli
from gateway.loudspeakers import agent
from tts import cli as tts_cli

ERRORS: tuple[type[Exception], ...] = (*tts_cli.ERRORS, *asr_cli.ERRORS)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="loa", description="Loa — hệ thống thông tin cơ sở bằng giọng nói")
    sub = parser.add_subparsers(dest="command", required=True, title="lệnh", metavar="LỆNH")
    tts_cli.register(sub)
    serve.register(sub)
    asr_cli.register(sub)
    agent.register(sub)
    ivr_cli.register(sub)
    backup.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"loa: lỗi cấu hình: {problem}", file=sys.stderr)
        return 2
    except ERRORS as exc:
        print(f"loa: lỗi: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
