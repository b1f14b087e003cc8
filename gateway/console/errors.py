"""Errors a person meets in the browser, shown as a console page, not as the API's JSON.

A request for a console address (not ``/api/...``) from a browser (it accepts HTML) gets
the page; programs keep the JSON body with the field and the rule.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from gateway.console import labels
from gateway.console.common import templates

TITLES = {
    400: "Yêu cầu không hợp lệ",
    403: "Không có quyền",
    404: "Không tìm thấy trang",
    405: "Không thực hiện được",
    409: "Không thực hiện được",
    422: "Dữ liệu chưa hợp lệ",
}
HINTS = {
    403: "Tài khoản của bạn không có quyền xem hoặc làm việc này. Hãy hỏi quản trị viên nếu bạn cần quyền.",
    404: "Địa chỉ này không có hoặc đã bị xóa. Hãy kiểm tra đường dẫn hoặc quay lại danh sách.",
}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/static/") or path in ("/openapi.json", "/healthz"):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = TITLES.get(status, "Có lỗi")
    text = HINTS.get(status, "") if status in HINTS and message in ("", "Not Found", "Forbidden") else message
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "message": labels.sentence(text or HINTS.get(status, "")), "status": status, "user": None},
        status_code=status,
    )
