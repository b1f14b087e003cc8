"""The vietTTS vocoder alone, fp32 against a fully int8 copy, pinned to N cores
(``python -m bench.vocoder_cores VOICE_DIR CLIP.wav --cores 2 --cores 16``).

The int8 copy is calibrated on three quarters of the clip's mel chunks and judged on the
rest; each core count runs in a fresh process pinned with ``sched_setaffinity``, fp32 and
int8 interleaved over 3 rounds (median). Anchor: fp32 in the same process and rounds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _measure(fp32: str, int8: str, mels: list[Any], cores: int, queue: Any) -> None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    from tts.voices.runtime import onnx_session

    sessions = {"fp32": onnx_session(Path(fp32), threads=cores), "int8": onnx_session(Path(int8), threads=cores)}
    for session in sessions.values():
        session.run(None, {"mel": mels[0]})
    frames = sum(m.shape[1] for m in mels)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(3):
        for name, session in sessions.items():
            start = time.perf_counter()
            for mel in mels:
                session.run(None, {"mel": mel})
            times[name].append(time.perf_counter() - start)
    seconds = frames * 256 / 16000
    queue.put({k: statistics.median(v) / seconds for k, v in times.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("voice", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--cores", type=int, action="append", default=[])
    args = parser.parse_args()
    import onnx

    from tts.voices.cpu import int8_support
    from tts.voices.viettts.calibration import recording_mels, split
    from tts.voices.viettts.quantize import _fidelity, named_vocoder, quantize_file, vocode_all

    print(int8_support().describe(), flush=True)
    calibration, held_out = split(recording_mels([args.clip], 16000))
    fp32 = args.voice / "vocoder.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        named, _ = named_vocoder(onnx.load(str(fp32)))
        source, int8 = Path(tmp) / "named.onnx", Path(tmp) / "int8.onnx"
        onnx.save(named, str(source))
        started = time.perf_counter()
        quantize_file(source, int8, calibration, [])
        refs, _ = vocode_all(fp32, held_out)
        fid = _fidelity(int8, held_out, refs, 16000)
        print(
            f"full int8 in {time.perf_counter() - started:.0f} s, on held-out clip mels:"
            f" log-mel {fid.log_mel_db:.2f} dB,"
            f" MR-STFT {fid.mrstft:.3f}, SNR {fid.snr_db:.1f} dB",
            flush=True,
        )
        ctx = mp.get_context("spawn")
        for cores in args.cores or [2]:
            queue = ctx.Queue()
            proc = ctx.Process(target=_measure, args=(str(fp32), str(int8), held_out, cores, queue))
            proc.start()
            rtf = queue.get(timeout=600)
            proc.join()
            print(
                f"  {cores:2d} cores: vocoder RTF fp32 {rtf['fp32']:.3f}, int8 {rtf['int8']:.3f}"
                f" ({rtf['fp32'] / rtf['int8']:.2f}x fp32)",
                flush=True,
            )


if __name__ == "__main__":
    main()
