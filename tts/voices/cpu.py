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
