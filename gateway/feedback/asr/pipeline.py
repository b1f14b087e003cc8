"""A recording -> a transcript: decode, check, resample to the backend's rate, split at
pauses, recognize each piece. Blocking; the transcription queue runs it off the loop."""

from __future__ import annotations

from pathlib import Path

from gateway.feedback.asr import audio, vad
from gateway.feedback.asr.base import Backend, Transcript, normalize


def transcribe_clip(backend: Backend, clip: audio.Clip, max_segment_s: float = 25.0) -> Transcript:
    audio.check(clip)
    rate = backend.capabilities.sample_rate
    samples = audio.resample(clip.samples, clip.rate, rate)
    pieces = vad.segments(samples, rate, max_seconds=max_segment_s)
    if not pieces:
        raise audio.AudioProblem("silent", "không nghe thấy tiếng nói trong bản ghi")
    found = []
    for piece in pieces:
        text = backend.transcribe(samples[int(piece.start * rate) : int(piece.end * rate)])
        if text:
            found.append((round(piece.start, 2), round(piece.end, 2), text))
    raw = " ".join(text for _, _, text in found)
    return Transcript(raw, normalize(raw), clip.seconds, backend.name, found)


def transcribe_file(backend: Backend, path: Path) -> Transcript:
    return transcribe_clip(backend, audio.load(path))
