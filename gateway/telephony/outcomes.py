"""What a call attempt came to, from the OriginateResponse Reason and the Hangup Cause
together (reference/telephony.md §2.2-2.3): Reason 8 covers both a rejected call and a
congested trunk, Reason 0 both an unallocated number and many other failures, so the
cause of the dialled channel decides and the Reason is the fallback.

Policy: busy (17) and no answer (18, 19, phone off 20) are tried again after the
configured delays; an unallocated (1), unroutable (3), changed (22), invalid (28) or
rejecting (21) number is not tried a third time; congestion and network failures (34, 38,
41, 42) are the trunk's fault: the number is tried again and the whole trunk backs off.

chan_pjsip gives cause 21 for a trunk's 401/403/407 and cause 1 for its 404
(res_pjsip.c ``ast_sip_hangup_sip2cause``): a wrong trunk password or dial format looks
like a number that refused or does not exist. So the SIP code (the Hangup's ``TechCause``,
where Asterisk sends it) decides when there is one: 401/403/407 are the trunk's problem.
Without it, a 1 or 21 is tried once more before the number is given up, and a trunk that
gives nothing but 1/21 (``trunk_refusing``) is paused and its numbers are kept, not counted
as attempts. Cause 0 says nothing (before 20.18 / 22.8 a ring timeout hung up with cause 0):
the OriginateResponse Reason decides then. A refused Originate (permission, dialplan) is a
configuration error: the number keeps its attempts and the trunk pauses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.db.states import CallOutcome, DeliveryState

BUSY = {17}
NO_ANSWER = {18, 19, 20}
NEVER_AGAIN = {1, 3, 21, 22, 28}
AMBIGUOUS = {1, 21}  # a trunk refusing every number gives these too
TRUNK = {27, 34, 38, 41, 42}
TRUNK_AUTH = {401, 403, 407}  # SIP answers about the trunk's credentials, never the number
SURE = {603, 604}  # SIP: the person declined; the number exists nowhere
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
    tech_cause: int | None = None  # the Hangup's TechCause: the SIP code, where Asterisk sends it
    config_error: bool = False  # Asterisk refused the Originate itself (permission, dialplan)
    trunk_refusing: bool = False  # the trunk has given nothing but causes 1/21 lately
    amd: str = ""  # AMDSTATUS: MACHINE means an answering machine took the call
    confirmed: bool = False  # the listener pressed the flow's heard_key


@dataclass(frozen=True)
class Decision:
    kind: Literal[DeliveryState.DELIVERED, DeliveryState.RETRY, DeliveryState.FAILED]
    label: CallOutcome  # the attempt's outcome: delivered, busy, no_answer, rejected, invalid, congestion, ...
    detail: str
    retry_after: float = 0.0
    trunk_backoff: bool = False
    defer: bool = False  # not the number's attempt: it keeps its count


@dataclass(frozen=True)
class RetryPolicy:
    busy: tuple[float, ...] = (300.0, 900.0)
    no_answer: tuple[float, ...] = (900.0, 3600.0)
    congestion_backoff: float = 120.0

    def _again(self, delays: tuple[float, ...], attempt: int, label: CallOutcome, detail: str) -> Decision:
        if attempt <= len(delays):
            minutes = delays[attempt - 1] / 60
            return Decision(DeliveryState.RETRY, label, f"{detail}; gọi lại sau {minutes:g} phút", delays[attempt - 1])
        return Decision(DeliveryState.FAILED, label, f"{detail} (đã gọi {attempt} lần)")

    def decide(self, result: CallResult, attempt: int) -> Decision:
        """``attempt`` counts from 1 (this one)."""
        if result.answered:
            heard = f"{result.heard_seconds:.0f} giây"
            if result.amd == "MACHINE":
                detail = "máy trả lời tự động / hộp thư thoại: chỉ để lại lời nhắn ngắn"
                return self._again(self.no_answer, attempt, CallOutcome.VOICEMAIL, detail)
            if result.bulletin_complete:
                how = "đã bấm phím xác nhận đã nghe" if result.confirmed else "đã nghe hết bản tin"
                return Decision(DeliveryState.DELIVERED, CallOutcome.DELIVERED, f"{how} ({heard})")
            if result.heard_seconds > 0:  # a person hung up before the end: not delivered yet
                return self._again(
                    self.no_answer, attempt, CallOutcome.PARTIAL, f"gác máy khi đang nghe ({heard}), chưa nghe hết"
                )
            if result.lost:
                return self._again(
                    self.no_answer, attempt, CallOutcome.LOST, "tổng đài mất kết nối trước khi phát bản tin"
                )
            return self._again(self.no_answer, attempt, CallOutcome.HUNG_UP, "nhấc máy rồi gác trước khi nghe bản tin")
        pause = f"trung kế tạm nghỉ {self.congestion_backoff / 60:g} phút"
        if result.config_error:
            detail = f"lỗi cấu hình Asterisk, không phải lỗi của số này: {result.error}; {pause}"
            return Decision(
                DeliveryState.RETRY, CallOutcome.CONFIG, detail, self.congestion_backoff, trunk_backoff=True, defer=True
            )
        if result.lost or result.error:
            detail = result.error or "mất kết nối với tổng đài Asterisk giữa cuộc gọi"
            return Decision(
                DeliveryState.RETRY, CallOutcome.ERROR, detail, self.congestion_backoff, trunk_backoff=not result.lost
            )
        cause = result.cause or None  # 0 "Unknown" says nothing: the Reason decides
        tech = result.tech_cause
        if tech in TRUNK_AUTH or (cause in AMBIGUOUS and result.trunk_refusing and tech not in SURE):
            sip = f"SIP {tech}" if tech else f"mã {cause} với mọi số"
            detail = f"trung kế từ chối cuộc gọi ({sip}): kiểm tra tài khoản và định dạng quay số; {pause}"
            return Decision(
                DeliveryState.RETRY, CallOutcome.TRUNK, detail, self.congestion_backoff, trunk_backoff=True, defer=True
            )
        text = CAUSE_TEXT.get(cause or -1) or REASON_TEXT.get(result.reason or 0, "gọi không thành")
        label_cause = f"{text} (mã {cause})" if cause is not None else f"{text} (Reason {result.reason})"
        if cause in BUSY or (cause is None and result.reason == 5):
            return self._again(self.busy, attempt, CallOutcome.BUSY, label_cause)
        if cause in NO_ANSWER or (cause is None and result.reason == 3):
            return self._again(self.no_answer, attempt, CallOutcome.NO_ANSWER, label_cause)
        if cause in NEVER_AGAIN:
            label = CallOutcome.REJECTED if cause == 21 else CallOutcome.INVALID
            if cause in AMBIGUOUS and tech not in SURE and attempt == 1:
                delay = self.no_answer[0] if self.no_answer else self.congestion_backoff
                detail = f"{label_cause}: gọi lại một lần sau {delay / 60:g} phút để chắc không phải lỗi trung kế"
                return Decision(DeliveryState.RETRY, label, detail, delay)
            return Decision(DeliveryState.FAILED, label, f"{label_cause}: không gọi lại")
        if cause in TRUNK or (cause is None and result.reason == 8):
            detail = f"{label_cause}: {pause}"
            return Decision(
                DeliveryState.RETRY, CallOutcome.CONGESTION, detail, self.congestion_backoff, trunk_backoff=True
            )
        if cause is None:  # the Hangup was missed and chan_pjsip gives Reason 0 for every failure
            return self._again(self.no_answer, attempt, CallOutcome.UNKNOWN, f"{label_cause}, không rõ nguyên nhân")
        return self._again(self.no_answer, attempt, CallOutcome.FAILED, label_cause)
