"""``loa serve``, ``loa config check`` and ``loa db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from gateway.config import ConfigError, load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="chạy cổng Loa (giao diện, API và tiến trình gửi)")
    p.add_argument("--config", type=Path, default=_default_config(), help="tệp cấu hình TOML")
    p.add_argument("--host", metavar="ĐỊA_CHỈ", help="địa chỉ nghe HTTP (khóa host; mặc định 127.0.0.1)")
    p.add_argument("--port", metavar="CỔNG", help="cổng HTTP (khóa port; mặc định 8080)")
    p.add_argument("--data-dir", metavar="THƯ_MỤC", help="thư mục dữ liệu (khóa data_dir; mặc định data)")
    p.add_argument("--role", choices=("all", "web", "worker"), help="all (mặc định), web hoặc worker")
    p.add_argument("--file-pace-ms", type=int, default=0, help="nhịp ghi của kênh file (ms mỗi lượt)")
    p.set_defaults(func=cmd_serve)
    config = sub.add_parser("config", help="cấu hình").add_subparsers(dest="config_cmd", required=True)
    p = config.add_parser("check", help="kiểm tra tệp cấu hình và biến môi trường LOA_*")
    p.add_argument("--config", type=Path, default=_default_config())
    p.set_defaults(func=cmd_config_check)
    dbp = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(dest="db_cmd", required=True)
    p = dbp.add_parser("upgrade", help="nâng cấp lược đồ (Alembic) lên bản mới nhất")
    p.add_argument("--config", type=Path, default=_default_config())
    p.set_defaults(func=cmd_db_upgrade)


def _default_config() -> Path | None:
    value = os.environ.get("LOA_CONFIG")
    return Path(value) if value else None


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """``--host``, ``--port``, ``--data-dir``: keys over the file and ``LOA_*``, checked by
    the same rules (``--port 8080.9`` is refused as ``port = 8080.9`` is)."""
    given = {"host": args.host, "port": args.port, "data_dir": args.data_dir}
    return {key: value for key, value in given.items() if value is not None}


def cmd_config_check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"lỗi: {problem}")
        return 2
    flows_line = ""
    if settings.asterisk:
        from gateway.ivr.flows import FlowError, load_dir

        try:
            flows = load_dir(settings.flows_dir)
        except FlowError as exc:
            for problem in exc.problems:
                print(f"lỗi luồng IVR: {problem}")
            return 2
        names = ", ".join(s.name for s in settings.asterisk)
        flows_line = f"tổng đài: {names}; luồng IVR: {', '.join(sorted(flows))} ({settings.flows_dir})"
    print(
        f"cấu hình hợp lệ: dữ liệu {settings.data_dir}, CSDL {settings.db_url}, http://{settings.host}:{settings.port}"
    )
    if settings.asterisk:
        print(flows_line)
    if settings.sms_transport_kind == "kannel":
        from gateway.app import secret_key
        from gateway.sms.kannel import callback_key

        print(f"khóa gọi lại cho Kannel (key=...): {callback_key(secret_key(settings))}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.db.session import make_engine, migrate

    settings = load_settings(args.config)

    async def run() -> None:
        engine = make_engine(settings.db_url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(run())
    print("đã nâng cấp lược đồ CSDL")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import build_services, create_app
    from gateway.ivr.flows import FlowError

    settings = load_settings(args.config, cli=overrides(args))
    role = args.role or settings.role
    try:
        services = build_services(settings, file_pace_ms=args.file_pace_ms)
    except FlowError as exc:  # the IVR flows are checked before any call can reach them
        for problem in exc.problems:
            print(f"lỗi luồng IVR: {problem}")
        return 2
    if role == "worker":
        import uvloop  # the loop uvicorn runs the web and all-in-one processes on

        return uvloop.run(_worker_only(services))
    app = create_app(services, run_worker=role == "all", role=role)
    # X-Forwarded-* are read by the app, and only from ``trusted_proxies`` (uvicorn would
    # trust them from 127.0.0.1 whatever the configuration says).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", proxy_headers=False)
    return 0


async def _worker_only(services: object) -> int:
    import signal

    from gateway.app import Services, start

    assert isinstance(services, Services)
    await start(services)
    if services.telephony is not None:
        await services.telephony.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if services.sms is not None:
        await services.sms.start()
    workers = [services.dispatcher.run(stop), services.feedback.run(stop), services.programmes.run(stop)]
    await asyncio.gather(*workers)
    if services.sms is not None:
        await services.sms.close()
    if services.telephony is not None:
        await services.telephony.close()
        await services.telephony.channel.close()
    await services.engine.dispose()
    return 0
