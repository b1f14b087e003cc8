"""Build the SMS service from the settings: which transport, with which limits."""

from __future__ import annotations

import os
import socket

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.sms.kannel import KannelConfig, KannelTransport, callback_key
from gateway.sms.limits import BindLease, SharedPacer
from gateway.sms.modem import ModemConfig, ModemTransport
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from gateway.sms.transport import Transport


def account_key(settings: Settings) -> str:
    """The SMS account whose limits every process shares."""
    return f"smpp:{settings.smpp_system_id}@{settings.smpp_host}:{settings.smpp_port}"


def holder_name(settings: Settings) -> str:
    return f"{settings.worker_id or socket.gethostname()}:{os.getpid()}"[:120]


def build_transport(
    settings: Settings, secret_key: str, sessions: async_sessionmaker[AsyncSession] | None = None
) -> Transport | None:
    """``sessions``: share ``sms_tps`` with the account's other processes (SMPP)."""
    kind = settings.sms_transport_kind
    if kind == "kannel":
        config = KannelConfig(
            settings.kannel_sendsms_url,
            settings.kannel_username,
            settings.kannel_password,
            settings.sms_sender,
            f"http://{settings.host}:{settings.port}",
            callback_key(secret_key),
        )
        return KannelTransport(config, tps=settings.sms_tps)
    if kind == "smpp":
        session = SessionConfig(
            settings.smpp_host,
            settings.smpp_port,
            settings.smpp_system_id,
            settings.smpp_password,
            settings.smpp_system_type,
            window=settings.smpp_window,
        )
        national = settings.smpp_number_format == "national"
        tps = float(settings.sms_tps)
        pacer = SharedPacer(sessions, account_key(settings), tps) if sessions is not None and tps else None
        return SmppTransport(SmppConfig(session, settings.sms_sender, national, tps), pacer)
    if kind == "modem":
        dummy = settings.modem_connection == "none"  # Gammu's dummy driver: a directory, for trials
        return ModemTransport(
            ModemConfig(
                settings.modem_device,
                settings.modem_connection,
                "dummy" if dummy else "",
                float(settings.modem_poll_seconds),
            )
        )
    return None


def build_sms(settings: Settings, sessions: async_sessionmaker[AsyncSession], secret_key: str) -> SmsService | None:
    """SMPP: the account's binds and rate are shared through the database (``limits``)."""
    transport = build_transport(settings, secret_key, sessions)
    if transport is None:
        return None
    lease = None
    if settings.sms_transport_kind == "smpp":
        lease = BindLease(sessions, account_key(settings), settings.smpp_binds, holder_name(settings))
    return SmsService(sessions, transport, lease=lease)
