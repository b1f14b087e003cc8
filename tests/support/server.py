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


def one_time_password(log: Path) -> str:
    match = re.search(r"admin / (\S+)", log.read_text())
    assert match, "the first start prints the one-time admin password"
    return match[1]


def admin_password(log: Path) -> str:
    """The admin's password, the first start's one-time one changed (it allows nothing
    else until then) through the API of the server that wrote ``log``."""
    first = one_time_password(log)
    new = first + "-da-doi"
    url = re.search(r"Loa đang chạy: (http://\S+?)/ ", log.read_text())
    assert url, "the server prints where it listens"
    with httpx.Client(base_url=url[1], timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": first})
        if r.status_code == 401:  # changed by an earlier call
            return new
        assert r.status_code == 200, r.text
        r = client.post(
            "/api/v1/me/password",
            json={"current_password": first, "new_password": new},
            headers={"X-CSRF-Token": r.json()["csrf_token"]},
        )
        assert r.status_code == 200, r.text
    return new


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")
