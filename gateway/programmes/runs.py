"""A programme run being rendered: the claim that says who renders it (a token per
attempt, so a slow attempt that lost the run settles nothing) and where its files are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def work_dir(store_root: Path, run_id: int) -> Path:
    """Where a run's attempts are rendered; removed when the run is settled."""
    return store_root / "programme-runs" / str(run_id)


def preview_file(store_root: Path, run_id: int, renderer: str) -> Path:
    """The MP3 that grows while an attempt renders its first pass (what the officer can
    listen to before the programme is done)."""
    return work_dir(store_root, run_id) / renderer / "pass-1" / "programme.mp3"


@dataclass(frozen=True)
class Claim:
    """A run this caller renders, and the token that proves it still does."""

    run_id: int
    renderer: str
