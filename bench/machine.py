"""Machine facts the benchmarks compare against: measured GEMM FLOP/s, and the CPU time the
hypervisor took from this VM while a timing was measured."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def peak_rss_mb() -> float:
    """This process's own peak resident memory, MB: ``VmHWM`` of /proc/self/status.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries it across exec, so a child
    started with multiprocessing's spawn (fork, then exec) reports at least its parent's
    size at the fork (measured: 1,514 MB in a fresh child of a 1.5 GB parent, VmHWM 14 MB)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gemm_flops(n: int = 1024, seconds: float = 1.5) -> float:
    """Best float32 GEMM rate (FLOP/s) over repeated n x n products with numpy's BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    a @ b
    best = float("inf")
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def describe() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def free_port() -> int:
    """A free TCP port on loopback, for a server the benchmark starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Steal:
    """CPU time stolen by the hypervisor (the ``steal`` column of /proc/stat, proc(5)) between
    ``with`` entry and exit, as a share of the wall time of all cores. On a VM whose host is
    busy, a real-time process is still late by what is stolen: a timing read without this
    figure can blame the code for the host."""

    def __init__(self) -> None:
        self.share: float | None = None

    @staticmethod
    def _read() -> float | None:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                fields = fh.readline().split()
            return int(fields[8]) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def __enter__(self) -> Steal:
        self._start, self._wall = self._read(), time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        end, wall = self._read(), time.monotonic() - self._wall
        if end is not None and self._start is not None and wall > 0:
            self.share = (end - self._start) / (wall * (os.cpu_count() or 1))

    def __str__(self) -> str:
        return "unknown" if self.share is None else f"{100 * self.share:.1f} %"
