"""One table of the Vietnamese words an officer reads for the codes the gateway stores:
channels, area levels, bulletin and delivery states, audit actions and their objects.

Templates and handlers take every label from here, so no internal name (``sms``,
``village``, ``programme_compiled``) reaches a page.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from gateway.bulletins.schedule import local_text
from gateway.bulletins.service import STATUS_LABELS
from gateway.db.states import BulletinStatus, DeliveryState, parse

CHANNELS = {"loudspeaker": "Loa truyền thanh", "call": "Cuộc gọi", "sms": "Tin nhắn SMS", "file": "Tệp âm thanh"}
CASE_CHANNELS = {"hotline": "Đường dây nóng", "console": "Cán bộ nhập", "api": "Qua API", "ivr": "Tổng đài tự động"}
SOURCES = {
    "console": "Soạn trên trang",
    "feed": "RSS/Atom",
    "folder": "Thư mục",
    "upload": "Tải tệp lên",
    "api": "Qua API",
    "reply": "Trả lời phản ánh",
    "cap": "Cảnh báo CAP",
    "import": "Nhập danh sách",
    "sms": "Tin nhắn",
    "ivr": "Tổng đài tự động",
    "programme": "Chương trình phát thanh",
}
LEVELS = {"province": "Tỉnh", "commune": "Xã/phường", "village": "Thôn/tổ"}
LEVEL_ORDER = {"province": 0, "commune": 1, "village": 2}
DELIVERY_STATES: dict[DeliveryState, str] = {
    DeliveryState.PENDING: "Chờ",
    DeliveryState.IN_PROGRESS: "Đang gửi",
    DeliveryState.RETRY: "Thử lại",
    DeliveryState.DELIVERED: "Đã nhận",
    DeliveryState.SENT: "Đã gửi, chờ báo nhận",
    DeliveryState.FAILED: "Lỗi",
    DeliveryState.UNKNOWN: "Không xác định",
    DeliveryState.CANCELLED: "Đã hủy",
    DeliveryState.EXPIRED: "Hết hạn, không gửi",
}
ACTIONS = {
    "login": "Đăng nhập",
    "change_password": "Đổi mật khẩu",
    "create": "Tạo mới",
    "update": "Sửa",
    "submit": "Gửi duyệt",
    "approve": "Duyệt",
    "approve_skip": "Phát khẩn không qua duyệt",
    "return": "Trả lại",
    "schedule": "Lên lịch phát",
    "schedule_cancel": "Hủy lịch phát",
    "schedule_pause": "Tạm dừng lịch phát",
    "schedule_resume": "Tiếp tục lịch phát",
    "render_start": "Bắt đầu tạo âm thanh",
    "deliver_end": "Phát xong",
    "retry": "Phát lại",
    "stop": "Dừng phát",
    "cap_cancel": "Hủy cảnh báo CAP",
    "case_reply": "Trả lời phản ánh",
    "case_transcribe_failed": "Gỡ băng không được",
    "case_transcript": "Hiệu đính nội dung phản ánh",
    "device_create": "Thêm thiết bị",
    "device_token": "Cấp mã thiết bị",
    "device_update": "Sửa thiết bị",
    "import_source_add": "Thêm nguồn tin",
    "programme_add": "Thêm chương trình",
    "programme_compiled": "Dựng chương trình",
    "pronunciation": "Thêm cách đọc",
    "pronunciation_remove": "Xóa cách đọc",
    "sms_mo": "Nhận tin nhắn đến",
    "opt_out": "Từ chối nhận tin",
    "subscribers_add": "Thêm người nhận tin",
    "subscribers_import": "Nhập danh sách người nhận",
    "file": "Nhập tệp",
    "upload": "Tải tệp lên",
    "template_create": "Thêm mẫu bản tin",
    "template_update": "Sửa mẫu bản tin",
    "group_create": "Tạo nhóm người nhận",
    "group_add": "Thêm vào nhóm",
    "group_remove": "Bỏ khỏi nhóm",
}
ENTITIES = {
    "bulletin": "Bản tin",
    "user": "Người dùng",
    "area": "Địa bàn",
    "case": "Phản ánh",
    "delivery": "Lượt gửi",
    "device": "Thiết bị",
    "programme": "Chương trình",
    "import_source": "Nguồn tin",
    "pronunciation": "Cách đọc",
    "subscriber": "Người nhận tin",
    "sms": "Tin nhắn",
    "api_token": "Mã truy cập",
    "alert": "Cảnh báo",
    "word": "Từ",
    "schedule": "Lịch phát",
    "template": "Mẫu bản tin",
    "group": "Nhóm người nhận",
}
DETAIL_KEYS = {
    "via": "qua",
    "parts": "số tin",
    "result": "kết quả",
    "counts": "số lượt",
    "reason": "lý do",
    "channel": "kênh",
    "kind": "loại",
    "times": "giờ",
    "items": "số mục",
    "run": "lần dựng",
    "ticket": "mã phản ánh",
    "version": "phiên bản",
    "comment": "ghi chú",
    "role": "vai trò",
    "area": "địa bàn",
    "added": "đã thêm",
    "rejected": "bị từ chối",
    "enabled": "đang dùng",
    "label": "tên",
    "from": "từ",
    "to": "sang",
    "run_at": "phát lúc",
    "recurrence": "lặp lại",
    "schedule": "lịch phát số",
    "subscriber": "người nhận số",
    "name": "tên",
    "phones": "số điện thoại",
}
OPT_OUT_SOURCES = {"sms": "nhắn tin TU CHOI", "ivr": "gọi tổng đài", "console": "cán bộ nhập", "api": "qua API"}


def recurrence(spec: str) -> str:
    """A schedule's recurrence (``daily 06:00,17:00``) as an officer says it."""
    if not spec:
        return "một lần"
    times = spec.split(None, 1)[1] if " " in spec else spec
    return "hằng ngày lúc " + ", ".join(t.strip() for t in times.split(","))


def channel(code: str) -> str:
    return CHANNELS.get(code) or CASE_CHANNELS.get(code, code)


def level(code: str) -> str:
    return LEVELS.get(code, code)


def action(code: str) -> str:
    return ACTIONS.get(code, code.replace("_", " "))


def entity(code: str) -> str:
    return ENTITIES.get(code, code.replace("_", " "))


ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _value(value: Any) -> str:
    if isinstance(value, str):
        if value.startswith("daily "):
            return recurrence(value)
        if ISO_TIME.match(value):
            try:
                return local_text(datetime.fromisoformat(value))
            except ValueError:
                return value
        state, status = parse(DeliveryState, value), parse(BulletinStatus, value)
        if value in CHANNELS or value in LEVELS:
            return CHANNELS.get(value) or LEVELS[value]
        if state is not None:
            return DELIVERY_STATES[state]
        return STATUS_LABELS[status] if status is not None else value
    if isinstance(value, dict):
        return ", ".join(f"{_value(k)} {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "có" if value else "không"
    return json.dumps(value, ensure_ascii=False) if value is not None else "—"


def detail(data: dict[str, Any] | None) -> str:
    """An audit row's detail as Vietnamese words: ``qua: Tin nhắn SMS; số tin: 2``."""
    return "; ".join(f"{DETAIL_KEYS.get(k, k.replace('_', ' '))}: {_value(v)}" for k, v in (data or {}).items())


def sentence(message: str) -> str:
    """An error message as a sentence: capital first letter, a full stop, no field name."""
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."
