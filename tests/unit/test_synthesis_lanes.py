"""Synthesis lanes (issue 19): live work (IVR prompts, previews) never queues behind
bulletin renders, and a pronunciation edit swaps synthesizers without killing renders."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.bulletins.pronunciations import Pronunciations
from gateway.bulletins.render import PURPOSES, Renderer
from gateway.ivr.prompts import Prompts
from gateway.storage.artifacts import ArtifactStore
from tts.cache import PhraseCache
from tts.render import RenderResult

pytestmark = pytest.mark.asyncio
VOICE = "vi-espeak"


def long_text(tag: str, sentences: int = 160) -> str:
    """Distinct sentences (no phrase cache hits): several seconds of espeak work."""
    return " ".join(f"Câu số {n} của bản tin {tag} nói về lịch cắt điện thôn {n % 7}." for n in range(sentences))


def renderer(tmp_path: Path) -> Renderer:
    return Renderer(
        ArtifactStore(tmp_path / "store"), Pronunciations(tmp_path / "p.tsv"), PhraseCache(tmp_path / "cache")
    )


async def start_render(r: Renderer, tmp_path: Path, tag: str) -> tuple[asyncio.Task[RenderResult], asyncio.Event]:
    """A long bulletin render in the render lane; the event is set once it has made progress."""
    synth = await r.synthesizer(VOICE, "render")
    began = asyncio.Event()
    loop = asyncio.get_running_loop()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(began.set)

    _, settings = PURPOSES["telephone"]
    task = asyncio.create_task(synth.arender(long_text(tag), tmp_path / f"{tag}.ulaw", settings, progress))
    return task, began


async def test_a_prompt_is_ready_while_two_long_renders_run(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    (first, began_first), (second, began_second) = [await start_render(r, tmp_path, t) for t in ("a", "b")]
    await began_first.wait()
    await began_second.wait()
    prompts = Prompts(r, tmp_path / "sounds", VOICE)
    path = await prompts.path("Bấm phím một để nghe bản tin của thôn")
    # The caller heard the prompt while both renders were still going: it did not queue behind them.
    assert not first.done() and not second.done()
    results = await asyncio.gather(first, second)
    assert (await asyncio.to_thread(Path(path + ".ulaw").stat)).st_size > 0
    assert all(res.duration_seconds > 30 for res in results)


async def test_a_pronunciation_edit_during_a_render_does_not_fail_it(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    render, began = await start_render(r, tmp_path, "c")
    await began.wait()
    r.pronunciations.put("UBND", "ủy ban nhân dân")
    preview = await r.spoken_text(VOICE, "UBND xã")  # the edit is seen: new synthesizers swapped in
    assert preview.startswith("ủy ban nhân dân")
    assert not render.done()
    result = await render  # the old synthesizer finished the render it had started
    assert result.duration_seconds > 30
    fresh = await r.synthesizer(VOICE, "render")
    _, settings = PURPOSES["telephone"]
    again = await fresh.arender("UBND xã thông báo.", tmp_path / "after.ulaw", settings)
    assert "ủy ban nhân dân" in again.spoken_text


async def test_espeak_stops_a_phrase_when_live_work_waits_and_says_so() -> None:
    """espeak-ng's synth callback contract: returning 1 aborts the synthesis. A render
    phrase is stopped that way for a prompt, and reported, never returned cut short."""
    from tts.voices.base import SynthesisYielded
    from tts.voices.espeak import EspeakVoice

    voice = EspeakVoice()
    text = "một hai ba bốn năm sáu bảy tám chín mười " * 3
    whole = voice.synthesize(text)
    blocks = 0

    def after_two_blocks() -> bool:
        nonlocal blocks
        blocks += 1
        return blocks > 2

    with pytest.raises(SynthesisYielded):
        voice.synthesize(text, yield_to=after_two_blocks)
    assert blocks == 3
    again = voice.synthesize(text, yield_to=lambda: False)  # espeak-ng varies by a few samples run to run
    assert abs(len(again) - len(whole)) < 0.02 * len(whole)


async def test_a_render_interrupted_by_prompts_keeps_every_phrase(tmp_path: Path) -> None:
    """Phrases stopped for a prompt are synthesized again: the render says all of it."""
    text = long_text("d", 40)
    _, settings = PURPOSES["telephone"]
    quiet_synth = await renderer(tmp_path / "quiet").synthesizer(VOICE, "render")
    quiet = await quiet_synth.arender(text, tmp_path / "quiet.ulaw", settings)
    busy = renderer(tmp_path / "busy")
    render = await busy.synthesizer(VOICE, "render")
    task = asyncio.create_task(render.arender(text, tmp_path / "busy.ulaw", settings))
    prompts = Prompts(busy, tmp_path / "sounds", VOICE)
    for n in range(5):
        await prompts.path(f"Bấm phím {n} để nghe bản tin")
    result = await task
    assert result.phrases == quiet.phrases and result.spoken_text == quiet.spoken_text
    assert abs(result.duration_seconds - quiet.duration_seconds) < 0.02 * quiet.duration_seconds
