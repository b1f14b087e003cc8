"""The composer's audio section in Chromium, at 1366 px and 360 px: an officer uploads a
recording, records one in the browser (MediaRecorder, a fake microphone), hears it, and
the approver's card plays it; the page fits 360 px and has no serious or critical axe
violation."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_console_officer import ARGS, AXE, CHROMIUM, PASSWORD, login, shot
from tests.support.server import admin_password, free_port, start_server

FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("audio")
    port, log = free_port(), root / "serve.log"
    proc = start_server(root / "data", port, log)
    base = f"http://127.0.0.1:{port}"
    first = admin_password(log)
    with httpx.Client(base_url=base) as admin:
        csrf = admin.post("/api/v1/auth/login", json={"username": "admin", "password": first}).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        assert admin.post("/api/v1/me/password", json={"current_password": first, "new_password": PASSWORD}, headers=h)
        area = {"code": "T1", "name": "Thôn Một", "level": "village", "parent": None}
        assert admin.post("/api/v1/areas", json=area, headers=h).status_code == 201
        for username, role in (("bientap", "editor"), ("duyet", "approver")):
            user = {"username": username, "role": role, "password": PASSWORD, "full_name": f"Bà {username}"}
            assert admin.post("/api/v1/users", json=user, headers=h).status_code == 201
    with httpx.Client(base_url=base) as editor:
        r = editor.post("/api/v1/auth/login", json={"username": "bientap", "password": PASSWORD})
        csrf = r.json()["csrf_token"]
        made = []
        for title in ("Thông báo họp dân", "Lịch tiêm phòng"):
            targets = [{"channel": "file", "area": "T1"}]
            body = {"title": title, "body": "Nội dung đọc thay bằng ghi âm.", "targets": targets}
            made.append(editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": csrf}).json()["id"])
    wav = root / "ghi-am-hop-dan.wav"
    source = "sine=frequency=300:sample_rate=44100,volume=0.3,vibrato=f=4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", "3", str(wav)], check=True)
    yield {"base": base, "upload": made[0], "record": made[1], "wav": wav}
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() or shutil.which("ffmpeg") is None:
        pytest.fail("Debian's chromium and ffmpeg are required (make test installs them)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *FAKE_MIC], headless=True)
        yield b
        b.close()


def _fits_and_passes_axe(page: Any) -> list[str]:
    problems: list[str] = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 361:
        problems.append(f"{width} px wide")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    problems += page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
    )
    return problems


@pytest.mark.parametrize("width", [1366, 360])
def test_editor_uploads_a_recording_hears_it_and_the_approver_plays_it(
    gateway: dict[str, Any], browser: Any, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=width == 360)
    page = context.new_page()
    page.goto(f"{gateway['base']}/bulletins/{gateway['upload']}")
    login(page, "bientap")
    section = page.locator("#own-audio")
    section.locator("input[type=file]").set_input_files(str(gateway["wav"]))
    section.locator("button:text-is('Tải lên')").click()
    page.wait_for_selector("#saved:text('Đã lưu')")
    assert "ghi-am-hop-dan.wav" in section.inner_text()
    player = section.locator("audio")
    assert player.count() == 1
    player.evaluate("a => a.play().catch(() => null)")
    page.wait_for_function("() => document.querySelector('#own-audio audio').readyState >= 2", timeout=30_000)
    assert player.evaluate("a => a.duration") == pytest.approx(3.0, abs=0.3)
    if width == 360:
        assert _fits_and_passes_axe(page) == []
        shot(page, "am-thanh-360")
        page.locator("button:text('Lưu và gửi duyệt')").click()
        page.wait_for_selector(".status:text('Chờ duyệt')")
        approver = context.browser.new_context(viewport={"width": 360, "height": 800})
        card = approver.new_page()
        card.goto(f"{gateway['base']}/bulletins/{gateway['upload']}")
        login(card, "duyet")
        assert "Âm thanh do cán bộ tải lên: ghi-am-hop-dan.wav" in card.locator("#said").inner_text()
        assert card.locator("#said audio").count() == 1
        approver.close()
    else:
        shot(page, "am-thanh-1366")
    context.close()


def test_editor_records_in_the_browser_and_the_recording_becomes_the_audio(
    gateway: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, permissions=["microphone"])
    page = context.new_page()
    page.goto(f"{gateway['base']}/bulletins/{gateway['record']}")
    login(page, "bientap")
    page.wait_for_selector("#recorder:not([hidden])")
    page.click("#rec-start")
    page.wait_for_selector("#rec-state:text('Đang ghi âm')")
    page.wait_for_timeout(2500)
    page.click("#rec-stop")
    page.wait_for_selector("#saved:text('Đã lưu')", timeout=60_000)
    text = page.locator("#own-audio").inner_text()
    assert "ghi-am.webm" in text or "ghi-am.ogg" in text, text
    assert page.locator("#own-audio audio").count() == 1
    context.close()
