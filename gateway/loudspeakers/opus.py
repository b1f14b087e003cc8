"""Opus frames for RTP (RFC 7587): ffmpeg's libopus encoder writes 20 ms frames in an Ogg
stream (RFC 7845); the Ogg pages are taken apart here into the Opus packets, one per RTP
payload. The RTP clock of Opus is always 48 kHz (RFC 7587 §4.1), whatever the audio
bandwidth, so each 20 ms packet advances the timestamp by 960."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
BITRATE = "32k"  # speech on a PA speaker: wideband, well under G.722's 64 kbit/s


class OggError(ValueError):
    pass


def ogg_packets(data: bytes) -> list[bytes]:
    """The packets of an Ogg bitstream (RFC 3533 §6): each page's lacing values cut its
    body into segments; a value under 255 ends a packet, 255 continues it (also across pages)."""
    packets: list[bytes] = []
    partial = bytearray()
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS" or pos + 27 > len(data):
            raise OggError(f"no Ogg page at byte {pos}")
        count = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + count]
        body = pos + 27 + count
        for size in lacing:
            partial += data[body : body + size]
            body += size
            if size < 255:
                packets.append(bytes(partial))
                partial.clear()
        if body > len(data):
            raise OggError("the last Ogg page is cut short")
        pos = body
    return packets


def opus_frames(pcm48k: np.ndarray) -> list[bytes]:
    """16-bit mono PCM at 48 kHz -> Opus packets of 20 ms each, ready for RTP."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("mã hóa Opus cần ffmpeg (apt-get install ffmpeg)")
    command = [
        exe,
        "-v",
        "error",
        "-f",
        "s16le",
        "-ar",
        str(RATE),
        "-ac",
        "1",
        "-i",
        "-",
        "-c:a",
        "libopus",
        "-b:a",
        BITRATE,
        "-vbr",
        "constrained",
        "-frame_duration",
        "20",
        "-application",
        "audio",
        "-f",
        "ogg",
        "-",
    ]
    result = subprocess.run(command, input=pcm48k.astype("<i2").tobytes(), capture_output=True, check=True)
    packets = ogg_packets(result.stdout)
    # RFC 7845 §5: the identification and comment headers come first; they are not audio.
    return [p for p in packets if not p.startswith((b"OpusHead", b"OpusTags"))]
