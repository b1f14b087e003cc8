"""Starting points for the notices a commune reads most often. "Bắt đầu từ mẫu" fills the
editor; the officer completes the bracketed parts before saving."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    label: str
    title: str
    body: str
    sms_text: str = ""
    priority: str = "normal"
    voice: str = "vi-espeak"


NOTICES = {
    "mat-dien": Notice(
        "Mất điện",
        "Thông báo lịch cắt điện",
        "Điện lực thông báo: từ [giờ] đến [giờ] ngày [ngày], cắt điện để [lý do] tại [khu vực].\n\n"
        "Bà con chủ động sắp xếp công việc, rút phích cắm các thiết bị điện.",
        "Cat dien tu [gio] den [gio] ngay [ngay] tai [khu vuc].",
    ),
    "tiem-phong": Notice(
        "Tiêm phòng",
        "Lịch tiêm phòng",
        "Trạm y tế xã tổ chức tiêm [loại vắc xin] cho [đối tượng] vào [giờ] ngày [ngày] tại [địa điểm].\n\n"
        "Bà con mang theo sổ tiêm chủng và căn cước công dân.",
        "Tiem [vac xin] cho [doi tuong] luc [gio] ngay [ngay] tai [dia diem]. Mang so tiem.",
    ),
    "hop-dan": Notice(
        "Họp dân",
        "Thông báo họp dân",
        "Mời đại diện các hộ gia đình dự họp về [nội dung] vào [giờ] ngày [ngày] tại [địa điểm].\n\n"
        "Đề nghị bà con đến đúng giờ.",
    ),
    "bao-lu": Notice(
        "Bão lũ",
        "Cảnh báo bão lũ",
        "[Tên bão hoặc đợt mưa lũ] dự kiến ảnh hưởng đến địa phương từ [thời gian].\n\n"
        "Bà con gia cố nhà cửa, không ra sông suối, chuẩn bị lương thực, nước uống và thuốc men; "
        "hộ ở vùng trũng di chuyển đến [điểm sơ tán] trước [giờ].",
        "Canh bao [ten bao]: gia co nha cua, di chuyen den [diem so tan] truoc [gio].",
        "priority",
    ),
    "thu-thue": Notice(
        "Thu thuế",
        "Thông báo nộp thuế, phí",
        "Ủy ban nhân dân xã thông báo: hạn nộp [loại thuế, phí] năm [năm] là ngày [ngày].\n\n"
        "Bà con nộp tại [địa điểm] hoặc chuyển khoản theo hướng dẫn của cán bộ thuế.",
    ),
}
