"""Prompts and bulletins as files Asterisk plays.

Flows give prompts as text; Loa renders each once with its voice into G.711 μ-law at
8 kHz (``.ulaw``, what a G.711 trunk plays without transcoding, reference/telephony.md
§2.6) under the sounds directory shared with Asterisk, named by a hash of voice and text,
so a changed prompt is a new file and an unchanged one is never rendered again.
Bulletins' telephone renders are linked there too. AGI commands name files by absolute
path without extension (``asterisk_media = "shared"``: the directory is Asterisk's too), or
by a signed URL Asterisk fetches them from (``"http"``: gateway/ivr/media.py; the directory
is then Loa's own).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from gateway.bulletins.render import PURPOSES, Renderer
from gateway.ivr.media import MediaLinks

DIGIT_WORDS = {
    "0": "không",
    "1": "một",
    "2": "hai",
    "3": "ba",
    "4": "bốn",
    "5": "năm",
    "6": "sáu",
    "7": "bảy",
    "8": "tám",
    "9": "chín",
}


class Prompts:
    def __init__(self, renderer: Renderer, sounds_dir: Path, voice: str, links: MediaLinks | None = None) -> None:
        self.renderer = renderer
        self.sounds_dir = sounds_dir
        self.voice = voice
        self.links = links  # None: Asterisk reads sounds_dir itself
        self._locks: dict[str, asyncio.Lock] = {}
        (sounds_dir / "prompts").mkdir(parents=True, exist_ok=True)
        (sounds_dir / "bulletins").mkdir(parents=True, exist_ok=True)

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.voice}\n{text}".encode()).hexdigest()[:24]

    def _name(self, kind: str, base: Path, suffix: str) -> str:
        """What STREAM FILE names: the absolute path without extension, or the signed URL."""
        return self.links.url(kind, base.name + suffix) if self.links is not None else str(base)

    async def path(self, text: str) -> str:
        """The prompt's file (absolute, no extension) or URL, rendered on first use."""
        base = self.sounds_dir / "prompts" / self._key(text)
        target = base.with_suffix(".ulaw")
        if target.exists():
            return self._name("prompts", base, ".ulaw")
        lock = self._locks.setdefault(base.name, asyncio.Lock())
        async with lock:
            if not target.exists():
                synth = await self.renderer.synthesizer(self.voice, "live")  # never behind a render
                _, settings = PURPOSES["telephone"]
                with tempfile.TemporaryDirectory(dir=self.sounds_dir) as tmp:
                    out = Path(tmp) / "prompt.ulaw"
                    await synth.arender(text, out, settings)
                    await asyncio.to_thread(os.replace, out, target)
        self._locks.pop(base.name, None)
        return self._name("prompts", base, ".ulaw")

    async def digit(self, digit: str) -> str:
        return await self.path(DIGIT_WORDS[digit])

    async def warm(self, texts: list[str]) -> None:
        for text in texts:
            await self.path(text)
        for digit in DIGIT_WORDS:
            await self.digit(digit)

    async def bulletin(self, artifact: Path) -> str:
        """Place a bulletin's telephone render where Asterisk reads it, or Loa serves it (a
        hard link when the sounds directory is on the same disk, a copy otherwise)."""
        base = self.sounds_dir / "bulletins" / artifact.stem
        target = base.with_suffix(artifact.suffix)
        if not target.exists():
            lock = self._locks.setdefault(str(target), asyncio.Lock())
            async with lock:  # many callers asking for the same new bulletin at once
                if not target.exists():
                    await asyncio.to_thread(_link_or_copy, artifact, target)
        return self._name("bulletins", base, artifact.suffix)


def _link_or_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
