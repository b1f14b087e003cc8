"""The onnxruntime session every ONNX voice runs on, tuned for phrase-by-phrase synthesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts.voices.base import VoiceError
from tts.voices.cpu import session_threads


def onnx_session(path: Path, threads: int = 0, spinning: bool = False) -> Any:
    """A CPU session for ``path``; ``threads`` 0 lets onnxruntime choose, within the CPUs
    this process may use (affinity, cgroup quota: ``tts.voices.cpu.session_threads``). ``spinning`` keeps
    idle intra-op threads busy-waiting: faster on an otherwise idle machine (measured by
    ``loa voices tune``), wasteful when phrases already run in parallel on few cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    threads = session_threads(threads)
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    # Every phrase has a new shape: per-shape memory patterns cost more than they save.
    options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise VoiceError(f"không nạp được mô hình {path.name}: {exc}") from exc
