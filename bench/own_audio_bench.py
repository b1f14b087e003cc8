"""Audio the officer brings: how long a 5-minute MP3 takes to decode and render (both
purposes), and how fast a small file claiming hours of silence is refused.

    PYTHONPATH=$PWD python -m bench.own_audio_bench
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from gateway.bulletins import own_audio
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.render import PURPOSES
from tts.render import render_samples


def _ffmpeg(out: Path, source: str, seconds: float, *codec: str) -> None:
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds), *codec, str(out)]
    subprocess.run(command, check=True, timeout=300)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mp3 = root / "five.mp3"
        _ffmpeg(mp3, "sine=frequency=300:sample_rate=44100,volume=0.1,vibrato=f=4", 300, "-b:a", "128k")
        start = time.perf_counter()
        decoded = own_audio.decode(mp3, mp3.name)
        decoded_at = time.perf_counter()
        for purpose, (ext, settings) in PURPOSES.items():
            r = render_samples(decoded.samples, own_audio.RATE, root / f"out.{ext}", settings)
            gain = f"input {r.input_loudness_lufs:.1f} LUFS, gain {r.gain_db:+.1f} dB"
            print(f"{purpose}: {r.duration_seconds:.1f} s, {gain}")
        done = time.perf_counter()
        print(f"decode {decoded_at - start:.2f} s, both renders {done - decoded_at:.2f} s for {decoded.seconds:.0f} s")
        ten = root / "s10.mp3"
        _ffmpeg(ten, "anullsrc=r=8000:cl=mono", 10, "-b:a", "8k", "-write_xing", "0", "-id3v2_version", "0")
        bomb = root / "bomb.mp3"
        bomb.write_bytes(ten.read_bytes() * 6 * 180)  # three hours of silence
        start = time.perf_counter()
        try:
            own_audio.decode(bomb, bomb.name)
        except WorkflowError as exc:
            size = bomb.stat().st_size / 2**20
            print(f"{size:.1f} MB, 3 h of silence refused in {time.perf_counter() - start:.2f} s: {exc.message}")


if __name__ == "__main__":
    main()
