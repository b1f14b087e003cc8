"""Content-addressed artifact store on local disk (a shared directory in scale-out)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Artifact

MEDIA_TYPES = {
    "wav": "audio/wav",
    "ulaw": "audio/basic",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
}


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def usable(self) -> bool:
        """Whether new artifacts can be written now (the folder exists and is writable)."""
        return self.root.is_dir() and os.access(self.root, os.W_OK)

    def path_for(self, sha256: str, ext: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{ext}"

    def put_file(self, source: Path, ext: str) -> tuple[str, Path, int]:
        """Move ``source`` into the store under its sha256; returns (sha256, path, size)."""
        digest = hashlib.sha256()
        with source.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        sha = digest.hexdigest()
        target = self.path_for(sha, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            source.unlink()
        else:
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.move(str(source), tmp)
            os.replace(tmp, target)
        return sha, target, target.stat().st_size


async def record(session: AsyncSession, sha256: str, path: Path, size: int, ext: str) -> None:
    """The row of a stored file, added once per content (a render may repeat an earlier one)."""
    if await session.get(Artifact, sha256) is None:
        media = MEDIA_TYPES.get(ext, "application/octet-stream")
        session.add(Artifact(sha256=sha256, path=str(path), size=size, media_type=media))
