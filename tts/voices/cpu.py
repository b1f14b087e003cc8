"""What the CPU offers for int8 inference: onnxruntime's u8s8 kernels are fast only with
VNNI (AVX-512 VNNI, AVX-VNNI), AMX or Arm's dot-product instructions; elsewhere an int8
vocoder can be slower than fp32, so callers ask before they pick it."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

FAST_INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


@dataclass(frozen=True)
class Int8Support:
    fast: bool
    flags: tuple[str, ...]  # the FAST_INT8_FLAGS this CPU has

    def describe(self) -> str:
        if self.fast:
            return f"CPU có lệnh int8 nhanh ({', '.join(self.flags)})"
        return "CPU không có VNNI/AMX/dot-product: int8 có thể chậm hơn fp32"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """Flags of the first processor in ``/proc/cpuinfo`` (x86 'flags', Arm 'Features')."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def int8_support(cpuinfo: Path = Path("/proc/cpuinfo")) -> Int8Support:
    flags = cpu_flags(cpuinfo)
    if not flags and platform.machine() == "arm64":  # macOS on Apple silicon: dot-product always present
        flags = {"asimddp"}
    found = tuple(f for f in FAST_INT8_FLAGS if f in flags)
    return Int8Support(fast=bool(found), flags=found)


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may really use: its affinity mask, capped by a cgroup CPU quota
    (``docker --cpus=2`` on a 16-core host leaves 16 CPUs visible and 2 usable)."""
    import math
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs granted by the cgroup (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), None if unlimited."""
    try:
        quota, _, period = (root / "cpu.max").read_text(encoding="ascii").strip().partition(" ")
        return None if quota == "max" else int(quota) / int(period or "100000")
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def session_threads(threads: int, cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Intra-op threads for an onnxruntime session: ``threads`` when set; otherwise 0 (its
    own choice, one per physical core) unless this process may use fewer CPUs than the
    machine has, where onnxruntime's choice would put several spinning threads on each."""
    import os

    if threads > 0:
        return threads
    usable = usable_cpus(cgroup)
    return usable if usable < (os.cpu_count() or usable) else 0
