"""Shared fixtures: paths to the shared corpus and vietTTS reference data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LOA_SHARED_DIR", ROOT.parent / "shared"))
VIETTTS = SHARED / "fixtures" / "viettts"
CORPUS = SHARED / "corpus"


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared reference data not present: {path}")
    return path


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is required (make test installs the Debian package)")
    return exe


@pytest.fixture(autouse=True)
def _isolated_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed voices go to a per-test folder, never the developer's models/."""
    monkeypatch.setenv("LOA_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
