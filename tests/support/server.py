"""Start a real ``loa serve`` process on loopback for integration and browser tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    data: Path, port: int, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "LOA_DATA_DIR": str(data), "LOA_PORT": str(port), **(env or {})}
    with log.open("ab") as out:  # a file, not a pipe: the server never blocks on its output
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", *extra], env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).close()
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway did not start: " + log.read_text())


def admin_password(log: Path) -> str:
    match = re.search(r"admin / (\S+)", log.read_text())
    assert match, "the first start prints the one-time admin password"
    return match[1]


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")
