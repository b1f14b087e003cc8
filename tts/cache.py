"""Phrase audio cache keyed by (voice, text, settings), on disk with a size cap."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def cache_key(voice_fingerprint: str, text: str, settings: dict[str, Any]) -> str:
    blob = json.dumps([voice_fingerprint, text, settings], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class PhraseCache:
    """Float32 phrase audio in ``root/ab/<key>.npy``; oldest files go first past ``max_bytes``.

    A small in-memory LRU in front avoids re-reading phrases repeated within a bulletin.
    Writes are atomic (temp file, then rename), so a crash never leaves a torn entry.
    """

    def __init__(self, root: Path, max_bytes: int = 512 * 1024 * 1024, memory_items: int = 64) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._memory: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()
        self._writes = 0
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.hits += 1
                return self._memory[key]
        path = self._path(key)
        try:
            audio = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            with self._lock:
                self.misses += 1
            return None
        os.utime(path)
        self._remember(key, audio)
        with self._lock:
            self.hits += 1
        return np.asarray(audio, dtype=np.float32)

    def put(self, key: str, audio: npt.NDArray[np.float32]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with tmp.open("wb") as fh:
            np.save(fh, audio.astype(np.float32), allow_pickle=False)
        os.replace(tmp, path)
        self._remember(key, audio)
        with self._lock:
            self._writes += 1
            check = self._writes % 50 == 0
        if check:
            self.evict()

    def _remember(self, key: str, audio: npt.NDArray[np.float32]) -> None:
        with self._lock:
            self._memory[key] = audio
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def evict(self) -> None:
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.root.glob("*/*.npy")]
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
