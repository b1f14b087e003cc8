"""Listening to a programme while it renders: the first pass's MP3 grows in the run's
work directory, and a listener is sent what is there, then what comes, until the end
marker appears or the work directory is removed (the compile finished; an open file
is still read to its end). A file that stops growing without either (the compiling
process died) ends the stream after ``idle_limit``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from gateway.programmes.assemble import DONE_SUFFIX

CHUNK = 64 * 1024


async def open_when_there(path: Path, within: float, poll: float = 0.2) -> BinaryIO | None:
    """The growing file, opened as soon as it exists (the voice may still be loading)."""
    waited = 0.0
    while True:
        try:
            return await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            if waited >= within:
                return None
        await asyncio.sleep(poll)
        waited += poll


async def follow(fh: BinaryIO, path: Path, poll: float = 0.2, idle_limit: float = 120.0) -> AsyncIterator[bytes]:
    done = path.with_name(path.name + DONE_SUFFIX)

    def finished() -> bool:
        return done.exists() or not path.parent.exists()

    idle = 0.0
    try:
        while True:
            chunk = await asyncio.to_thread(fh.read, CHUNK)
            if chunk:
                idle = 0.0
                yield chunk
                continue
            if await asyncio.to_thread(finished):
                while rest := await asyncio.to_thread(fh.read, CHUNK):  # written before the marker
                    yield rest
                return
            if idle >= idle_limit:
                return
            await asyncio.sleep(poll)
            idle += poll
    finally:
        fh.close()
