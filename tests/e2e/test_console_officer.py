"""The console as an officer used to the vendor portals meets it, in Chromium: the approver
approves with eyes open on a phone, edits are never lost, every page of every role reads
in Vietnamese, fits 360 px without sideways scrolling and has no serious or critical
accessibility violation (axe-core, injected into the page)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import admin_password, free_port, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "mat-khau-dai-1"
ROLES = {"admin": "admin", "editor": "bientap", "approver": "duyet", "operator": "vanhanh"}
INTERNAL = re.compile(
    r"\b(file|loudspeaker|call|sms|province|commune|village|programme_compiled|deliver_end|render_start"
    r"|change_password|device_create|import_source_add|programme_add|schedule_cancel|subscribers_add"
    r"|case_reply|case_transcript|approve_skip|sms_mo|opt_out)\b|\\u[0-9a-fA-F]{4}"
)
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest("script,style,template")) continue;
    const inOption = el.closest("option");
    if (!inOption) {
      const style = getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden" || !el.getClientRects().length) continue;
    }
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  document.querySelectorAll("input[placeholder],textarea[placeholder]").forEach(e => out.push(e.placeholder));
  out.push(document.title);
  return out;
}"""
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", "")  # a folder: the run also saves the screenshots of docs/console.md


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A served gateway with areas, one user per role, a draft, a submitted bulletin and a case."""
    root = tmp_path_factory.mktemp("officer")
    port, log = free_port(), root / "serve.log"
    proc = start_server(root / "data", port, log)
    base = f"http://127.0.0.1:{port}"
    first = admin_password(log)
    with httpx.Client(base_url=base) as admin:
        csrf = admin.post("/api/v1/auth/login", json={"username": "admin", "password": first}).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        assert admin.post("/api/v1/me/password", json={"current_password": first, "new_password": PASSWORD}, headers=h)
        for code, name, level, parent in (
            ("XA", "Xã Hòa Bình", "commune", None),
            ("T1", "Thôn Một", "village", "XA"),
        ):
            area = {"code": code, "name": name, "level": level, "parent": parent}
            r = admin.post("/api/v1/areas", json=area, headers=h)
            assert r.status_code == 201, r.text
        for device in (
            {"code": "CUM-T1-01", "name": "Cụm loa đầu thôn Một", "area": "T1"},
            {"code": "LAN-XA-01", "name": "Loa hội trường xã", "area": "XA", "kind": "rtp",
             "rtp_address": "239.10.0.1:5004"},
        ):  # fmt: skip
            assert admin.post("/api/v1/devices", json=device, headers=h).status_code == 201
        for role, username in ROLES.items():
            if role != "admin":
                user = {"username": username, "role": role, "password": PASSWORD, "full_name": f"Ông {username}"}
                assert admin.post("/api/v1/users", json=user, headers=h).status_code == 201
    with httpx.Client(base_url=base) as editor:
        r = editor.post("/api/v1/auth/login", json={"username": "bientap", "password": PASSWORD})
        csrf = r.json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        made = []
        for title in ("Lịch cắt điện", "Tiêm phòng dại"):
            body = {"title": title, "body": "Đoạn một: 7h30 sáng thứ hai.\n\nĐoạn hai: mang theo sổ.", "targets": [
                {"channel": "file", "area": "T1"}, {"channel": "loudspeaker", "area": "XA"}]}
            made.append(editor.post("/api/v1/bulletins", json=body, headers=h).json()["id"])
        assert editor.post(f"/api/v1/bulletins/{made[1]}/submit", headers=h).status_code == 200
        ticket = editor.post("/api/v1/cases", json={"text": "Đèn đường hỏng", "caller": "0912345678"}, headers=h)
    yield {"base": base, "draft": made[0], "submitted": made[1], "ticket": ticket.json()["ticket"], "root": root}
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def login(page: Any, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_approver_opens_the_link_on_a_phone_and_approves_with_eyes_open(gateway: dict[str, Any], browser: Any) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    link = f"{gateway['base']}/bulletins/{gateway['submitted']}"
    page.goto(link)  # the link sent to the approver
    assert "/login?next=" in page.url
    login(page, "duyet")
    assert page.url == link  # the link survived the login
    targets = page.locator("#targets").inner_text()
    assert "Tệp âm thanh" in targets and "Thôn Một" in targets and "1 tệp âm thanh" in targets
    assert "Loa truyền thanh" in targets and "Xã Hòa Bình" in targets
    assert "2 cụm loa/thiết bị" in targets  # the commune's and its village's
    said = page.locator("#said")
    assert said.locator("p:text('Đoạn một')").count() == 1 and said.locator("p:text('Đoạn hai')").count() == 1
    assert "khoảng" in page.locator("#duration").inner_text()
    page.wait_for_selector("#said audio", timeout=90_000)  # made at submission; the page reloads itself
    assert "ước tính" not in page.locator("#duration").inner_text()  # the real duration now
    approve = page.locator("button:text-is('Duyệt')")
    box = approve.bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= 640  # no scrolling to reach it
    assert page.locator("#approve-bar button:text-is('Trả lại')").bounding_box()["y"] <= 640  # type: ignore[index]
    shot(page, "duyet-360")
    approve.click()
    page.wait_for_selector(".status:text('Đã duyệt')")
    context.close()


def test_editor_saves_before_submitting_and_is_warned_before_losing_changes(
    gateway: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{gateway['base']}/bulletins/{gateway['draft']}")
    login(page, "bientap")
    page.fill("input[name=title]", "Lịch cắt điện (đổi sang thứ ba)")
    page.click("button:text('Lưu và gửi duyệt')")
    page.wait_for_selector("#saved:text('Đã lưu')")
    assert "Lịch cắt điện (đổi sang thứ ba)" in page.locator("h1").inner_text()
    assert page.locator(".status").inner_text() == "Chờ duyệt"
    page.goto(f"{gateway['base']}/bulletins/new")
    shot(page, "soan-1366")
    page.locator("input[name=title]").press_sequentially("Họp dân")
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.accept()
    context.close()


def test_every_page_of_every_role_reads_vietnamese_fits_360_px_and_passes_axe(
    gateway: dict[str, Any], browser: Any
) -> None:
    assert AXE.exists(), "make test installs axe-core into node_modules (npm install --no-save axe-core@4)"
    axe = AXE.read_text(encoding="utf-8")
    pages = [
        "/", "/bulletins/new", f"/bulletins/{gateway['draft']}", f"/bulletins/{gateway['submitted']}",
        "/programmes", "/subscribers", "/cases", f"/cases/{gateway['ticket']}", "/reports", "/devices",
        "/audit", "/admin", "/account", "/khong-co-trang-nay",
    ]
    problems: list[str] = []
    for role, username in {"": "", **ROLES}.items():
        # axe is injected by the test, past the CSP; the page's own scripts stay under it
        context = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{gateway['base']}/login")
        if username:
            login(page, username)
        for path in pages if username else ["/login"]:
            page.goto(gateway["base"] + path)
            page.wait_for_load_state()
            where = f"{role or 'khách'} {path}"
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 361:
                problems.append(f"{where}: {width} px wide")
            broken = page.evaluate(
                "[...document.querySelectorAll('header nav a')].filter(a => a.getClientRects().length > 1"
                " || a.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(a).lineHeight || '20'))"
                ".map(a => a.textContent)"
            )
            problems += [f"{where}: menu label broken across lines: {label}" for label in broken]
            for text in page.evaluate(VISIBLE_TEXT):
                if INTERNAL.search(text):
                    problems.append(f"{where}: internal name in {text!r}")
            page.add_script_tag(content=axe)
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
            )
            problems += [f"{where}: axe {v}" for v in found]
            if role == "admin" and SHOTS and path in ("/", "/subscribers", "/devices"):
                shot(page, ("trang-chu" if path == "/" else path.strip("/")) + "-360")
        context.close()
    if SHOTS:  # the desktop views of docs/console.md
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{gateway['base']}/login")
        login(page, "duyet")
        for path, name in (("/", "trang-chu-1366"), (f"/bulletins/{gateway['draft']}", "duyet-1366")):
            page.goto(gateway["base"] + path)
            shot(page, name)
        page.close()
    assert not problems, "\n".join(problems)


def test_the_api_documentation_renders_with_no_internet(gateway: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(gateway["base"]):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{gateway['base']}/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Loa gateway')")
    assert page.locator(".opblock").count() > 10  # the operations are listed
    assert outside == [] and page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    page.close()
