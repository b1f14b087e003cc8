"""The CPUs an onnxruntime session may use: the affinity mask and a container's cgroup CPU
quota, so that a voice in ``docker --cpus=2`` on a 16-core host runs 2 intra-op threads,
not 16 spinning on 2 CPUs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tts.voices import cpu


def _affinity(monkeypatch: pytest.MonkeyPatch, n: int, total: int = 16) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(n)))
    monkeypatch.setattr(os, "cpu_count", lambda: total)


def test_a_cgroup_v2_quota_caps_the_usable_cpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _affinity(monkeypatch, 16)
    (tmp_path / "cpu.max").write_text("150000 100000\n", encoding="ascii")
    assert cpu.usable_cpus(tmp_path) == 2  # 1.5 CPUs of time: two threads, not sixteen
    assert cpu.session_threads(0, tmp_path) == 2
    assert cpu.session_threads(3, tmp_path) == 3  # an explicit choice (loa voices tune) stands


def test_no_quota_leaves_onnxruntime_its_own_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _affinity(monkeypatch, 16)
    (tmp_path / "cpu.max").write_text("max 100000\n", encoding="ascii")
    assert cpu.usable_cpus(tmp_path) == 16
    assert cpu.session_threads(0, tmp_path) == 0


def test_a_cgroup_v1_quota_and_an_affinity_mask_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _affinity(monkeypatch, 4)
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n", encoding="ascii")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n", encoding="ascii")
    assert cpu.usable_cpus(tmp_path) == 4  # taskset -c 0-3: the mask decides
    assert cpu.session_threads(0, tmp_path) == 4
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n", encoding="ascii")
    assert cpu.usable_cpus(tmp_path) == 3
