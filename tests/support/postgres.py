"""A throwaway PostgreSQL server (Debian's binaries) on loopback, for the scale-out tests.

PostgreSQL refuses to run as root, so when the tests run as root the cluster is created
and started as the ``postgres`` system user (runuser).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresServer:
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    counter: int = 0

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        self.counter += 1
        name = f"loa_test_{os.getpid()}_{self.counter}"
        _run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f"CREATE DATABASE {name}"])
        return name

    def crash(self) -> None:
        """Stop at once, as a crash does (immediate shutdown: clients cut off, recovery
        from the WAL at the next start); ``start_again`` brings it back on the same port."""
        data = self.root / "data"
        _run_quiet(_as_postgres([str(_bindir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]))
        self.process.wait(timeout=30)

    def start_again(self) -> None:
        self.process = _postmaster(self.root / "data", self.port, self.root)
        _wait_ready(self.port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _run_quiet(cmd: list[str]) -> None:
    subprocess.run(cmd, check=False, capture_output=True)


def _bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (make test installs Debian's postgresql package)")
    return Path(candidates[-1]).parent


def _postmaster(data: Path, port: int, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _as_postgres(
            [
                str(_bindir() / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("PostgreSQL did not start")


def start_postgres() -> PostgresServer:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="loa-pg-"))
    os.chmod(root, 0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    _run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    process = _postmaster(data, port, root)
    _wait_ready(port, process)
    return PostgresServer(port, root, process)
