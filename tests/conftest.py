"""Shared fixtures: paths to the shared corpus and vietTTS reference data."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.smsc import Smsc

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


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[Smsc]:
    """An independent SMSC (smpp34.Server) on a free loopback port."""
    server = Smsc()
    await server.start()
    yield server
    await server.stop()
