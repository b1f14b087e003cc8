"""The console as an officer used to the vendor portals meets it, in Chromium: the approver
approves with eyes open on a phone, edits are never lost, every page of every role reads
in Vietnamese, fits 360 px without sideways scrolling and has no serious or critical
accessibility violation (axe-core, injected into the page)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
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
    r"|case_reply|case_transcript|approve_skip|sms_mo|opt_out|daily|template_create|template_update"
    r"|group_create|group_add|group_remove)\b|\\u[0-9a-fA-F]{4}"
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
        for title in ("Họp dân thôn Một", "Bản tin sáng"):  # one waits for approval, one airs daily
            body = {"title": title, "body": "Họp lúc 8 giờ.", "targets": [{"channel": "file", "area": "T1"}]}
            made.append(editor.post("/api/v1/bulletins", json=body, headers=h).json()["id"])
            assert editor.post(f"/api/v1/bulletins/{made[-1]}/submit", headers=h).status_code == 200
    with httpx.Client(base_url=base) as approver:
        h = {"X-CSRF-Token": approver.post("/api/v1/auth/login", json={"username": "duyet", "password": PASSWORD})
             .json()["csrf_token"]}  # fmt: skip
        assert approver.post(f"/api/v1/bulletins/{made[3]}/approve", headers=h).status_code == 200
        daily = {"run_at": datetime.now(UTC).isoformat(), "recurrence": "daily 06:00,17:00"}
        assert approver.post(f"/api/v1/bulletins/{made[3]}/schedule", json=daily, headers=h).status_code == 200
    with httpx.Client(base_url=base) as admin:
        r = admin.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        h = {"X-CSRF-Token": r.json()["csrf_token"]}
        phones = {"area": "T1", "phones": ["0912345678", "0912345679"]}
        assert admin.post("/api/v1/subscribers", json=phones, headers=h).status_code < 300
        r = admin.post("/nhom", data={"csrf_token": h["X-CSRF-Token"], "name": "Trưởng thôn"})
        group = r.headers["location"]
        admin.post(f"{group}/them", data={"csrf_token": h["X-CSRF-Token"], "phones": "0912345678"})
    yield {
        "base": base, "draft": made[0], "submitted": made[1], "ticket": ticket.json()["ticket"], "root": root,
        "waiting": made[2], "daily": made[3], "group": group,
    }  # fmt: skip
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
        "/audit", "/admin", "/account", "/khong-co-trang-nay", "/lich", "/mau", "/nhom", gateway["group"],
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


def test_the_week_schedule_is_a_calendar_on_a_desk_and_a_day_list_on_a_phone(
    gateway: dict[str, Any], browser: Any
) -> None:
    for width in (1366, 360):
        context = browser.new_context(viewport={"width": width, "height": 900 if width > 400 else 740})
        page = context.new_page()
        page.goto(f"{gateway['base']}/lich")
        login(page, "duyet")
        assert page.url.endswith("/lich")
        days = page.locator("#week section.day")
        assert days.count() == 7
        tops = {round(days.nth(i).bounding_box()["y"]) for i in range(7)}  # type: ignore[index]
        lefts = {round(days.nth(i).bounding_box()["x"]) for i in range(7)}  # type: ignore[index]
        if width > 400:
            assert len(tops) == 1 and len(lefts) == 7  # seven columns side by side
        else:
            assert len(lefts) == 1 and len(tops) == 7  # one day under the other
            assert page.evaluate("document.documentElement.scrollWidth") <= 361
        today = page.locator("#week section.day[aria-current=date]")
        assert "hôm nay" in today.inner_text()
        recurring = page.locator(f"#recurring .recurrence:has(a[href='/bulletins/{gateway['daily']}'])")
        assert "hằng ngày lúc 06:00, 17:00" in recurring.inner_text()
        shot(page, f"lich-{width}")
        if width == 360:  # pause from the phone, then resume: back on the calendar each time
            recurring.locator("button:text-is('Tạm dừng')").click()
            page.wait_for_selector(f"#recurring .recurrence.paused:has(a[href='/bulletins/{gateway['daily']}'])")
            assert "/lich?tuan=" in page.url
            box = page.locator("#recurring button:text-is('Tiếp tục')").bounding_box()
            assert box and box["height"] >= 44  # thumb-size
            page.locator("#recurring button:text-is('Tiếp tục')").click()
            page.wait_for_selector("#recurring button:text-is('Tạm dừng')")
        page.click("a:text-is('Tuần sau ›')")
        assert "Không có lịch phát." in page.locator("#week").inner_text() or page.locator(".slot").count() > 0
        page.click("a:text-is('Hôm nay')")
        assert page.locator("#week section.day[aria-current=date]").count() == 1
        context.close()


def test_approvers_see_the_queue_and_an_administrator_edits_a_template_the_composer_uses(
    gateway: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{gateway['base']}/login")
    login(page, "duyet")
    assert int(page.locator("#menu-waiting").inner_text().split()[0]) >= 1  # the badge in the menu
    queue = page.locator("#cho-duyet")
    link = queue.locator(f"a[href='/bulletins/{gateway['waiting']}']")
    assert "Họp dân thôn Một" in link.inner_text()
    box = link.bounding_box()
    assert box and box["height"] >= 44 and box["x"] + box["width"] <= 360
    shot(page, "cho-duyet-360")
    context.close()
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{gateway['base']}/mau")
    login(page, "admin")
    card = page.locator(".card:has(h2:text('Họp dân'))")
    card.locator("summary").click()
    card.locator("input[name=title]").fill("Mời họp dân thôn")
    card.locator("button:text-is('Lưu mẫu')").click()
    page.wait_for_selector("#saved:text('Đã lưu mẫu.')")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "mau-1366")
    page.goto(f"{gateway['base']}/bulletins/new")
    page.click("#notices a:text-is('Họp dân')")
    assert page.locator("input[name=title]").input_value() == "Mời họp dân thôn"
    context.close()


def test_an_officer_fills_a_group_and_imports_an_excel_file_on_a_phone(
    gateway: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{gateway['base']}/nhom")
    login(page, "bientap")
    page.fill("#new-group input[name=name]", "Cộng tác viên y tế")
    page.click("#new-group button")
    page.wait_for_selector("h1:text('Nhóm Cộng tác viên y tế')")
    page.fill("#add-members textarea", "0912345679\n0900")
    page.click("#add-members button")
    page.wait_for_selector("#add-result")
    assert "Đã thêm 1 số, 1 dòng không nhận" in page.locator("#add-result").inner_text()
    assert "+84912345679" in page.locator("#members").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 361
    shot(page, "nhom-360")
    book = openpyxl.Workbook()
    for row in (("Số điện thoại", "Mã địa bàn"), (913111222, "T1"), ("0913 111 223", "T9")):
        book.active.append(row)
    sheet = tmp_path / "danh-sach.xlsx"
    book.save(sheet)
    page.goto(f"{gateway['base']}/subscribers")
    page.set_input_files("#import input[type=file]", str(sheet))
    page.click("#import button")
    page.wait_for_selector("#import-result")
    result = page.locator("#import-result").inner_text()
    assert "Thêm mới 1 số" in result and "không có địa bàn mã 'T9'" in result
    assert page.evaluate("document.documentElement.scrollWidth") <= 361
    shot(page, "nhap-excel-360")
    context.close()


def test_the_bulletin_page_counts_what_was_delivered_per_channel(gateway: dict[str, Any], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{gateway['base']}/bulletins/{gateway['daily']}")
    login(page, "vanhanh")
    for _ in range(60):  # aired at once on the file channel, its audio rendered first
        if page.locator("#delivery-stats .stat-delivered").count():
            if page.locator("#delivery-stats .stat-delivered").first.inner_text() == "1":
                break
        page.wait_for_timeout(2000)
        page.reload()
    row = page.locator("#delivery-stats tbody tr").first
    assert "Tệp âm thanh" in row.inner_text() and "1 (100% đã nhận)" in row.inner_text()
    assert page.locator("#delivery-stats th").all_inner_texts()[:5] == [
        "Kênh",
        "Đã nhận",
        "Lỗi",
        "Đang chờ",
        "Không rõ kết quả",
    ]
    page.close()
