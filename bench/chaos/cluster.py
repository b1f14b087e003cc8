"""The processes of one chaos scenario, each a real process on loopback: a PostgreSQL
cluster (Debian's binaries, as the tests start it), ``loa serve --role web``, one or
more ``loa serve --role worker``, and the scenario's peers (SMSC, Asterisk stand-in,
speaker agents). The harness kills any of them with SIGKILL and starts it again with the
same command, or restarts PostgreSQL (immediate shutdown: a crash, recovered from WAL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.postgres import PostgresServer, start_postgres
from tests.support.server import admin_password, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    """One restartable process: its command, its log file, and how to tell it is ready."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[Proc], bool] = lambda _p: True
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, within: float = 90.0) -> None:
        mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        self.starts += 1
        self.mark = mark
        deadline = time.monotonic() + within
        while not self.ready(self):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")
            time.sleep(0.1)

    def since_start(self) -> str:
        return self.log.read_bytes()[self.mark :].decode("utf-8", "replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def printed_ready(proc: Proc) -> bool:
    return "ready" in proc.since_start()


class Postgres:
    """A throwaway cluster that can be restarted on its data directory."""

    def __init__(self) -> None:
        self.server: PostgresServer = start_postgres()
        self.database = self.server.create_database()
        self.url = self.server.url(self.database)
        self.restarts = 0

    def restart(self, down_s: float) -> None:
        self.server.crash()
        time.sleep(down_s)
        self.server.start_again()
        self.restarts += 1

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql`` (psql, tab-separated); retried while the server restarts."""
        argv = ["psql", "-h", "127.0.0.1", "-p", str(self.server.port), "-U", "postgres", "-d", self.database]
        argv += ["-At", "-F", "\t", "-c", sql]
        for _ in range(100):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode == 0:
                return [line.split("\t") for line in done.stdout.splitlines() if line]
            time.sleep(0.2)
        raise RuntimeError(f"psql failed: {done.stderr}")

    def stop(self) -> None:
        self.server.stop()


class Cluster:
    """PostgreSQL, one web process and ``workers`` worker processes sharing one data
    directory (artifacts, the file channel's outbox) and one configuration file."""

    def __init__(self, root: Path, config: str, workers: int = 2, lease_s: int = 5) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.pg = Postgres()
        self.data = root / "data"
        self.port = free_port()
        self.agi_ports = [free_port() for _ in range(workers)]
        self.config = root / "loa.toml"
        self.config.write_text(
            f'database_url = "{self.pg.url}"\ndata_dir = "{self.data}"\nlease_seconds = {lease_s}\n'
            'secret_key = "chaos-secret-key-0123456789abcdef"\n' + config,
            encoding="utf-8",
        )
        base = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(self.config)]
        env = {"PYTHONPATH": str(ROOT)}
        subprocess.run(
            [*base[:3], "db", "upgrade", "--config", str(self.config)],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        self.web = Proc("web", [*base, "--role", "web", "--port", str(self.port)], root / "web.log", env, self._web_up)
        self.workers = [
            Proc(
                f"worker{i + 1}",
                [*base, "--role", "worker"],
                root / f"worker{i + 1}.log",
                {**env, "LOA_WORKER_ID": f"w{i + 1}", "LOA_AGI_LISTEN": f"127.0.0.1:{self.agi_ports[i]}"},
            )
            for i in range(workers)
        ]
        self.peers: dict[str, Proc] = {}
        self.base = f"http://127.0.0.1:{self.port}"

    def _web_up(self, _proc: Proc) -> bool:
        try:
            httpx.get(f"{self.base}/login", timeout=1).close()
            return True
        except httpx.TransportError:
            return False

    def start(self) -> None:
        for proc in self.peers.values():
            proc.start()
        self.web.start()
        self.password = admin_password(self.web.log)
        for worker in self.workers:
            worker.start()

    def processes(self) -> list[Proc]:
        return [self.web, *self.workers, *self.peers.values()]

    def stop(self) -> None:
        for proc in self.processes():
            proc.stop()
        self.pg.stop()
