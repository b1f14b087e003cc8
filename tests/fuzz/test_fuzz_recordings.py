"""Residents' recordings as they come in (gateway/feedback/intake, gateway/feedback/asr/audio):
the file's header (RIFF/WAVE chunks with any sizes and formats, other containers, raw
telephone formats by extension), the caller's number and the file name beside it."""

from __future__ import annotations

import struct
import warnings

from hypothesis import given
from hypothesis import strategies as st

from gateway.bulletins.errors import WorkflowError
from gateway.feedback.asr.audio import AudioProblem, check, decode
from gateway.feedback.intake import EXTENSIONS
from gateway.phones import to_e164
from tests.fuzz.harness import TEST, survive, text

U16 = st.sampled_from([0, 1, 2, 3, 6, 7, 8, 16, 0xFFFE, 0xFFFF]) | st.integers(0, 0xFFFF)
U32 = st.sampled_from([0, 1, 8000, 44100, 0x7FFFFFFF, 0xFFFFFFFF]) | st.integers(0, 0xFFFFFFFF)


@st.composite
def wav(draw: st.DrawFn) -> bytes:
    fmt = struct.pack("<HHIIHH", draw(U16), draw(U16), draw(U32), draw(U32), draw(U16), draw(U16))
    fmt_size = draw(st.sampled_from([16, 18, 40, 0, 0xFFFFFFFF]))
    data = draw(st.binary(max_size=512))
    data_size = draw(st.sampled_from([len(data), 0, 0xFFFFFFFF]) | U32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt + b"data" + struct.pack("<I", data_size) + data
    riff = b"RIFF" + struct.pack("<I", draw(st.sampled_from([len(body), 0, 0xFFFFFFFF]))) + body
    cut = draw(st.none() | st.integers(0, len(riff)))
    return riff if cut is None else riff[:cut]


MAGIC = st.sampled_from([b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"FORM", b".snd", b"RIFX", b"caff"])
AUDIO = wav() | st.tuples(MAGIC, st.binary(max_size=300)).map(b"".join) | st.binary(max_size=300)
EXTENSION = st.sampled_from(EXTENSIONS) | st.sampled_from(["raw", "WAV", ".wav", "", "x"])


def _read(data: bytes, extension: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NaN or an empty mean is a crash too
        clip = decode(data, extension)
        clip.seconds  # noqa: B018
        check(clip)


@TEST
@given(AUDIO, EXTENSION)
def test_recording_headers_riff_wave_and_raw(data: bytes, extension: str) -> None:
    survive(_read, data, extension, allowed=(AudioProblem,))


@TEST
@given(text(max_size=24))
def test_recording_caller_number(caller: str) -> None:
    survive(to_e164, caller, "caller", allowed=(WorkflowError,))
