"""The embedded default voice: espeak-ng Vietnamese, from the espeakng-loader wheel.

espeak-ng is fed Loa's normalized text (its own Vietnamese number reading is wrong:
it says "mười năm" for 15). The library keeps global state, so every call holds one
process-wide lock; the engine runs it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tts.voices.base import Audio, SynthesisYielded, VoiceError, VoiceInfo

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_PHONEMES_IPA = 0x02
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_EE_OK = 0

_LOCK = threading.RLock()
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Library:
    """The loaded libespeak-ng, initialised once per process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise VoiceError("thiếu gói espeakng-loader (pip install espeakng-loader)") from exc
        self.lib = ctypes.cdll.LoadLibrary(str(espeakng_loader.get_library_path()))
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(espeakng_loader.get_data_path()).encode(), 0
        )
        if rate <= 0:
            raise VoiceError("không khởi tạo được espeak-ng")
        self.sample_rate = int(rate)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._chunks: list[Any] = []
        self._yield_to: Callable[[], bool] | None = None
        self._yielded = False
        self._callback = _SYNTH_CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self._voice = b""

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        if self._yield_to is not None and self._yield_to():
            self._yielded = True
            return 1  # espeak-ng's callback contract: 1 aborts the synthesis
        return 0

    def set_voice(self, name: str) -> None:
        encoded = name.encode()
        if encoded != self._voice:
            if self.lib.espeak_SetVoiceByName(encoded) != _EE_OK:
                raise VoiceError(f"espeak-ng không có giọng '{name}'")
            self._voice = encoded

    def synth(self, text: str, voice: str, rate: int, pitch: int, yield_to: Callable[[], bool] | None = None) -> Audio:
        self.set_voice(voice)
        self.lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
        self.lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data)
        self._chunks = []
        self._yield_to, self._yielded = yield_to, False
        try:
            status = self.lib.espeak_Synth(buf, len(data), 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)
        finally:
            self._yield_to = None
        if self._yielded:
            self._chunks = []
            raise SynthesisYielded(text)
        if status != _EE_OK:
            raise VoiceError(f"espeak-ng lỗi khi tổng hợp (mã {status})")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = []
        return (pcm.astype(np.float32) / 32768.0).astype(np.float32)

    def phonemes(self, text: str, voice: str) -> str:
        """IPA phonemes of ``text`` clause by clause (tones stay as digits)."""
        self.set_voice(voice)
        data = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        pointer = ctypes.c_void_p(ctypes.addressof(data))
        parts: list[str] = []
        while pointer.value:
            out = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _ESPEAK_CHARS_UTF8, _ESPEAK_PHONEMES_IPA)
            if out:
                parts.append(out.decode("utf-8", errors="replace"))
        return " ".join(p.strip() for p in parts if p.strip())


_library: _Library | None = None


def library() -> _Library:
    global _library
    with _LOCK:
        if _library is None:
            _library = _Library()
        return _library


def phonemize(text: str, voice: str = "vi") -> str:
    with _LOCK:
        return library().phonemes(text, voice)


class EspeakVoice:
    """espeak-ng Vietnamese (``vi-espeak``), the voice that works with no model files."""

    thread_safe = False
    interruptible = True  # synthesize(text, yield_to=...): stops between audio blocks

    def __init__(self, info: VoiceInfo | None = None) -> None:
        settings = dict(info.settings) if info else {}
        with _LOCK:
            rate = library().sample_rate
        self.info = info or VoiceInfo(
            id="vi-espeak",
            kind="espeak",
            name="espeak-ng tiếng Việt",
            sample_rate=rate,
            settings={"espeak_voice": "vi", "rate_wpm": 150, "pitch": 50},
        )
        if self.info.sample_rate != rate:
            self.info = VoiceInfo(**{**self.info.__dict__, "sample_rate": rate})
        self.espeak_voice = str(settings.get("espeak_voice", self.info.settings.get("espeak_voice", "vi")))
        self.rate = int(settings.get("rate_wpm", self.info.settings.get("rate_wpm", 150)))
        self.pitch = int(settings.get("pitch", self.info.settings.get("pitch", 50)))

    def synthesize(self, text: str, yield_to: Callable[[], bool] | None = None) -> Audio:
        """With ``yield_to``: stops with :class:`SynthesisYielded` as soon as it returns True
        (checked after each block of audio, a few milliseconds of work)."""
        with _LOCK:
            return library().synth(text, self.espeak_voice, self.rate, self.pitch, yield_to)
