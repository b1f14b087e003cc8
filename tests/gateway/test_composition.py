"""The composition root (issue 19): ``Services`` is built whole, once; no part of it is an
Optional filled in after construction, and the parts that share an object share the one
``Services`` shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.app import Services, build_services
from gateway.config import Settings

pytestmark = pytest.mark.asyncio


async def test_services_is_built_whole_and_its_parts_share_what_it_shows(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path / "data"))
    try:
        required = {
            f.name
            for f in dataclasses.fields(Services)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        assert {"spool", "presence", "feedback", "programmes", "live", "device_notifier"} <= required
        loudspeaker = services.channels["loudspeaker"]
        assert loudspeaker.live is services.live  # type: ignore[attr-defined]
        assert loudspeaker.notifier is services.device_notifier  # type: ignore[attr-defined]
        assert services.dispatcher.renderer is services.renderer
        assert services.programmes.compiler.renderer is services.renderer
    finally:
        await services.engine.dispose()
