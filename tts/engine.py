"""The Synthesizer: bulletin text in, streamed phrase audio or a finished file out.

- Text is normalized into phrases (see :mod:`tts.text`); phrases longer than
  ``max_words`` are cut at word boundaries so cost stays linear in bulletin length.
- Phrases are synthesized in a bounded thread pool, ``lookahead`` phrases ahead of the
  consumer: the first audio is ready after one phrase, and memory holds only a few
  phrases at a time.
- Phrase audio is cached by (voice, text, settings).
- :meth:`Synthesizer.astream` and :meth:`Synthesizer.arender` keep all CPU work off the
  event loop.
- Lanes: a ``live`` synthesizer (IVR prompts, previews, first phrases) and a ``render`` one
  (bulletins, programmes) have pools of their own, and a render-lane phrase does not
  start while live work waits (:mod:`tts.lanes`), so a prompt is not queued behind a
  20-minute render.
- :meth:`Synthesizer.close` retires: work already started finishes, then the pools go.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts.audio.effects import Audio, silence, trim_silence
from tts.cache import PhraseCache, cache_key
from tts.lanes import LANES, LIVE_FIRST
from tts.render import RenderResult, RenderSettings, render_to_file
from tts.text.normalizer import Normalizer, Phrase
from tts.voices.base import SynthesisYielded, Voice

MAX_PHRASE_WORDS = 30
FIRST_CHUNK_WORDS = 6
SPLIT_PAUSE_MS = 80


@dataclass(frozen=True)
class Chunk:
    """One phrase of audio (speech then its pause) at ``sample_rate``."""

    index: int
    total: int
    text: str
    audio: Audio
    sample_rate: int
    speech_seconds: float
    synthesis_seconds: float
    cached: bool
    final: bool = True  # False for the leading pieces of a phrase streamed in parts


def split_long(
    phrases: list[Phrase], max_words: int = MAX_PHRASE_WORDS, first_words: int | None = None
) -> list[Phrase]:
    """Cut phrases longer than ``max_words`` at word boundaries; with ``first_words``, also
    cut the first phrase after that many words so streaming playback starts sooner."""
    out: list[Phrase] = []
    for index, phrase in enumerate(phrases):
        words = phrase.text.split()
        head = first_words if index == 0 and first_words and len(words) > 2 * first_words else None
        if len(words) <= max_words and head is None:
            out.append(phrase)
            continue
        sizes = [head] if head else []
        rest = len(words) - sum(sizes)
        sizes += [max_words] * (rest // max_words) + ([rest % max_words] if rest % max_words else [])
        start = 0
        for n, size in enumerate(sizes):
            last = n == len(sizes) - 1
            out.append(
                Phrase(
                    " ".join(words[start : start + size]),
                    phrase.pause_ms if last else SPLIT_PAUSE_MS,
                    phrase.sentence_end and last,
                )
            )
            start += size
    return out


def voice_fingerprint(voice: Voice) -> str:
    info = voice.info
    blob = json.dumps(
        [info.id, info.kind, info.sample_rate, info.files, info.settings],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Synthesizer:
    """Thread-safe; one instance per voice is enough for a whole process."""

    def __init__(
        self,
        voice: Voice,
        normalizer: Normalizer | None = None,
        cache: PhraseCache | None = None,
        workers: int = 2,
        lookahead: int = 3,
        max_words: int = MAX_PHRASE_WORDS,
        first_chunk_words: int | None = FIRST_CHUNK_WORDS,
        lane: str = "live",
        voice_lock: threading.Lock | None = None,
    ) -> None:
        if lane not in LANES:
            raise ValueError(f"lane: phải là một trong {', '.join(LANES)}, không phải {lane!r}")
        self.voice = voice
        self.lane = lane
        self.normalizer = normalizer or Normalizer()
        self.cache = cache
        self.workers = max(1, workers if voice.thread_safe else 1)
        self.lookahead = max(1, lookahead)
        self.max_words = max_words
        self.first_chunk_words = first_chunk_words
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"loa-tts-{lane}")
        self._async_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"loa-tts-{lane}-io")
        self._voice_lock = voice_lock or threading.Lock()  # shared by lanes over one voice
        self._fingerprint = voice_fingerprint(voice)
        self._users = 0
        self._closing = False
        self._state = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.voice.info.sample_rate

    def close(self) -> None:
        """Retire: streams and renders already started run to their end, then the pools
        shut down; new work is refused."""
        with self._state:
            self._closing = True
            idle = self._users == 0
        if idle:
            self._shutdown()

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=False)
        self._async_pool.shutdown(wait=False)

    def _enter(self) -> None:
        with self._state:
            if self._closing and self._users == 0:
                raise RuntimeError("synthesizer: đã đóng, không nhận việc mới")
            self._users += 1

    def _leave(self) -> None:
        with self._state:
            self._users -= 1
            idle = self._closing and self._users == 0
        if idle:
            self._shutdown()

    # --- text ------------------------------------------------------------------------
    def plan(self, text: str) -> list[Phrase]:
        return split_long(self.normalizer.phrases(text), self.max_words, self.first_chunk_words)

    def spoken_text(self, text: str) -> str:
        """What will be said, for the officer's preview."""
        return self.normalizer.normalize(text)

    def spoken_marks(self, text: str) -> list[list[dict[str, str | None]]]:
        """Per line, each run of spoken words with the written text and the class that rewrote it."""
        return [
            [{"written": r.written, "spoken": r.spoken, "class": r.cls} for r in line]
            for line in self.normalizer.explain(text)
        ]

    # --- audio -----------------------------------------------------------------------
    def _phrase_audio(self, phrase: Phrase) -> tuple[Audio, float, bool]:
        key = cache_key(self._fingerprint, phrase.text, {})
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit, 0.0, True
        start = time.perf_counter()
        audio = self._voice_audio(phrase.text)
        audio = trim_silence(np.asarray(audio, dtype=np.float32), self.sample_rate)
        elapsed = time.perf_counter() - start
        if self.cache is not None:
            self.cache.put(key, audio)
        return audio, elapsed, False

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        """Live phrases announce themselves; render phrases wait until none is pending."""
        if self.lane == "live":
            return LIVE_FIRST.live()
        LIVE_FIRST.wait_for_render()
        return contextlib.nullcontext()

    def _voice_audio(self, text: str) -> Audio:
        if self.lane == "live":
            with LIVE_FIRST.live():
                return self._synthesize(text)
        interruptible = getattr(self.voice, "interruptible", False)
        while True:
            LIVE_FIRST.wait_for_render()
            try:
                return self._synthesize(text, LIVE_FIRST.waiting if interruptible else None)
            except SynthesisYielded:  # a live phrase came: it goes first, this one again after
                continue

    def _synthesize(self, text: str, yield_to: Callable[[], bool] | None = None) -> Audio:
        if yield_to is not None:
            with self._voice_lock:
                return self.voice.synthesize(text, yield_to=yield_to)  # type: ignore[call-arg]
        if self.voice.thread_safe:
            return self.voice.synthesize(text)
        with self._voice_lock:
            return self.voice.synthesize(text)

    def stream(self, text: str, on_progress: Callable[[int, int], None] | None = None) -> Iterator[Chunk]:
        """Phrase chunks in order, synthesized ``lookahead`` phrases ahead.

        With a voice that can stream a phrase (``synthesize_stream``), the first phrase
        arrives in pieces (``final`` False until its last piece), so playback starts after
        a fraction of a second of audio is ready.
        """
        self._enter()
        try:
            yield from self._stream(text, on_progress)
        finally:
            self._leave()

    def _stream(self, text: str, on_progress: Callable[[int, int], None] | None) -> Iterator[Chunk]:
        phrases = self.plan(text)
        total = len(phrases)
        pending: deque[tuple[int, Phrase, Future[tuple[Audio, float, bool]]]] = deque()
        next_index = 0
        try:
            if total and hasattr(self.voice, "synthesize_stream"):
                yield from self._stream_first(phrases[0], total, on_progress)
                next_index = 1
            while next_index < total or pending:
                # The first phrase runs alone so it gets every core: first audio sooner.
                window = 1 if next_index == 0 else self.lookahead
                while next_index < total and len(pending) < window:
                    phrase = phrases[next_index]
                    pending.append((next_index, phrase, self._pool.submit(self._phrase_audio, phrase)))
                    next_index += 1
                index, phrase, future = pending.popleft()
                speech, seconds, cached = future.result()
                audio = np.concatenate([speech, silence(phrase.pause_ms / 1000, self.sample_rate)])
                if on_progress is not None:
                    on_progress(index + 1, total)
                yield Chunk(
                    index, total, phrase.text, audio, self.sample_rate, speech.size / self.sample_rate, seconds, cached
                )
        finally:
            for _, _, future in pending:
                future.cancel()

    def _stream_first(
        self, phrase: Phrase, total: int, on_progress: Callable[[int, int], None] | None
    ) -> Iterator[Chunk]:
        key = cache_key(self._fingerprint, phrase.text, {})
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            yield Chunk(
                0,
                total,
                phrase.text,
                np.concatenate([hit, silence(phrase.pause_ms / 1000, self.sample_rate)]),
                self.sample_rate,
                hit.size / self.sample_rate,
                0.0,
                True,
            )
        else:
            pieces: queue.Queue[Audio | BaseException | None] = queue.Queue()

            def produce() -> None:
                try:
                    with self._turn():
                        for piece in self.voice.synthesize_stream(phrase.text):  # type: ignore[attr-defined]
                            pieces.put(np.asarray(piece, dtype=np.float32))
                    pieces.put(None)
                except BaseException as exc:  # handed to the consumer thread
                    pieces.put(exc)

            start = time.perf_counter()
            self._pool.submit(produce)
            pieces_done = []
            while (item := pieces.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                pieces_done.append(item)
                yield Chunk(
                    0,
                    total,
                    phrase.text,
                    item,
                    self.sample_rate,
                    item.size / self.sample_rate,
                    time.perf_counter() - start,
                    False,
                    final=False,
                )
            if self.cache is not None:
                self.cache.put(key, np.concatenate(pieces_done) if pieces_done else np.zeros(0, np.float32))
            yield Chunk(
                0,
                total,
                phrase.text,
                silence(phrase.pause_ms / 1000, self.sample_rate),
                self.sample_rate,
                0.0,
                time.perf_counter() - start,
                False,
            )
        if on_progress is not None:
            on_progress(1, total)

    async def astream(self, text: str) -> AsyncIterator[Chunk]:
        """:meth:`stream` for asyncio: every blocking step runs in a worker thread."""
        loop = asyncio.get_running_loop()
        self._enter()
        try:
            iterator = self._stream(text, None)
            sentinel = object()
            while True:
                chunk = await loop.run_in_executor(self._async_pool, next, iterator, sentinel)
                if chunk is sentinel:
                    return
                assert isinstance(chunk, Chunk)  # the iterator yields only Chunks
                yield chunk
        finally:
            self._leave()

    def render(
        self,
        text: str,
        path: Path,
        settings: RenderSettings | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> RenderResult:
        """A file of ``text``. In the live lane (a prompt: short) render phrases wait for the
        whole of it, its encoding and loudness pass included, not only its synthesis."""
        if self.lane == "live":
            with LIVE_FIRST.live():
                return render_to_file(self, text, path, settings or RenderSettings(), on_progress)
        return render_to_file(self, text, path, settings or RenderSettings(), on_progress)

    async def arender(
        self,
        text: str,
        path: Path,
        settings: RenderSettings | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> RenderResult:
        loop = asyncio.get_running_loop()
        self._enter()  # held from the submission on: a close() meanwhile lets this render finish
        try:
            return await loop.run_in_executor(self._async_pool, self.render, text, path, settings, on_progress)
        finally:
            self._leave()
