"""The Icecast source client against a real Icecast2 (Debian, run as its own user): a
bulletin's audio goes to a mount as paced MP3, ffmpeg listens as a resident's phone would,
and what it heard matches what was sent; a wrong password is refused with Icecast's answer."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gateway.loudspeakers.icecast import IcecastError, IcecastMount, stream, to_mp3
from tests.support.icecast import Icecast, start_icecast

RATE = 22050


@pytest.fixture
def icecast() -> Iterator[Icecast]:
    server = start_icecast()
    yield server
    server.stop()


def tone(path: Path, seconds: float = 5.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    signal = (0.4 * np.sin(2 * np.pi * (300 + 300 * t / seconds) * t)).astype(np.float32)
    sf.write(path, signal, RATE)
    return signal


@pytest.mark.asyncio
async def test_a_listener_hears_the_bulletin_on_the_mount(icecast: Icecast, tmp_path: Path, ffmpeg: str) -> None:
    source = tone(tmp_path / "bulletin.wav")
    mount = IcecastMount(f"http://127.0.0.1:{icecast.port}/loa.mp3", icecast.password)
    sending = asyncio.create_task(stream(mount, to_mp3(tmp_path / "bulletin.wav")))
    await asyncio.sleep(0.8)  # the mount exists once the source is connected
    heard = tmp_path / "heard.wav"
    listener = await asyncio.create_subprocess_exec(
        ffmpeg, "-v", "error", "-y", "-i", mount.url, "-t", "3", "-ac", "1", "-ar", str(RATE), str(heard)
    )
    assert await asyncio.wait_for(listener.wait(), 30) == 0
    elapsed = await sending
    assert 4.0 < elapsed < 6.5  # paced at the bitrate: live, not dumped at once
    audio, _ = sf.read(heard, dtype="float32")
    assert len(audio) >= RATE * 2.5
    # The listener joins mid-stream and MP3 is lossy: compare what can be compared, the
    # sweep's frequency in every half second heard and the level.
    half = RATE // 2
    for start in range(0, len(audio) - half, half):
        piece = audio[start : start + half]
        if np.sqrt(np.mean(piece**2)) < 0.05:
            continue  # the start of the stream
        peak = np.argmax(np.abs(np.fft.rfft(piece * np.hanning(half)))) * RATE / half
        assert 280 <= peak <= 620, peak
    level = 20 * np.log10(np.sqrt(np.mean(audio[audio != 0] ** 2)) / np.sqrt(np.mean(source**2)))
    assert abs(level) < 6


@pytest.mark.asyncio
async def test_a_wrong_source_password_is_refused(icecast: Icecast, tmp_path: Path) -> None:
    tone(tmp_path / "b.wav", 1.0)
    mount = IcecastMount(f"http://127.0.0.1:{icecast.port}/loa.mp3", "sai-mat-khau")
    with pytest.raises(IcecastError, match="401"):
        await stream(mount, to_mp3(tmp_path / "b.wav"))


def test_icecast_runs_as_its_own_user_not_root(icecast: Icecast) -> None:
    owner = subprocess.run(["ps", "-o", "user=", "-C", "icecast2"], capture_output=True, text=True).stdout.split()
    assert owner and set(owner) == {"icecast2"}
