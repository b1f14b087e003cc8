"""Build the SMS service from the settings: which transport, with which limits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.sms.kannel import KannelConfig, KannelTransport, callback_key
from gateway.sms.modem import ModemConfig, ModemTransport
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from gateway.sms.transport import Transport


def build_transport(settings: Settings, secret_key: str) -> Transport | None:
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
        return SmppTransport(SmppConfig(session, settings.sms_sender, national, float(settings.sms_tps)))
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
    transport = build_transport(settings, secret_key)
    return SmsService(sessions, transport) if transport is not None else None
