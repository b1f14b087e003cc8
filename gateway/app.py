"""The composition root: builds every part of the gateway from the settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway import auth
from gateway.api.limits import BodyLimit
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.preview_render import PreviewRenders
from gateway.bulletins.pronunciations import Pronunciations
from gateway.bulletins.render import Renderer
from gateway.config import Settings
from gateway.db.session import make_engine, make_sessions, migrate
from gateway.delivery.channel import Channel
from gateway.delivery.dispatcher import Dispatcher
from gateway.feedback.asr import models as asr_models
from gateway.feedback.intake import Spool
from gateway.feedback.transcription import TranscriptionQueue
from gateway.feedback.worker import FeedbackWorker
from gateway.file_channel.adapter import FileChannel
from gateway.ivr.media import MediaLinks, media_key
from gateway.loudspeakers.channel import LoudspeakerChannel
from gateway.loudspeakers.live import LiveHub
from gateway.loudspeakers.notify import Notifier
from gateway.loudspeakers.presence import Presence
from gateway.loudspeakers.registry import DeviceTokens
from gateway.loudspeakers.schedule import ScheduleCache
from gateway.programmes.manage import Compiles
from gateway.programmes.worker import ProgrammeWorker
from gateway.sms.adapter import SmsChannel
from gateway.sms.kannel import callback_key
from gateway.sms.service import SmsService
from gateway.sms.setup import build_sms
from gateway.storage.artifacts import ArtifactStore
from gateway.telephony.setup import Telephony, build_telephony
from tts.cache import PhraseCache

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything one process runs, built whole by :func:`build_services`: the renderer
    (its synthesis lanes: ``renderer.synthesizer(voice, lane)``), the channels (the
    loudspeakers' RTP clock lives in ``channels["loudspeaker"].sender``), the workers."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    renderer: Renderer
    channels: dict[str, Channel]
    dispatcher: Dispatcher
    secret_key: str
    spool: Spool
    device_notifier: Notifier
    presence: Presence
    feedback: FeedbackWorker
    programmes: ProgrammeWorker
    live: LiveHub
    sms: SmsService | None  # None: no SMS transport configured
    telephony: Telephony | None  # None: no Asterisk configured
    media_links: MediaLinks | None  # signed URLs Asterisk fetches prompts from (asterisk_media = "http")
    schedules: ScheduleCache  # the loudspeakers' schedule caches (shared by the channel and the device API)
    previews: PreviewRenders  # submitted versions rendered for the approver
    compiles: Compiles  # programme compiles started from a request
    mp3_locks: dict[str, asyncio.Lock]  # one ffmpeg per listened-to artifact
    device_tokens: DeviceTokens  # the loudspeakers' token table
    sms_callback_key: str = ""
    login_limiter: auth.LoginLimiter = field(default_factory=auth.LoginLimiter)
    first_admin_password: str | None = None


def secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def build_services(settings: Settings, file_pace_ms: int = 0) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    sessions = make_sessions(engine)
    renderer = Renderer(
        ArtifactStore(settings.data_dir / "artifacts"),
        Pronunciations(settings.data_dir / "pronunciations.tsv"),
        PhraseCache(settings.data_dir / "phrase-cache"),
    )
    channels: dict[str, Channel] = {"file": FileChannel(settings.outbox, pace_ms=file_pace_ms)}
    dispatcher = Dispatcher(sessions, settings, renderer, channels)
    key = secret_key(settings)
    store = renderer.store
    spool = Spool(settings.data_dir / "spool" / "recordings", store)
    queue = TranscriptionQueue(sessions, lambda: asr_models.load(settings.asr_model))
    notifier, live, schedules = Notifier(), LiveHub(), ScheduleCache()
    channels["loudspeaker"] = LoudspeakerChannel(
        sessions, notifier, icecast_password=settings.icecast_password, live_hub=live, schedules=schedules
    )
    programmes = ProgrammeWorker(
        sessions,
        renderer,
        settings.timezone,
        import_roots=settings.import_root_paths,
        fetch_allow=settings.fetch_allow_list,
    )
    sms = build_sms(settings, sessions, key)
    callback = ""
    if sms is not None:
        if settings.sms_transport_kind == "kannel":
            callback = callback_key(key)
        channels["sms"] = SmsChannel(sms, settings.sms_daily_cap, settings.timezone)
    links = None
    if settings.asterisk_media == "http":
        links = MediaLinks(settings.media_url, media_key(key), settings.asterisk_media_link_seconds)
    telephony = build_telephony(settings, sessions, renderer, spool, sms, dispatcher.worker, links)
    if telephony is not None:
        channels["call"] = telephony.channel
    services = Services(
        settings,
        engine,
        sessions,
        renderer,
        channels,
        dispatcher,
        key,
        spool=spool,
        device_notifier=notifier,
        presence=Presence(sessions),
        feedback=FeedbackWorker(sessions, spool, queue),
        programmes=programmes,
        live=live,
        sms=sms,
        telephony=telephony,
        media_links=links,
        schedules=schedules,
        previews=PreviewRenders(sessions, renderer),
        compiles=Compiles(),
        mp3_locks={},
        device_tokens=DeviceTokens(),
        sms_callback_key=callback,
    )
    return services


async def start(services: Services) -> None:
    """Migrate (under a database lock) and create the first admin when there is none;
    whichever process creates it, web or worker, prints its one-time password."""
    await migrate(services.engine)
    async with services.sessions() as session:
        services.first_admin_password = await auth.ensure_admin(session)
    if services.first_admin_password:
        print(
            f"Tài khoản quản trị đầu tiên: admin / {services.first_admin_password} "
            f"(mật khẩu dùng một lần, hãy đổi sau khi đăng nhập)",
            flush=True,
        )


def create_app(services: Services, run_worker: bool = True, role: str = "all") -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start(services)
        s = services.settings
        print(f"Loa đang chạy: http://{s.host}:{s.port}/ (API: /docs, dữ liệu: {s.data_dir})", flush=True)
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise stall every request for a few hundred ms.
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        # SMPP binds and modem polls belong to the worker; Kannel's callbacks reach any web process.
        sms = services.sms if (run_worker or s.sms_transport_kind == "kannel") else None
        if sms is not None:
            await sms.start()
        telephony = services.telephony if run_worker else None
        if telephony is not None:
            await telephony.start()
        tasks = []
        tasks.append(asyncio.create_task(services.presence.run(stop)))
        if run_worker:
            tasks.append(asyncio.create_task(services.dispatcher.run(stop)))
            tasks.append(asyncio.create_task(services.feedback.run(stop)))
            tasks.append(asyncio.create_task(services.programmes.run(stop)))
        try:
            yield
        finally:
            stop.set()
            await services.compiles.stop()
            for task in tasks:
                await task
            await services.presence.flush()
            if sms is not None:
                await sms.close()
            if telephony is not None:
                await telephony.close()
            for channel in services.channels.values():
                close = getattr(channel, "close", None)
                if close is not None:
                    await close()
            await services.engine.dispose()

    app = FastAPI(
        title="Loa gateway",
        version="0.1.0",
        lifespan=lifespan,
        description="Bản tin, duyệt, lịch phát, sổ giao nhận và cảnh báo CAP.",
        docs_url=None,  # served by mount_docs from the installed package: no CDN
        redoc_url=None,
    )
    from gateway.console.docs_page import mount_docs

    mount_docs(app)
    app.state.services = services
    app.state.role = role  # "web": the loa:live stream is fed elsewhere (by the worker's channel)

    app.add_middleware(BodyLimit)

    from fastapi.responses import RedirectResponse
    from starlette.exceptions import HTTPException

    from gateway.api import (
        admin,
        alerts,
        asterisk_media,
        bulletins,
        case_media,
        cases,
        devices,
        export,
        on_air,
        programmes,
        public,
        reports,
        sms,
        sms_callbacks,
        telephony,
    )
    from gateway.api.bulletin_audio import router as bulletin_audio_router
    from gateway.api.errors import validation_handler, workflow_handler
    from gateway.console.admin_pages import router as admin_pages_router
    from gateway.console.audio_pages import router as audio_pages_router
    from gateway.console.cases_pages import router as cases_pages_router
    from gateway.console.common import NotLoggedIn
    from gateway.console.contacts_pages import router as contacts_pages_router
    from gateway.console.devices_pages import router as devices_pages_router
    from gateway.console.errors import error_page, wants_html
    from gateway.console.groups_pages import router as groups_pages_router
    from gateway.console.home_pages import router as home_pages_router
    from gateway.console.listen import router as listen_router
    from gateway.console.notice_pages import router as notice_pages_router
    from gateway.console.on_air_pages import router as on_air_pages_router
    from gateway.console.programmes_pages import router as programmes_pages_router
    from gateway.console.routes import router as console_router
    from gateway.console.schedule_pages import router as schedule_pages_router

    async def to_login(request: Request, exc: Exception) -> RedirectResponse:
        to = getattr(exc, "to", "/login")
        if to != "/login":  # the account page, while the one-time password is unchanged
            return RedirectResponse(to, status_code=303)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        keep = request.method == "GET" and target != "/"  # a link sent to an approver survives the login
        return RedirectResponse("/login" + (f"?next={quote(target)}" if keep else ""), status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # registered for this type only
        if wants_html(request):
            return error_page(request, exc.status_code, "" if isinstance(exc.detail, dict) else str(exc.detail))
        body = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"errors": [{"field": "", "rule": "http", "message": str(exc.detail)}]}
        )
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.add_exception_handler(NotLoggedIn, to_login)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_handler)
    async def workflow_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WorkflowError)  # registered for this type only
        if wants_html(request):
            return error_page(request, exc.status, exc.message)
        return await workflow_handler(request, exc)

    app.add_exception_handler(WorkflowError, workflow_error)
    app.include_router(admin.router)
    app.include_router(bulletins.router)
    app.include_router(alerts.router)
    app.include_router(on_air.router)
    app.include_router(case_media.router)
    app.include_router(cases.router)
    app.include_router(reports.router)
    app.include_router(devices.staff)
    app.include_router(devices.device_api)
    app.include_router(sms.router)
    app.include_router(sms_callbacks.router)
    app.include_router(telephony.router)
    app.include_router(asterisk_media.router)
    app.include_router(programmes.router)
    app.include_router(public.router)
    app.include_router(export.router)
    app.include_router(console_router)
    app.include_router(admin_pages_router)
    app.include_router(cases_pages_router)
    app.include_router(devices_pages_router)
    app.include_router(programmes_pages_router)
    app.include_router(on_air_pages_router)
    app.include_router(contacts_pages_router)
    app.include_router(home_pages_router)
    app.include_router(listen_router)
    app.include_router(bulletin_audio_router)
    app.include_router(audio_pages_router)
    app.include_router(notice_pages_router)
    app.include_router(schedule_pages_router)
    app.include_router(groups_pages_router)
    from fastapi.staticfiles import StaticFiles

    from gateway.api.headers import SecurityHeaders

    app.add_middleware(SecurityHeaders)  # outermost: error responses get the headers too

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "console" / "static"), name="static")
    return app
