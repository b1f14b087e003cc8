"""Tables of the gateway. Times are stored in UTC; people see Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.db.states import (
    BulletinStatus,
    CallOutcome,
    CapOutcome,
    CaseStatus,
    DeliveryState,
    ImportRunStatus,
    PartState,
    ProgrammeRunStatus,
    ReceiptState,
    TranscriptStatus,
    state_type,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | editor | approver | operator
    password_hash: Mapped[str] = mapped_column(String(200))
    can_skip_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # CAP <sender> values this token may speak for, space separated; empty: any sender
    cap_senders: Mapped[str] = mapped_column(Text, default="", server_default="")


class WebSession(Base):
    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Area(Base):
    """Province -> commune/ward -> village/cluster."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))  # province | commune | village
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), nullable=True)


class Bulletin(Base):
    __tablename__ = "bulletins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sms_text: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")  # normal | priority | emergency
    status: Mapped[BulletinStatus] = mapped_column(
        state_type(BulletinStatus, "bulletins", "status", 20), default=BulletinStatus.DRAFT
    )
    voice: Mapped[str] = mapped_column(String(100), default="vi-espeak")
    speech_speed: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")  # tts SPEEDS
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    return_comment: Mapped[str] = mapped_column(Text, default="")
    # console | api | cap | feed | folder | upload | reply | programme
    source: Mapped[str] = mapped_column(String(40), default="console")
    # an item waiting for the next programme (imported articles, once approved)
    for_programme: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    external_id: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    # From a CAP alert: never aired before air_from (<onset>/<effective>), nothing starts after expires_at
    air_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    render_progress: Mapped[float] = mapped_column(default=0.0)
    render_error: Mapped[str] = mapped_column(Text, default="")
    # Audio the officer brought (a decoded WAV artifact): rendered instead of the text
    audio_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audio_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CapMessage(Base):
    """Every CAP 1.2 message accepted, broadcast or not: what it was and what Loa did with it.
    ``references`` of later messages resolve here (same sender, same key)."""

    __tablename__ = "cap_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # sender,identifier,sent
    sender: Mapped[str] = mapped_column(String(200), index=True)
    identifier: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))  # Actual | Exercise | System | Test | Draft
    msg_type: Mapped[str] = mapped_column(String(10))  # Alert | Update | Cancel | Ack | Error
    scope: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[CapOutcome] = mapped_column(state_type(CapOutcome, "cap_messages", "outcome", 12))
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was not broadcast
    bulletin_id: Mapped[int | None] = mapped_column(ForeignKey("bulletins.id"), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BulletinVersion(Base):
    __tablename__ = "bulletin_versions"
    __table_args__ = (UniqueConstraint("bulletin_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sms_text: Mapped[str] = mapped_column(Text, default="")
    edited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Target(Base):
    """Where a bulletin goes: a channel and an area."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("bulletin_id", "channel", "area_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    channel: Mapped[str] = mapped_column(String(20))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))


class Schedule(Base):
    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)  # next occurrence, UTC
    recurrence: Mapped[str] = mapped_column(String(100), default="")  # "" or "daily 06:00,17:00"
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    # A daily schedule an officer paused: nothing airs until it is resumed.
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Artifact(Base):
    """Content-addressed audio files (sha256 of the bytes)."""

    __tablename__ = "artifacts"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Render(Base):
    __tablename__ = "renders"
    __table_args__ = (UniqueConstraint("bulletin_id", "version", "purpose"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    version: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(20))  # loudspeaker | telephone | preview
    artifact_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    format: Mapped[str] = mapped_column(String(10))
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column()
    spoken_text: Mapped[str] = mapped_column(Text, default="")
    voice: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RenderClaim(Base):
    """Who renders a bulletin's version now: one process synthesizes it, the others wait
    for its renders. Renewed while the render runs; an expired claim (its holder died)
    is taken over."""

    __tablename__ = "render_claims"
    bulletin_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(120), default="")
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)  # Unix time


class Delivery(Base):
    """The delivery ledger: one row per (bulletin, occurrence, channel, target)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("bulletin_id", "occurrence", "channel", "target"),
        Index("ix_deliveries_claim", "state", "next_attempt_at"),
        Index("ix_deliveries_target", "channel", "target"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200))  # area code, phone number, device id ...
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 2 emergency, 1 priority, 0 normal
    state: Mapped[DeliveryState] = mapped_column(
        state_type(DeliveryState, "deliveries", "state", 16), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reference: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Case(Base):
    """A resident's feedback, from any channel, tracked until it is closed."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_area", "status", "area_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # hotline | sms | console | api
    caller: Mapped[str] = mapped_column(String(20), default="")  # E.164
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), nullable=True)
    category: Mapped[str] = mapped_column(String(32), default="khac")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[CaseStatus] = mapped_column(state_type(CaseStatus, "cases", "status", 16), default=CaseStatus.NEW)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")  # SMS or typed text
    audio_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifacts.sha256"), nullable=True)
    transcript_status: Mapped[TranscriptStatus] = mapped_column(
        state_type(TranscriptStatus, "cases", "transcript_status", 16), default=TranscriptStatus.NONE
    )
    transcript_raw: Mapped[str] = mapped_column(Text, default="")
    transcript_normalized: Mapped[str] = mapped_column(Text, default="")
    transcript_correction: Mapped[str] = mapped_column(Text, default="")
    transcript_error: Mapped[str] = mapped_column(Text, default="")  # why the machine could not transcribe
    transcript_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    intake_ref: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)  # spool id: filed once
    assignee: Mapped[str] = mapped_column(String(200), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    possible_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking for concurrent edits


class Subscriber(Base):
    """A phone number that receives bulletins by SMS for an area (opt-in / opt-out)."""

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), nullable=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="sms")  # sms | console | import
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SmsPart(Base):
    """One wire part of an SMS (a bulletin's ledger row or a reply), with its own receipt.

    A ledger row is delivered when every part is. ``message_id`` is the SMSC's id,
    normalized (lowercase, no leading zeros) so receipts in either id style match.
    """

    __tablename__ = "sms_parts"
    __table_args__ = (
        UniqueConstraint("reference", "seq"),
        Index("ix_sms_parts_message", "transport", "message_id"),
        Index("ix_sms_parts_recipient", "recipient", "created_at"),  # the daily cap, per row
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))  # "d<delivery id>" or "r<reply id>"
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(8))
    transport: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(80), default="")
    state: Mapped[PartState] = mapped_column(
        state_type(PartState, "sms_parts", "state", 12), default=PartState.SUBMITTING
    )
    detail: Mapped[str] = mapped_column(Text, default="")
    # the sending attempt that queued the part (a random token): only it may mark the
    # part ``submitting``, so a worker that lost its rows to a take-over writes nothing
    attempt: Mapped[str] = mapped_column(String(32), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SmsBind(Base):
    """One of the account's ``smpp_binds`` bind slots, leased by the worker process that
    holds the bind; a slot whose lease ran out (the holder died) is taken by another."""

    __tablename__ = "sms_binds"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(120), default="")
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)  # Unix time


class SmsRate(Base):
    """The account's ``sms_tps`` shared by every process: the next free send slot (Unix
    time). A process reserves a few slots at once by moving it forward atomically."""

    __tablename__ = "sms_rate"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float, default=0.0)


class SmsPendingReceipt(Base):
    """A receipt whose message id matches no part yet: SMPP sets no order between a
    receipt and the submit_sm_resp that names its id. Kept (one row per spelling of the
    id, sharing ``receipt_key``) until the part's id is stored, then applied and removed."""

    __tablename__ = "sms_pending_receipts"
    __table_args__ = (Index("ix_sms_pending_receipts_message", "transport", "message_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(80))
    receipt_key: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[ReceiptState] = mapped_column(state_type(ReceiptState, "sms_pending_receipts", "outcome", 12))
    detail: Mapped[str] = mapped_column(Text, default="")
    # Under a converted spelling of the id: the handset the receipt came from. It applies
    # to a part under that spelling only if the part went to that number (empty: any).
    sender: Mapped[str] = mapped_column(String(24), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsMoPart(Base):
    """One part of a resident's multi-part message, stored before the SMSC is answered so
    that a restart between parts loses nothing; removed when the case is filed."""

    __tablename__ = "sms_mo_parts"
    __table_args__ = (UniqueConstraint("transport", "sender", "concat_ref", "total", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(40))
    concat_ref: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Device(Base):
    """A loudspeaker cluster or receiver. ``pull`` devices (4G clusters running the agent)
    fetch their schedule and audio; ``rtp`` speakers (LAN PA) are sent paced RTP; ``stream``
    receivers listen to the Icecast mount."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    kind: Mapped[str] = mapped_column(String(8), default="pull")  # pull | rtp | stream
    token_sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    volume: Mapped[int] = mapped_column(Integer, default=80)  # 0..100
    windows: Mapped[str] = mapped_column(String(200), default="")  # "05:30-07:00,17:00-19:00"; empty: any time
    rtp_address: Mapped[str] = mapped_column(String(100), default="")  # host:port, unicast or 239.x multicast
    codec: Mapped[str] = mapped_column(String(8), default="pcmu")  # pcmu | pcma | g722
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    agent_version: Mapped[str] = mapped_column(String(40), default="")
    signal: Mapped[int | None] = mapped_column(Integer, nullable=True)  # dBm or %, as the device reports
    battery: Mapped[int | None] = mapped_column(Integer, nullable=True)  # %
    playing: Mapped[str] = mapped_column(String(40), default="")  # item id, as of the last heartbeat
    clock_skew_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # device clock - server clock
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlayReport(Base):
    """Proof of play: what a device says it did with a schedule item. A report sent twice
    (a retry after a lost answer) is stored once."""

    __tablename__ = "play_reports"
    __table_args__ = (UniqueConstraint("device_id", "item", "event", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    item: Mapped[str] = mapped_column(String(40))  # "<bulletin>:<occurrence>"
    event: Mapped[str] = mapped_column(String(12))  # started | finished | interrupted | failed | expired
    seq: Mapped[int] = mapped_column(Integer, default=0)  # the device's counter: an item may play twice
    device_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="")


class CallAttempt(Base):
    """One dialling of one ledger row: what Asterisk said (OriginateResponse Reason, the
    Hangup cause) and how much of the bulletin the resident heard. Written before the
    Originate, so a worker that dies mid-call leaves a trace the next one reads."""

    __tablename__ = "call_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(60), unique=True)  # ActionID and ChannelId of the Originate
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), nullable=True, index=True)
    number: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    server: Mapped[str] = mapped_column(String(60))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[CallOutcome] = mapped_column(
        state_type(CallOutcome, "call_attempts", "outcome", 16), default=CallOutcome.DIALING
    )
    reason: Mapped[int | None] = mapped_column(Integer, nullable=True)  # OriginateResponse Reason
    cause: Mapped[int | None] = mapped_column(Integer, nullable=True)  # Hangup Cause (Q.850)
    heard_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The call's context for whichever FastAGI server Asterisk reaches (gateway/ivr/calls.py):
    key_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")  # sha256 of key=
    flow: Mapped[str] = mapped_column(String(16), default="outbound", server_default="outbound")
    bulletin_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # the telephone render
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # IVR session opened
    ivr_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # IVR reported
    bulletin_samples: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bulletin_complete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())  # heard_key
    amd_status: Mapped[str] = mapped_column(String(16), default="", server_default="")  # AMDSTATUS


class ImportSource(Base):
    """Where articles come from by themselves: an RSS/Atom feed, or a folder watched for
    .txt, .docx and .html files."""

    __tablename__ = "import_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # feed | folder
    location: Mapped[str] = mapped_column(String(1000))  # feed URL or folder path
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportedItem(Base):
    """One article imported as a draft: where it came from, and what the cleaner removed.
    The link and the text's hash are unique: the same article twice is one draft."""

    __tablename__ = "imported_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("import_sources.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))  # feed | folder | upload | api
    link: Mapped[str | None] = mapped_column(String(1000), nullable=True, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"))
    removed: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRun(Base):
    """The import log: one row per run of a source (or per upload)."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("import_sources.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[ImportRunStatus] = mapped_column(
        state_type(ImportRunStatus, "import_runs", "status", 8), default=ImportRunStatus.RUNNING
    )
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")


class ProgrammeTemplate(Base):
    """A recurring programme, e.g. "Bản tin sáng" at 06:00 every day for the commune."""

    __tablename__ = "programme_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    times: Mapped[str] = mapped_column(String(100))  # "06:00" or "06:00,17:00", local time
    areas: Mapped[str] = mapped_column(String(500))  # area codes, comma separated
    max_minutes: Mapped[int] = mapped_column(Integer, default=15)
    greeting: Mapped[str] = mapped_column(Text, default="")
    closing: Mapped[str] = mapped_column(Text, default="")
    bridge: Mapped[str] = mapped_column(String(300), default="")
    jingle: Mapped[bool] = mapped_column(Boolean, default=True)
    voice: Mapped[str] = mapped_column(String(100), default="vi-espeak")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProgrammeRun(Base):
    """One compiled programme: its items with their start times (chapter marks), what did
    not fit, and the bulletin that carries its audio to the channels."""

    __tablename__ = "programme_runs"
    __table_args__ = (UniqueConstraint("template_id", "air_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("programme_templates.id"))
    air_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ProgrammeRunStatus] = mapped_column(
        state_type(ProgrammeRunStatus, "programme_runs", "status", 10), default=ProgrammeRunStatus.COMPILING
    )
    bulletin_id: Mapped[int | None] = mapped_column(ForeignKey("bulletins.id"), nullable=True)
    chapters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dropped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    warning: Mapped[str] = mapped_column(Text, default="")
    web_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)  # MP3 for the podcast
    # Touched while a compile runs: a compiling run whose heartbeat stopped is taken over.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Who renders it now (a token per attempt): a slow renderer that lost the run changes nothing.
    renderer: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeTemplate(Base):
    """A starting point for a usual notice ("Mất điện", "Bão lũ"): administrators edit,
    add and switch them off; the composer offers the enabled ones."""

    __tablename__ = "notice_templates"
    __table_args__ = (CheckConstraint("priority IN ('normal', 'priority')", name="ck_notice_templates_priority"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # /bulletins/new?mau=<slug>
    label: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sms_text: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")  # normal | priority
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContactGroup(Base):
    """A named list of subscribers (the health volunteers, the village heads)."""

    __tablename__ = "contact_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactGroupMember(Base):
    __tablename__ = "contact_group_members"
    __table_args__ = (UniqueConstraint("group_id", "subscriber_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("contact_groups.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
