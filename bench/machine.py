"""Machine facts the benchmarks compare against: measured GEMM FLOP/s."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


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
