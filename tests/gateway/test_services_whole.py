"""Issue 19, "while you are in the composition root": each process's state lives in its
``Services``, built whole by ``build_services``; two built in one process share none of it
(before, the loudspeaker schedule caches, the preview renders, the programme compiles, the
MP3 locks, the device tokens and the loaded voices were module globals, so a second gateway in the same
process, as in the scale-out tests, used the first one's)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.app import Services, build_services
from gateway.config import Settings

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]
PER_PROCESS = (
    "schedules",
    "previews",
    "compiles",
    "mp3_locks",
    "device_tokens",
    "live",
    "device_notifier",
    "spool",
    "renderer",
)


def _services(root: Path) -> Services:
    return build_services(Settings(data_dir=root))


async def test_two_services_built_in_one_process_share_no_state(tmp_path: Path) -> None:
    one, two = _services(tmp_path / "a"), _services(tmp_path / "b")
    try:
        for name in PER_PROCESS:
            assert getattr(one, name) is not getattr(two, name), name
        for field in dataclasses.fields(Services):  # built whole: nothing left to fill in later
            if field.name not in ("sms", "telephony", "media_links", "first_admin_password"):
                assert getattr(one, field.name) is not None, field.name
        # the loudspeaker channel and the device API read one cache per process
        assert one.channels["loudspeaker"].schedules is one.schedules  # type: ignore[attr-defined]
        one.schedules.upcoming[(1,)] = (1e18, [])
        one.previews.failed[7] = "hỏng"
        assert (1,) not in two.schedules.upcoming and 7 not in two.previews.failed
        # a voice instance (and the lock that serializes it) belongs to one renderer
        synth_one = await one.renderer.synthesizer("vi-espeak", "live")
        synth_two = await two.renderer.synthesizer("vi-espeak", "live")
        assert synth_one.voice is not synth_two.voice
        assert (await one.renderer.synthesizer("vi-espeak", "render")).voice is synth_one.voice
    finally:
        await one.engine.dispose()
        await two.engine.dispose()
