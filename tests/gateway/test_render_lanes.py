"""Synthesis lanes (issue 19): a prompt a caller waits for never queues behind bulletin
renders, and a pronunciation change swaps in a new synthesizer without cancelling the
renders the old one is running."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.bulletins.pronunciations import Pronunciations
from gateway.bulletins.render import Renderer
from gateway.storage.artifacts import ArtifactStore
from tts.cache import PhraseCache

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]
LONG = " ".join(f"Thông báo thứ {n}: trạm y tế xã tiêm phòng dại sáng thứ hai." for n in range(1, 41))


def _renderer(root: Path) -> Renderer:
    return Renderer(ArtifactStore(root / "artifacts"), Pronunciations(root / "p.tsv"), PhraseCache(root / "pc"))


def _held(started: threading.Event, release: threading.Event) -> Callable[[int, int], None]:
    """A progress callback that holds the render after its first phrase until released."""

    def progress(done: int, total: int) -> None:
        started.set()
        release.wait(60)

    return progress


async def test_a_pronunciation_change_swaps_the_synthesizer_without_cancelling_a_running_render(
    tmp_path: Path,
) -> None:
    renderer = _renderer(tmp_path)
    old = await renderer.synthesizer("vi-espeak")
    started, release = threading.Event(), threading.Event()
    out = tmp_path / "long.wav"
    render = asyncio.create_task(old.arender(LONG, out, None, _held(started, release)))
    try:
        assert await asyncio.to_thread(started.wait, 60)
        renderer.pronunciations.put("UBND", "ủy ban nhân dân")
        new = await renderer.synthesizer("vi-espeak")
        assert new is not old and not old.closed  # still rendering
    finally:
        release.set()
    result = await render  # finished, not cancelled
    assert out.stat().st_size > 44 and result.duration_seconds > 10
    assert old.closed and not new.closed  # closed once its render ended


async def test_a_live_prompt_is_not_queued_behind_bulletin_renders(tmp_path: Path) -> None:
    renderer = _renderer(tmp_path)
    synth = await renderer.synthesizer("vi-espeak")
    gates = [(threading.Event(), threading.Event()) for _ in range(2)]  # both of the render lane's threads
    renders = [
        asyncio.create_task(synth.arender(f"Bản {n}. {LONG}", tmp_path / f"r{n}.wav", None, _held(s, r)))
        for n, (s, r) in enumerate(gates)
    ]
    try:
        for started, _ in gates:
            assert await asyncio.to_thread(started.wait, 60)
        live = await renderer.synthesizer("vi-espeak", "live")
        assert live is not synth
        prompt = tmp_path / "prompt.wav"
        await asyncio.wait_for(live.arender("Xin chào, đây là đường dây nóng của xã.", prompt), 30)
        assert prompt.stat().st_size > 44
    finally:
        for _, release in gates:
            release.set()
        await asyncio.gather(*renders)
