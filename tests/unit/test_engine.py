from __future__ import annotations

import asyncio
import time
import tracemalloc
from pathlib import Path

import numpy as np

from tests.conftest import CORPUS, need_shared
from tts.cache import PhraseCache
from tts.engine import Synthesizer, split_long
from tts.render import RenderSettings
from tts.text.normalizer import Phrase
from tts.voices.base import Audio, VoiceInfo
from tts.voices.registry import load_voice


class CountingVoice:
    """The real espeak voice, counting calls (to observe look-ahead, not to fake audio)."""

    def __init__(self) -> None:
        self.inner = load_voice("vi-espeak")
        self.info: VoiceInfo = self.inner.info
        self.thread_safe = False
        self.calls = 0

    def synthesize(self, text: str) -> Audio:
        self.calls += 1
        return self.inner.synthesize(text)


TEXT = "Câu một. Câu hai. Câu ba. Câu bốn. Câu năm. Câu sáu. Câu bảy. Câu tám."


def test_stream_yields_first_audio_before_synthesizing_the_rest() -> None:
    voice = CountingVoice()
    synth = Synthesizer(voice, lookahead=2)  # type: ignore[arg-type]
    stream = synth.stream(TEXT)
    first = next(stream)
    assert first.index == 0 and first.total == 8 and first.audio.size > 0
    assert voice.calls <= 3
    rest = list(stream)
    assert [c.index for c in rest] == list(range(1, 8)) and voice.calls == 8
    synth.close()


def test_chunks_end_with_the_phrase_pause() -> None:
    synth = Synthesizer(load_voice())
    chunk = next(synth.stream("Xin chào."))
    tail = chunk.audio[-int(0.4 * chunk.sample_rate) :]
    assert np.all(tail == 0) and chunk.speech_seconds > 0.2


def test_cache_serves_repeated_phrases(tmp_path: Path) -> None:
    voice = CountingVoice()
    cache = PhraseCache(tmp_path)
    synth = Synthesizer(voice, cache=cache)  # type: ignore[arg-type]
    first = [c.audio for c in synth.stream(TEXT)]
    again = [c for c in Synthesizer(voice, cache=PhraseCache(tmp_path)).stream(TEXT)]  # type: ignore[arg-type]
    assert voice.calls == 8 and all(c.cached for c in again)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b.audio)


def test_long_phrases_are_cut_so_cost_stays_linear() -> None:
    words = " ".join(["xin"] * 95)
    parts = split_long([Phrase(words, 450, True)], max_words=30)
    assert [len(p.text.split()) for p in parts] == [30, 30, 30, 5]
    assert parts[-1].pause_ms == 450 and parts[-1].sentence_end and not parts[0].sentence_end
    quick = split_long([Phrase(words, 450, True)], max_words=30, first_words=5)
    assert [len(p.text.split()) for p in quick] == [5, 30, 30, 30]  # first_words=5 here


def test_astream_keeps_the_event_loop_free() -> None:
    synth = Synthesizer(load_voice())
    text = " ".join([TEXT] * 4)

    async def main() -> tuple[int, float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        count = 0
        async for _chunk in synth.astream(text):
            count += 1
        done.set()
        await task
        return count, max(gaps)

    count, worst_gap = asyncio.run(main())
    assert count == 32
    assert worst_gap < 0.2  # synthesis ran in worker threads, not on the loop


def test_render_memory_stays_bounded_for_a_long_bulletin(tmp_path: Path) -> None:
    text = need_shared(CORPUS / "pleiku-thong-tin-co-so-2022.txt").read_text(encoding="utf-8") * 2
    synth = Synthesizer(load_voice())
    tracemalloc.start()
    result = synth.render(text, tmp_path / "long.ulaw", RenderSettings())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.duration_seconds > 900  # a quarter of an hour of audio
    whole_file_bytes = result.duration_seconds * synth.sample_rate * 4
    assert peak < 40e6 and peak < whole_file_bytes / 3
    assert (tmp_path / "long.ulaw").stat().st_size == int(result.duration_seconds * 8000)
