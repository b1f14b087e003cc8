"""Synthesis lanes (issue 19): how long an IVR prompt takes to synthesize while a
20-minute bulletin renders, against the same prompts on an idle engine. Target: within
1.5 x. Anchor, same run: the prompts through the render lane's own synthesizer during the
render, which is how every prompt was synthesized before the lanes.

Voice: espeak-ng (built in; it serializes its calls process-wide, the hardest case for a
live lane). Each prompt is a distinct text (no phrase cache hits), rendered as the IVR does
(G.711 μ-law file, telephone loudness).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tts.engine import Synthesizer

PROMPTS = 5
ROUNDS = 4
VOICE = "vi-espeak"
SENTENCE = "Thông báo số {n}: thôn {v} họp bàn việc sửa đường liên xã vào tối nay, bà con đến đúng giờ."


def twenty_minutes() -> str:
    """About 3,000 words: 20 minutes at espeak's 150 words a minute."""
    return " ".join(SENTENCE.format(n=n, v=n % 9) for n in range(160))


async def _prompts(synth: Synthesizer, root: Path, tag: str, count: int) -> list[float]:
    from gateway.bulletins.render import PURPOSES

    _, settings = PURPOSES["telephone"]
    seconds = []
    for n in range(count):
        text = f"Bấm phím {n % 10} để nghe bản tin của thôn số {n} {tag}"
        start = time.perf_counter()
        await synth.arender(text, root / f"{tag}-{n}.ulaw", settings)
        seconds.append(time.perf_counter() - start)
        await asyncio.sleep(0.05)  # callers arrive one after another, not all at once
    return seconds


def _signal(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(event.set)

    return progress


async def _run(root: Path) -> dict[str, float]:
    """Rounds of: prompts on the idle engine, then a 20-minute render starts and prompts go
    through the live lane, then through the render's own synthesizer (the anchor). Rounds
    alternate so that a change in the machine's load hits both sides alike."""
    from gateway.bulletins.pronunciations import Pronunciations
    from gateway.bulletins.render import PURPOSES, Renderer
    from gateway.storage.artifacts import ArtifactStore
    from tts.cache import PhraseCache

    renderer = Renderer(ArtifactStore(root / "store"), Pronunciations(root / "p.tsv"), PhraseCache(root / "cache"))
    live = await renderer.synthesizer(VOICE, "live")
    render = await renderer.synthesizer(VOICE, "render")
    await _prompts(live, root, "warm", 3)
    _, settings = PURPOSES["telephone"]
    idle: list[float] = []
    busy: list[float] = []
    anchor: list[float] = []
    overlapped = 0
    duration = 0.0
    loop = asyncio.get_running_loop()
    for n in range(ROUNDS):
        idle += await _prompts(live, root, f"idle{n}", PROMPTS)
        began = asyncio.Event()
        task = asyncio.create_task(
            render.arender(twenty_minutes() + f" {n}", root / f"{n}.ulaw", settings, _signal(loop, began))
        )
        await began.wait()
        busy += await _prompts(live, root, f"busy{n}", PROMPTS)
        anchor += await _prompts(render, root, f"anchor{n}", PROMPTS)
        overlapped += not task.done()
        duration = (await task).duration_seconds
    # Second anchor, once: two renders at once (a bulletin and a programme, say) in one
    # synthesizer, as before the lanes: both of its I/O threads are taken, so the prompt
    # waits for a whole render.
    renders = [
        asyncio.create_task(render.arender(twenty_minutes() + f" two{k}", root / f"two{k}.ulaw", settings))
        for k in range(2)
    ]
    await asyncio.sleep(0.5)
    two = await _prompts(render, root, "two", 1)
    await asyncio.gather(*renders)
    return {
        "two": two[0],
        "idle": statistics.median(idle),
        "busy": statistics.median(busy),
        "anchor": statistics.median(anchor),
        "render_s": duration,
        "overlapped": overlapped,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_run(Path(tmp)))
    ratio = r["busy"] / r["idle"]
    anchor = r["anchor"] / r["idle"]
    minutes = r["render_s"] / 60
    print(f"\n== synthesis lanes: an IVR prompt while a {minutes:.0f}-minute bulletin renders ({VOICE}) ==")
    print(f"  {ROUNDS} rounds of {PROMPTS} prompts each way, medians:")
    print(f"  idle engine:                      median {r['idle'] * 1000:7.1f} ms")
    ended = ROUNDS - r["overlapped"]
    overlap = f"  (the render ended first in {ended:.0f} rounds)" if ended else ""
    print(f"  live lane, render running:        median {r['busy'] * 1000:7.1f} ms  ratio {ratio:.2f} x{overlap}")
    print(f"  anchor: render lane's synthesizer median {r['anchor'] * 1000:7.1f} ms  ratio {anchor:.2f} x")
    two = r["two"] / r["idle"]
    print(f"  anchor: 2 renders, 1 synthesizer  one prompt {r['two'] * 1000:7.1f} ms  ratio {two:.1f} x")
    print(f"  target within 1.5 x: {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
