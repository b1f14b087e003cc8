"""The Vietnamese console in headless Chromium (Debian's binary, driven by Playwright):
an administrator sets up, an editor writes and previews, an approver approves and
schedules, and everyone sees the delivery."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port, one_time_password, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    root = tmp_path_factory.mktemp("console")
    port, log = free_port(), root / "serve.log"
    proc = start_server(root / "data", port, log)
    yield f"http://127.0.0.1:{port}", one_time_password(log), root
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (make test installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def login(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def logout(page) -> None:  # type: ignore[no-untyped-def]
    page.click("text=Đăng xuất")
    page.wait_for_selector("text=Đăng nhập")


def test_write_preview_approve_schedule_and_see_delivery(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, password, root = server
    page = browser.new_page()
    login(page, base, "admin", password)
    assert page.url.endswith("/account")  # the one-time password must be changed first
    page.fill("input[name=current_password]", password)
    page.fill("input[name=new_password]", "quan-tri-moi-2026")
    page.click("text=Đổi mật khẩu >> nth=-1")
    page.wait_for_selector("text=Đã đổi mật khẩu")
    page.goto(f"{base}/")
    assert page.url == f"{base}/"

    page.goto(f"{base}/admin")
    levels = {"commune": "Xã/phường", "village": "Thôn/tổ"}
    for code, name, level, parent in (("XA", "Xã Hòa Bình", "commune", ""), ("T1", "Thôn Một", "village", "XA")):
        form = page.locator("form[action='/admin/areas']")
        form.locator("input[name=code]").fill(code)
        form.locator("input[name=name]").fill(name)
        form.locator("select[name=level]").select_option(level)
        form.locator("select[name=parent]").select_option(parent)  # picked from the tree, not typed
        form.locator("button").click()
        page.wait_for_selector(f"text=({code}, {levels[level]})")
    for username, role in (("bientap", "editor"), ("duyet", "approver")):
        form = page.locator("form[action='/admin/users']")
        form.locator("input[name=username]").fill(username)
        form.locator("select[name=role]").select_option(role)
        form.locator("input[name=password]").fill("mat-khau-dai-1")
        form.locator("button").click()
        page.wait_for_selector(f"td:text-is('{username}')")
    form = page.locator("form[action='/admin/pronunciations']").last
    form.locator("input[name=written]").fill("Pleiku")
    form.locator("input[name=spoken]").fill("plây cu")
    form.locator("button").click()
    page.wait_for_selector("#pronunciations td:text-is('plây cu')")
    # The browser's own checks (minlength) stop this first; switch them off to see the server's message.
    page.evaluate("document.querySelector(\"form[action='/admin/users']\").noValidate = true")
    form = page.locator("form[action='/admin/users']")
    form.locator("input[name=username]").fill("ngan")
    form.locator("select[name=role]").select_option("editor")  # chosen explicitly: the list starts empty
    form.locator("input[name=password]").fill("ngan")
    form.locator("button").click()
    assert page.locator(".error").inner_text() == "Mật khẩu phải có ít nhất 10 ký tự."  # a sentence, no field name
    logout(page)

    login(page, base, "bientap", "mat-khau-dai-1")
    page.click("text=Soạn mới")
    page.fill("input[name=title]", "Lịch tiêm chủng")
    page.fill("textarea[name=body]", "Ngày 10/8, UBND xã tổ chức tiêm chủng từ 7h30 tại trạm y tế Pleiku.")
    assert page.locator("input[value='sms:T1']").count() == 0  # SMS is not configured on this gateway
    sms = "Tiêm chủng mở rộng cho trẻ dưới 5 tuổi lúc 7h30 ngày 10/8 tại trạm y tế xã, mang sổ tiêm."
    page.fill("textarea[name=sms_text]", sms)
    page.wait_for_selector("#sms-count:has-text('UCS-2')")
    assert "2 tin/người × 0 người nhận" in page.locator("#sms-count").inner_text()  # no subscribers yet
    page.click("#sms-count .sms-plain")  # the unaccented variant fits in one message
    page.wait_for_selector("#sms-count:has-text('GSM-7: 1 tin')")
    assert page.input_value("textarea[name=sms_text]").startswith("Tiem chung mo rong cho tre duoi 5 tuoi")
    page.click("#preview-btn")
    page.wait_for_selector("#spoken:has-text('bảy giờ ba mươi phút')")
    assert "ủy ban nhân dân xã" in page.locator("#spoken").inner_text()
    assert "trạm y tế plây cu" in page.locator("#spoken").inner_text()
    page.check("input[value='file:T1']")
    page.click("text=Lưu bản nháp")
    page.wait_for_selector("text=Bản nháp")
    page.click("button:text('Gửi duyệt')")
    page.wait_for_selector("text=Chờ duyệt")
    assert page.locator("button:text-is('Duyệt')").count() == 0  # an editor cannot approve
    bulletin_url = page.url
    logout(page)

    login(page, base, "duyet", "mat-khau-dai-1")
    page.goto(bulletin_url)
    page.click("button:text-is('Duyệt')")
    page.wait_for_selector("text=Đã duyệt")
    page.click("text=Lên lịch phát")
    page.wait_for_selector("text=Hoàn thành", timeout=60_000)
    assert page.locator("#deliveries").inner_text().count("Đã nhận") == 1
    assert page.locator("audio").count() == 1
    page.screenshot(path=str(root / "bulletin.png"), full_page=True)

    page.goto(f"{base}/audit")
    for action in ("Duyệt", "Lên lịch phát", "Phát xong"):
        assert page.locator(f"td:text-is('{action}')").count() >= 1
    page.goto(f"{base}/")
    assert page.locator("svg.chart rect").count() >= 1
    page.close()


def test_console_fits_a_phone_screen(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, root = server
    page = browser.new_page(viewport={"width": 360, "height": 640})
    login(page, base, "admin", "quan-tri-moi-2026")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1
    page.screenshot(path=str(root / "phone.png"))
    page.close()


def test_pages_need_a_login(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = server
    page = browser.new_page()
    page.goto(f"{base}/audit")
    assert page.url.endswith("/login?next=/audit")  # back to the page asked for once logged in
    page.close()


def test_officer_files_and_answers_a_case(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = server
    page = browser.new_page()
    login(page, base, "bientap", "mat-khau-dai-1")
    page.click("text=Phản ánh")
    page.fill("form[action='/cases'] textarea[name=text]", "Rác thải đổ trộm bốc mùi hôi ở đầu thôn")
    page.fill("form[action='/cases'] input[name=caller]", "0912 345 678")
    page.click("form[action='/cases'] button")
    page.wait_for_selector("h1:has-text('Phản ánh mã')")
    ticket = page.locator("h1").inner_text().split()[-1]
    assert "Môi trường" in page.locator("main").inner_text() and "+84912345678" in page.locator("main").inner_text()
    page.fill("input[name=assignee]", "Ban môi trường")
    page.click("button:text-is('Đã giao')")
    page.wait_for_selector("text=Giao cho: Ban môi trường")
    page.click("button:text-is('Đang xử lý')")
    page.fill("textarea[name=answer]", "Đã thu gom.")
    page.click("button:text-is('Đã trả lời')")
    page.wait_for_selector("text=Đã thu gom.")
    page.goto(f"{base}/cases?status=answered")
    assert page.locator(f"#cases a:text-is('{ticket}')").count() == 1
    page.close()


def test_officer_files_a_voice_message_and_reads_the_report(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, root = server
    import numpy as np
    import soundfile as sf

    t = np.arange(16000) / 8000
    recording = root / "tin-nhan-thoai.wav"
    sf.write(recording, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 8000, subtype="PCM_16")
    page = browser.new_page()
    login(page, base, "bientap", "mat-khau-dai-1")
    page.click("text=Phản ánh")
    form = page.locator("form[action='/cases/recording']")
    form.locator("input[name=audio]").set_input_files(str(recording))
    form.locator("input[name=caller]").fill("0987 654 321")
    form.locator("button").click()
    page.wait_for_selector("h1:has-text('Phản ánh mã')")
    assert page.locator("audio").count() == 1
    assert "chờ gỡ băng" in page.locator("#transcript-status").inner_text()  # no model installed here
    page.fill("textarea[name=transcript]", "Cống thoát nước thôn Hai bị tắc")
    page.click("button:text('Lưu nội dung')")
    page.wait_for_selector("#transcript-status:has-text('đã gỡ băng')")
    page.click("nav >> text=Báo cáo")
    page.wait_for_selector("#summary")
    assert "tiếp nhận" in page.locator("#summary").inner_text()
    assert page.locator("a:text('Tải Excel')").count() == 1
    page.close()


def test_administrator_registers_a_cluster_and_sees_it_on_the_dashboard(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = server
    page = browser.new_page()
    login(page, base, "admin", "quan-tri-moi-2026")  # changed on first login, earlier in this module
    page.click("nav >> text=Cụm loa")
    form = page.locator("form[action='/devices']")
    form.locator("input[name=code]").fill("CUM-T1-01")
    form.locator("input[name=name]").fill("Cụm loa đầu thôn Một")
    form.locator("button").click()
    page.wait_for_selector("#device-token")
    token = page.locator("#device-token").inner_text().strip()
    assert len(token) >= 24 and "loa speaker-agent" in page.locator("main").inner_text()
    page.goto(f"{base}/devices")
    row = page.locator("#devices tr:has-text('CUM-T1-01')")
    assert "mất liên lạc" in row.inner_text() and "chưa bao giờ" in row.inner_text()
    page.close()


def test_editor_imports_a_word_file_and_sees_what_was_removed(server: tuple[str, str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    base, _, root = server
    import docx

    document = docx.Document()
    document.add_paragraph("Thông báo lịch tiêm phòng dại")
    document.add_paragraph("Sáng thứ hai, trạm y tế xã tiêm phòng dại cho chó mèo tại nhà văn hóa thôn Một.")
    document.add_paragraph("Ảnh: Cán bộ thú y kiểm tra vắc xin")
    document.add_paragraph("Đọc thêm: Lịch tiêm phòng tháng trước")
    path = root / "tiem-phong.docx"
    document.save(str(path))
    page = browser.new_page()
    login(page, base, "bientap", "mat-khau-dai-1")
    page.click("nav >> text=Chương trình")
    page.locator("#upload input[name=file]").set_input_files(str(path))
    page.locator("#upload button").click()
    page.wait_for_selector("#removed")
    removed = page.locator("#removed").inner_text()
    assert "chú thích ảnh" in removed and "liên kết đọc thêm" in removed
    assert page.input_value("textarea[name=body]").startswith("Sáng thứ hai")
    page.click("nav >> text=Chương trình")
    assert "Thông báo lịch tiêm phòng dại" in page.locator("#waiting").inner_text()
    assert "Tải tệp lên" in page.locator("#import-log").inner_text()
    page.close()
