"""Issue 18: ``loa serve --host H --port P --data-dir D`` as every other server takes
them, and every command-line error in Vietnamese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import build_parser, main
from gateway.serve import overrides


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, env={**os.environ}, timeout=60
    )


def test_config_serve_takes_host_port_and_data_dir(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--data-dir", str(tmp_path)])
    assert overrides(args) == {"host": "0.0.0.0", "port": "9000", "data_dir": str(tmp_path)}


def test_config_serve_port_is_checked_like_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--port", "70000", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "port: phải từ 1 đến 65535 (nhận được 70000) (tham số --port)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("serve", "--bogus"), "tham số không nhận ra: --bogus"),
        (("nope",), "lựa chọn không hợp lệ: 'nope'"),
        (("serve", "--port"), "tham số --port cần một giá trị"),
        (("serve", "--file-pace-ms", "x"), "tham số --file-pace-ms: giá trị không hợp lệ 'x' (cần số nguyên)"),
        (("serve", "--role", "boss"), "lựa chọn không hợp lệ: 'boss'"),
        ((), "thiếu tham số bắt buộc"),
    ],
)
def test_config_cli_errors_are_vietnamese(argv: tuple[str, ...], expected: str) -> None:
    out = _run(*argv)
    assert out.returncode == 2
    assert expected in out.stderr, out.stderr
    for english in ("usage:", "error:", "invalid choice", "unrecognized arguments", "expected one argument"):
        assert english not in out.stderr, out.stderr


def test_config_help_is_vietnamese() -> None:
    out = _run("serve", "--help")
    assert out.returncode == 0
    assert "cách dùng:" in out.stdout and "--port" in out.stdout and "--data-dir" in out.stdout
    assert "usage:" not in out.stdout and "show this help message" not in out.stdout
