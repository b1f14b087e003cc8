"""Build the telephony side from the settings: the Asterisk trunks and the call channel,
the FastAGI server and the IVR flows it runs. Built only when ``[[asterisk]]`` servers
are configured; started by the process that runs the worker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.config import Settings, parse_delays
from gateway.feedback.intake import Spool
from gateway.ivr import flows as flow_files
from gateway.ivr.app import IvrApp
from gateway.ivr.backend import DatabaseBackend
from gateway.ivr.calls import CallContexts
from gateway.ivr.media import MediaLinks
from gateway.ivr.peers import Peers
from gateway.ivr.prompts import Prompts
from gateway.ivr.recordings import AriRecordings, Recordings, SharedRecordings
from gateway.ivr.runner import Runner
from gateway.ivr.server import AgiServer
from gateway.sms.service import SmsService
from gateway.telephony.ami import ServerConfig
from gateway.telephony.channel import CallChannel
from gateway.telephony.outcomes import RetryPolicy
from gateway.telephony.trunks import TrunkPool

log = logging.getLogger(__name__)


@dataclass
class Telephony:
    channel: CallChannel
    agi: AgiServer
    ivr: IvrApp
    prompts: Prompts
    flows: dict[str, flow_files.Flow]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.channel.pool.start()
        await self.agi.start()
        if not self.channel.agi_url:  # listening on an ephemeral port (tests, demos)
            self.channel.agi_url = f"agi://{self.agi.host}:{self.agi.port}"
        texts = [t for flow in self.flows.values() for t in flow.texts()]
        self.tasks.append(asyncio.create_task(self._warm(texts)))

    async def _warm(self, texts: list[str]) -> None:
        try:
            await self.prompts.warm(texts)
        except Exception:  # a prompt that fails now is rendered again on first use
            log.exception("rendering IVR prompts ahead failed")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.agi.close()


def policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        tuple(parse_delays(settings.call_retry_busy)),
        tuple(parse_delays(settings.call_retry_no_answer)),
        (parse_delays(settings.call_congestion_backoff) or [120.0])[0],
    )


def build_telephony(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    renderer: Renderer,
    spool: Spool,
    sms: SmsService | None,
    worker: str,
    links: MediaLinks | None = None,
) -> Telephony | None:
    """``links``: the signed media URLs (``asterisk_media = "http"``; built by the
    composition root, which serves them too); None: the shared sounds directory."""
    if not settings.asterisk:
        return None
    flows = flow_files.load_dir(settings.flows_dir)  # FlowError names every problem
    for needed in ("hotline", "outbound", "reply"):
        if needed not in flows:
            raise flow_files.FlowError([f"{settings.flows_dir}: thiếu luồng '{needed}'"])
    pool = TrunkPool([ServerConfig(**server.ami) for server in settings.asterisk])
    contexts = CallContexts(sessions)
    host, port = settings.agi_address
    channel = CallChannel(
        sessions,
        pool,
        contexts,
        settings.agi_url or (f"agi://{host}:{port}" if port else ""),
        policy(settings),
        settings.call_cps,
        settings.call_ring_seconds,
        settings.call_daily_cap,
        settings.quiet_hours.get("call"),
        settings.timezone,
        (worker, settings.lease_seconds),
        settings.agi_secret,
    )
    http = settings.asterisk_media == "http"
    prompts = Prompts(renderer, settings.sounds_dir, settings.voice, links if http else None)
    backend = DatabaseBackend(sessions, spool, settings.recordings_dir, sms)
    recordings: Recordings = AriRecordings(settings.asterisk) if http else SharedRecordings(settings.recordings_dir)
    ivr = IvrApp(Runner(flows, prompts, backend, recordings), flows, contexts)
    peers = Peers(settings.agi_peers, settings.agi_secret)
    return Telephony(channel, AgiServer(ivr, host, port, peers=peers), ivr, prompts, flows)
