"""The editor form, read into the service's input (or the error to show)."""

from __future__ import annotations

from fastapi import Form

from gateway.bulletins import service, voices
from gateway.bulletins.errors import WorkflowError


def _form_input(
    title: str, body: str, sms_text: str, priority: str, voice: str, targets: list[str], speed: str = "1.0"
) -> service.BulletinInput:
    if len(title.strip()) < 3:
        raise WorkflowError("title", "tiêu đề cần ít nhất 3 ký tự", 422)
    if not body.strip():
        raise WorkflowError("body", "nội dung không được để trống", 422)
    if priority not in service.PRIORITIES:
        raise WorkflowError("priority", "mức độ phải là thường, ưu tiên hoặc khẩn cấp", 422)
    try:
        pace = float(speed or "1.0")
    except ValueError:
        raise WorkflowError("speed", "tốc độ đọc không hợp lệ", 422) from None
    voices.check(voice or "vi-espeak", pace)
    pairs = tuple(tuple(t.split(":", 1)) for t in targets if ":" in t)
    return service.BulletinInput(
        title.strip(), body.strip(), sms_text.strip(), priority, voice or "vi-espeak", pairs, pace  # type: ignore[arg-type]
    )


async def bulletin_form(
    title: str = Form(""),
    body: str = Form(""),
    sms_text: str = Form(""),
    priority: str = Form("normal"),
    voice: str = Form("vi-espeak"),
    targets: list[str] = Form([]),
    csrf_token: str = Form(""),
    speed: str = Form("1.0"),
) -> tuple[service.BulletinInput | WorkflowError, str]:
    """The editor form, validated into a service input (or the error to show), and its CSRF token."""
    try:
        return _form_input(title, body, sms_text, priority, voice, targets, speed), csrf_token
    except WorkflowError as exc:
        return exc, csrf_token


FormData = tuple[service.BulletinInput | WorkflowError, str]
