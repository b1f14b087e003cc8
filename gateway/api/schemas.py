"""Request and response models at the HTTP edge (field names in English)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Priority = Literal["normal", "priority", "emergency"]
ChannelName = Literal["file", "loudspeaker", "call", "sms"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TargetIn(Strict):
    channel: ChannelName
    area: str = Field(min_length=1, max_length=32)


class BulletinIn(Strict):
    title: str = Field(min_length=3, max_length=300)
    body: str = Field(min_length=1, max_length=50_000)
    sms_text: str = Field(default="", max_length=1_000)
    priority: Priority = "normal"
    voice: str = Field(default="vi-espeak", min_length=1, max_length=100)
    targets: list[TargetIn] = Field(default_factory=list, max_length=500)
    speed: float = Field(default=1.0, ge=0.8, le=1.2)  # speaking speed: 0.8, 0.9, 1.0, 1.1 or 1.2

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("nội dung phải có chữ để đọc")
        return value


class BulletinOut(BaseModel):
    id: int
    title: str
    body: str
    sms_text: str
    priority: str
    status: str
    voice: str
    speech_speed: float = 1.0
    version: int
    created_by: int
    approved_by: int | None
    return_comment: str
    created_at: datetime
    air_from: datetime | None = None  # a CAP <onset>/<effective>: never aired before
    expires_at: datetime | None = None  # a CAP <expires>: nothing starts after
    targets: list[TargetIn] = []


class ReturnIn(Strict):
    comment: str = Field(min_length=3, max_length=2_000)


class ScheduleIn(Strict):
    run_at: AwareDatetime | None = None  # absent: now, or the recurrence's next time
    recurrence: str = Field(default="", max_length=100)


class StopIn(Strict):
    reason: str = Field(min_length=3, max_length=500)


class PreviewIn(Strict):
    text: str = Field(min_length=1, max_length=50_000)
    voice: str = Field(default="vi-espeak", max_length=100)


class AreaIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: Literal["province", "commune", "village"]
    parent: str | None = None


class UserIn(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    full_name: str = Field(default="", max_length=200)
    role: Literal["admin", "editor", "approver", "operator"]
    password: str = Field(min_length=10, max_length=200)
    can_skip_approval: bool = False


class UserPatch(Strict):
    role: Literal["admin", "editor", "approver", "operator"] | None = None
    active: bool | None = None
    can_skip_approval: bool | None = None


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    cap_senders: list[str] = Field(default_factory=list, max_length=50)  # CAP <sender> values; empty: any


class PasswordIn(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class PronunciationIn(Strict):
    written: str = Field(min_length=1, max_length=100)
    spoken: str = Field(min_length=1, max_length=300)
    only_class: str | None = Field(default=None, max_length=40)  # e.g. "address": only where read as one


class CaseIn(Strict):
    text: str = Field(min_length=1, max_length=20_000)
    caller: str = Field(default="", max_length=30)
    area: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=32)


class CaseTransitionIn(Strict):
    to: Literal["assigned", "in_progress", "answered", "closed", "rejected", "duplicate"]
    version: int | None = None
    reason: str = Field(default="", max_length=2_000)
    assignee: str = Field(default="", max_length=200)
    answer: str = Field(default="", max_length=5_000)


class TranscriptIn(Strict):
    text: str = Field(min_length=1, max_length=20_000)
    version: int | None = None


class SmsPreviewIn(Strict):
    text: str = Field(max_length=1_000)
    areas: list[str] = Field(default_factory=list, max_length=500)


class SubscribersIn(Strict):
    """Numbers to subscribe to one area, as people type them (0912..., 84912..., +84912...)."""

    area: str = Field(min_length=1, max_length=32)
    phones: list[str] = Field(min_length=1, max_length=100_000)


class CaseReplyIn(Strict):
    text: str = Field(min_length=1, max_length=2_000)
    via: Literal["sms", "call"] = "sms"
    version: int | None = None


class DeviceIn(Strict):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    area: str = Field(min_length=1, max_length=32)
    kind: Literal["pull", "rtp", "stream"] = "pull"
    volume: int = Field(default=80, ge=0, le=100)
    windows: str = Field(default="", max_length=200)
    rtp_address: str = Field(default="", max_length=100)
    codec: Literal["pcmu", "pcma", "g722", "opus"] = "pcmu"


class PlayReportIn(Strict):
    item: str = Field(min_length=3, max_length=40)
    event: Literal["started", "finished", "interrupted", "failed", "expired"]
    at: datetime
    seq: int = Field(default=0, ge=0)
    detail: str = Field(default="", max_length=500)


class PlayReportsIn(Strict):
    reports: list[PlayReportIn] = Field(min_length=1, max_length=500)


class HeartbeatIn(Strict):
    clock: datetime
    agent_version: str = Field(default="", max_length=40)
    signal: int | None = None
    battery: int | None = Field(default=None, ge=0, le=100)
    playing: str = Field(default="", max_length=40)


class ImportSourceIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["feed", "folder"]
    location: str = Field(min_length=1, max_length=1000)
    interval_minutes: int = Field(30, ge=5, le=1440)


class ArticleIn(Strict):
    title: str = Field("", max_length=300)
    text: str = Field(min_length=1, max_length=500_000)
    html: bool = False  # the text is a saved web page
    link: str | None = Field(None, max_length=1000)


class ProgrammeIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    times: str = Field(min_length=5, max_length=100, pattern=r"^\d{2}:\d{2}(,\d{2}:\d{2})*$")
    areas: list[str] = Field(min_length=1, max_length=50)
    max_minutes: int = Field(15, ge=1, le=180)
    greeting: str = Field("", max_length=1000)
    closing: str = Field("", max_length=1000)
    bridge: str = Field("", max_length=300)
    jingle: bool = True
    voice: str = Field("vi-espeak", max_length=100)
