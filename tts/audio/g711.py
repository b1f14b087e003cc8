"""G.711 μ-law and A-law encoders (ITU-T G.711), vectorised.

Asterisk's ``.ulaw`` / ``.alaw`` sound files are these bytes, headerless, at 8 kHz.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ULAW_BIAS = 0x84
_ULAW_CLIP_14 = 8159
_ULAW_BIAS_14 = 0x21


def _segment(magnitude: npt.NDArray[np.int32], base: int) -> npt.NDArray[np.int32]:
    """Index of the highest set bit above ``base`` (0..7): the G.711 segment number."""
    seg = np.zeros_like(magnitude)
    for bit in range(7, 0, -1):
        hit = (seg == 0) & (magnitude >= (base << bit))
        seg[hit] = bit
    return seg


def encode_ulaw(pcm: npt.NDArray[np.int16]) -> bytes:
    x = pcm.astype(np.int32) >> 2  # the G.711 reference works on 14-bit samples
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.minimum(np.where(x < 0, -x, x), _ULAW_CLIP_14) + _ULAW_BIAS_14, 0x1FFF)
    seg = _segment(mag, 0x20)
    mantissa = (mag >> (seg + 1)) & 0x0F
    return bytes((~(sign | (seg << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes())


def encode_alaw(pcm: npt.NDArray[np.int16]) -> bytes:
    x = pcm.astype(np.int32) >> 3  # A-law works on 13-bit samples
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.where(x >= 0, x, -x - 1)
    mag = np.minimum(mag, 0xFFF)
    seg = _segment(mag, 0x10)
    mantissa = np.where(seg == 0, mag >> 1, mag >> seg) & 0x0F
    return bytes((((sign | (seg << 4) | mantissa) ^ 0x55) & 0xFF).astype(np.uint8).tobytes())


def decode_ulaw(data: bytes) -> npt.NDArray[np.int16]:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, seg, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << seg) - _ULAW_BIAS
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def decode_alaw(data: bytes) -> npt.NDArray[np.int16]:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    sign, seg, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    mag = np.where(seg == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(seg - 1, 0))
    return np.where(sign != 0, mag, -mag).astype(np.int16)
