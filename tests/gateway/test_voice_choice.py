"""Voice and speed chosen in the composer, and "Nghe thử": one sentence synthesized on the
live lane before submitting, in a configured voice only, rate-limited per user."""

from __future__ import annotations

import io
import re

import pytest
import soundfile as sf
from sqlalchemy import select

from gateway.db.models import Bulletin, Render
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_console_pages import console, csrf_of

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)]
TEXT = "Xin mời bà con đến họp. Câu thứ hai không được đọc thử vì chỉ đọc một câu."


async def test_a_sentence_is_read_in_the_chosen_voice_and_speed_and_sampling_is_rate_limited(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}

    async def seconds(text: str, speed: float) -> float:
        r = await editor.post("/api/v1/preview/audio", json={"text": text, "speed": speed}, headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text
        samples, rate = sf.read(io.BytesIO(r.content))
        return len(samples) / rate

    slow, fast = await seconds(TEXT, 0.8), await seconds(TEXT, 1.2)
    assert slow > fast * 1.2  # the speed is the voice's own (espeak-ng words per minute)
    assert await seconds("Xin mời bà con đến họp.", 1.2) == pytest.approx(fast, abs=0.05)  # one sentence only

    for body, field in (
        ({"text": TEXT, "voice": "giong-chua-cai"}, "voice"),  # configured voices only
        ({"text": TEXT, "speed": 0.85}, "speed"),
        ({"text": TEXT, "speed": 3}, "speed"),
        ({"text": "...", "speed": 1.0}, "text"),
    ):
        r = await editor.post("/api/v1/preview/audio", json=body, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)
    for _ in range(3):  # six samples a minute: three were heard above
        await seconds(TEXT, 1.0)
    r = await editor.post("/api/v1/preview/audio", json={"text": TEXT}, headers=h)
    assert r.status_code == 429 and "hãy chờ" in r.json()["errors"][0]["message"]
    approver, acsrf = users["duyet"]  # per user: another officer is not held up
    r = await approver.post("/api/v1/preview/audio", json={"text": TEXT}, headers={"X-CSRF-Token": acsrf})
    assert r.status_code == 200


async def test_the_composer_offers_installed_voices_and_speeds_and_renders_at_the_chosen_speed(
    gateway: Gateway,
) -> None:
    await seed(gateway)
    client = await console(gateway, "bientap")
    page = (await client.get("/bulletins/new")).text
    voices = re.search(r'<select name="voice" id="voice">(.*?)</select>', page, re.S)
    assert voices and 'value="vi-espeak"' in voices[1]
    assert re.search(r'<select name="speed" id="speed">.*value="1.1".*</select>', page, re.S)
    assert 'id="listen-btn"' in page and "Nghe thử" in page
    form = {"csrf_token": csrf_of(page), "title": "Họp dân", "body": TEXT, "targets": ["file:T1"], "speed": "1.2"}
    r = await client.post("/bulletins/new", data=form)
    url = r.headers["location"].split("?")[0]
    bid = int(url.rsplit("/", 1)[1])
    page = (await client.get(url)).text
    assert re.search(r'<option value="1.2" selected>', page)
    bad = await client.post(f"{url}/edit", data={**form, "csrf_token": csrf_of(page), "voice": "khong-co"})
    assert "error=" in bad.headers["location"]
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None and bulletin.speech_speed == 1.2
        await gateway.services.renderer.render(s, bulletin)
        fast = (await s.execute(select(Render.duration_seconds).where(Render.bulletin_id == bid))).scalars().first()
    normal = {**form, "csrf_token": csrf_of(page), "speed": "1.0"}
    assert "error" not in (await client.post(f"{url}/edit", data=normal)).headers["location"]
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None
        await gateway.services.renderer.render(s, bulletin)
        query = select(Render.duration_seconds).where(Render.bulletin_id == bid, Render.version == bulletin.version)
        slower = (await s.execute(query)).scalars().first()
    assert fast is not None and slower is not None and slower > fast * 1.1
