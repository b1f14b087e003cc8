"""What a call attempt came to, from the OriginateResponse Reason and the Hangup Cause
together (reference/telephony.md §2.2-2.3): Reason 8 covers both a rejected call and a
congested trunk, Reason 0 both an unallocated number and many other failures, so the
cause of the dialled channel decides and the Reason is the fallback.

Policy: busy (17) and no answer (18, 19, phone off 20) are tried again after the
configured delays; an unallocated (1), unroutable (3), changed (22), invalid (28) or
rejecting (21) number never is; congestion and network failures (34, 38, 41, 42) are
the trunk's fault: the number is tried again and the whole trunk backs off.
"""

from __future__ import annotations

from dataclasses import dataclass

BUSY = {17}
NO_ANSWER = {18, 19, 20}
NEVER_AGAIN = {1, 3, 21, 22, 28}
TRUNK = {27, 34, 38, 41, 42}
CAUSE_TEXT = {
    1: "số không tồn tại",
    3: "không có tuyến tới số này",
    16: "kết thúc bình thường",
    17: "máy bận",
    18: "không trả lời",
    19: "đổ chuông không nhấc máy",
    20: "thuê bao tắt máy hoặc ngoài vùng phủ sóng",
    21: "người nghe từ chối cuộc gọi",
    22: "số đã đổi",
    27: "đích không hoạt động",
    28: "số sai định dạng",
    34: "trung kế nghẽn mạch",
    38: "mạng lỗi",
    41: "lỗi tạm thời của mạng",
    42: "tổng đài nghẽn",
}
REASON_TEXT = {
    0: "gọi không thành",
    1: "cuộc gọi bị hủy",
    3: "không nhấc máy",
    5: "máy bận",
    8: "bị từ chối hoặc nghẽn",
}


@dataclass(frozen=True)
class CallResult:
    answered: bool = False
    reason: int | None = None
    cause: int | None = None
    heard_seconds: float = 0.0
    bulletin_complete: bool = False
    error: str = ""  # AMI refused the Originate, or the connection was lost
    lost: bool = False  # Asterisk went away while the call was up or being dialled


@dataclass(frozen=True)
class Decision:
    kind: str  # delivered | retry | failed
    label: str  # the attempt's outcome: delivered, busy, no_answer, rejected, invalid, congestion, ...
    detail: str
    retry_after: float = 0.0
    trunk_backoff: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    busy: tuple[float, ...] = (300.0, 900.0)
    no_answer: tuple[float, ...] = (900.0, 3600.0)
    congestion_backoff: float = 120.0

    def _again(self, delays: tuple[float, ...], attempt: int, label: str, detail: str) -> Decision:
        if attempt <= len(delays):
            minutes = delays[attempt - 1] / 60
            return Decision("retry", label, f"{detail}; gọi lại sau {minutes:g} phút", delays[attempt - 1])
        return Decision("failed", label, f"{detail} (đã gọi {attempt} lần)")

    def decide(self, result: CallResult, attempt: int) -> Decision:
        """``attempt`` counts from 1 (this one)."""
        if result.answered:
            if result.bulletin_complete:
                return Decision("delivered", "delivered", f"đã nghe hết bản tin ({result.heard_seconds:.0f} giây)")
            if result.heard_seconds > 0:
                return Decision("delivered", "partial", f"gác máy khi đang nghe ({result.heard_seconds:.0f} giây)")
            if result.lost:
                return self._again(self.no_answer, attempt, "lost", "tổng đài mất kết nối trước khi phát bản tin")
            return self._again(self.no_answer, attempt, "hung_up", "nhấc máy rồi gác trước khi nghe bản tin")
        if result.lost or result.error:
            detail = result.error or "mất kết nối với tổng đài Asterisk giữa cuộc gọi"
            return Decision("retry", "error", detail, self.congestion_backoff, trunk_backoff=not result.lost)
        cause = result.cause
        text = CAUSE_TEXT.get(cause or -1) or REASON_TEXT.get(result.reason or 0, "gọi không thành")
        label_cause = f"{text} (mã {cause})" if cause is not None else f"{text} (Reason {result.reason})"
        if cause in BUSY or (cause is None and result.reason == 5):
            return self._again(self.busy, attempt, "busy", label_cause)
        if cause in NO_ANSWER or (cause is None and result.reason == 3):
            return self._again(self.no_answer, attempt, "no_answer", label_cause)
        if cause in NEVER_AGAIN:
            label = "rejected" if cause == 21 else "invalid"
            return Decision("failed", label, f"{label_cause}: không gọi lại")
        if cause in TRUNK or (cause is None and result.reason == 8):
            detail = f"{label_cause}: trung kế tạm nghỉ {self.congestion_backoff / 60:g} phút"
            return Decision("retry", "congestion", detail, self.congestion_backoff, trunk_backoff=True)
        return self._again(self.no_answer, attempt, "failed", label_cause)
