"""Gateway configuration: a TOML file plus ``LOA_*`` environment variables.

``load_settings`` never raises on a bad value half-way: it collects every wrong key and
value, and ``ConfigError`` lists them all (``loa config check`` prints them).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import field, fields
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from gateway.config_rules import (
    STRICT,
    AbsolutePaths,
    AgiUrl,
    Clock,
    DatabaseUrl,
    Delays,
    HostsOrNetworks,
    HttpUrl,
    Listen,
    Network,
    PathValue,
    Port,
    Text,
    TimeZone,
    explain,
    from_env,
    from_toml,
    parse_delays,
)

DEFAULT_DATA_DIR = Path("data")
# LOA_* variables that other parts of Loa read; every other LOA_* must be a key below.
NOT_SETTINGS = frozenset({"LOA_CONFIG", "LOA_MODELS_DIR", "LOA_SHARED_DIR"})
QUIET_CHANNELS = ("sms", "call")


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, config=STRICT)
class QuietHours:
    start: Clock = "21:00"
    end: Clock = "06:00"


@dataclass(frozen=True, config=STRICT)
class AsteriskServer:
    """One Asterisk server: its manager login and its trunk's budget of calls."""

    name: Text
    host: Text = "127.0.0.1"
    port: Port = 5038
    username: str = ""
    secret: str = ""
    channels: Annotated[int, Field(ge=1, le=1000)] = 10
    dial: str = "PJSIP/{number}@trunk"  # {number}: 0912345678; {e164}: +84912345678
    caller_id: str = ""
    # Media over HTTP (asterisk_media = "http"): recordings come back through this server's
    # ARI (GET /ari/recordings/stored/{name}/file), written by RECORD FILE into its spool.
    ari_url: HttpUrl = ""  # e.g. http://10.0.0.2:8088 (http.conf); empty: no ARI
    ari_username: str = ""  # an ari.conf user (read_only = no: Loa deletes what it fetched)
    ari_password: str = ""
    recordings_dir: Text = "/var/spool/asterisk/recording"  # Asterisk's astspooldir/recording

    @property
    def ami(self) -> dict[str, Any]:
        """The manager login part (``telephony.ami.ServerConfig``)."""
        return {k: getattr(self, k) for k in AMI_KEYS}


AMI_KEYS = ("name", "host", "port", "username", "secret", "channels", "dial", "caller_id")


@dataclass(frozen=True, config=STRICT)
class Settings:
    """Every key of ``loa.toml`` (and ``LOA_<KEY>``): one typed field each, checked strictly
    (docs/configuration.md lists them)."""

    data_dir: PathValue = DEFAULT_DATA_DIR
    database_url: DatabaseUrl = ""  # default: sqlite+aiosqlite:///<data_dir>/loa.db
    host: Text = "127.0.0.1"
    port: Port = 8080
    voice: Text = "vi-espeak"
    timezone: TimeZone = "Asia/Ho_Chi_Minh"
    secret_key: str = ""  # default: generated once into <data_dir>/secret_key
    file_channel_dir: PathValue | None = None  # default: <data_dir>/outbox
    worker_id: str = ""
    lease_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    role: Literal["all", "web", "worker"] = "all"
    kannel_sendsms_url: HttpUrl = ""  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms; empty: no Kannel
    kannel_username: str = ""
    kannel_password: str = ""
    sms_sender: str = ""
    sms_transport: Literal["", "kannel", "smpp", "modem"] = ""  # empty: kannel when kannel_sendsms_url is set
    sms_tps: Annotated[int, Field(ge=0, le=10000)] = 10  # messages per second the contract allows; 0: no limit
    sms_daily_cap: Annotated[int, Field(ge=0, le=100)] = 3  # bulletin SMS per number per day; 0: no cap
    smpp_host: str = ""
    smpp_port: Port = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_system_type: str = ""
    smpp_window: Annotated[int, Field(ge=1, le=100)] = 10  # outstanding submits per bind (SMPP §2.5)
    smpp_binds: Annotated[int, Field(ge=1, le=20)] = 1  # binds the account allows, all processes together
    smpp_number_format: Literal["international", "national"] = "international"  # 84... | 0...
    modem_device: str = ""  # e.g. /dev/ttyUSB0
    modem_connection: Text = "at"  # Gammu connection, e.g. at115200
    modem_poll_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    icecast_password: str = ""  # the Icecast server's source password, for stream devices
    asr_model: str = ""  # installed ASR model name (loa asr list); empty: the first installed
    agi_listen: Listen = "127.0.0.1:4573"  # where Loa's FastAGI server listens
    agi_url: AgiUrl = ""  # how Asterisk reaches it, e.g. agi://10.0.0.5:4573; default: agi://<agi_listen>
    agi_allowed_hosts: tuple[Text, ...] = ()  # who may open FastAGI sessions; default: the [[asterisk]] hosts
    agi_secret: str = ""  # when set, every AGI URL must carry ?secret=<this> (conf/asterisk/extensions.conf)
    asterisk_sounds_dir: PathValue | None = None  # shared with Asterisk; default: <data_dir>/asterisk/sounds
    asterisk_recordings_dir: PathValue | None = None  # shared with Asterisk; default: <data_dir>/asterisk/recordings
    asterisk_media: Literal["shared", "http"] = "shared"  # how Asterisk gets prompts/bulletins and Loa recordings
    asterisk_media_url: HttpUrl = ""  # how Asterisk reaches this Loa over HTTP; default: http://<host>:<port>
    asterisk_media_link_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600  # a signed media URL's life
    ivr_flows_dir: PathValue | None = None  # default: the ivr_flows/ shipped with Loa
    call_cps: Annotated[float, Field(ge=0.05, le=100, allow_inf_nan=False)] = 2.0  # new calls per second, all servers
    call_ring_seconds: Annotated[int, Field(ge=5, le=120)] = 30
    call_retry_busy: Delays = "5m,15m"  # delays before each retry of a busy number (17)
    call_retry_no_answer: Delays = "15m,60m"  # no answer (18/19), phone off (20)
    call_congestion_backoff: Delays = "2m"  # a congested trunk (34, 38, 41, 42) takes no calls this long
    call_daily_cap: Annotated[int, Field(ge=0, le=100)] = 2  # bulletin calls answered per number per day; 0: none
    trusted_proxies: tuple[Network, ...] = ()  # reverse proxies whose X-Forwarded-For/-Proto count
    secure_cookies: Literal["auto", "always"] = "auto"  # always: Secure cookies even over plain HTTP (TLS proxy)
    import_roots: AbsolutePaths = ""  # folders `folder` sources may watch; default: <data_dir>/imports
    cap_test_areas: str = ""  # area codes (comma separated) that CAP Test/Exercise alerts reach; empty: none
    fetch_allow: HostsOrNetworks = ""  # private hosts or networks feeds may reach, e.g. "10.0.0.5, 192.168.1.0/24"
    asterisk: tuple[AsteriskServer, ...] = ()
    quiet_hours: dict[str, QuietHours] = field(default_factory=lambda: {"sms": QuietHours(), "call": QuietHours()})

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'loa.db').as_posix()}"

    @property
    def sms_transport_kind(self) -> str:
        return self.sms_transport or ("kannel" if self.kannel_sendsms_url else "")

    @property
    def sounds_dir(self) -> Path:
        return self.asterisk_sounds_dir or self.data_dir / "asterisk" / "sounds"

    @property
    def recordings_dir(self) -> Path:
        return self.asterisk_recordings_dir or self.data_dir / "asterisk" / "recordings"

    @property
    def media_url(self) -> str:
        return (self.asterisk_media_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def flows_dir(self) -> Path:
        return self.ivr_flows_dir or Path(__file__).resolve().parent.parent / "ivr_flows"

    @property
    def agi_address(self) -> tuple[str, int]:
        host, _, port = self.agi_listen.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def agi_peers(self) -> tuple[str, ...]:
        """Who may open a FastAGI session: ``agi_allowed_hosts``, else the Asterisk servers."""
        return self.agi_allowed_hosts or tuple(dict.fromkeys(s.host for s in self.asterisk))

    @property
    def outbox(self) -> Path:
        return self.file_channel_dir or self.data_dir / "outbox"

    @property
    def import_root_paths(self) -> tuple[Path, ...]:
        roots = tuple(Path(p.strip()) for p in self.import_roots.split(",") if p.strip())
        return roots or (self.data_dir / "imports",)

    @property
    def fetch_allow_list(self) -> tuple[str, ...]:
        return tuple(p.strip().lower() for p in self.fetch_allow.split(",") if p.strip())


NESTED = ("asterisk", "quiet_hours")
FIELDS: dict[str, Any] = Settings.__pydantic_fields__  # type: ignore[attr-defined]


def _check(kind: type[Any], values: dict[str, Any], where: str, problems: list[str], sources: dict[str, str]) -> Any:
    """``kind(**values)``, or None with each broken rule added to ``problems``."""
    try:
        return kind(**values)
    except ValidationError as exc:
        specs = kind.__pydantic_fields__
        keys = [k for k in specs if k not in NESTED]
        for error in exc.errors():
            parts = [part for part in error["loc"] if part != "__init__"]
            key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")
            spec = specs.get(str(parts[0])) if parts else None
            rule = explain(error, spec.annotation if spec else None, spec.metadata if spec else [], keys)
            source = sources.get(str(parts[0])) if parts else None
            origin = f" ({source})" if source else ""
            problems.append(f"{where}{key}: {rule}{origin}")
        return None


def _typed(kind: type[Any], table: dict[str, Any]) -> dict[str, Any]:
    specs = kind.__pydantic_fields__
    return {k: from_toml(specs[k].annotation, v) if k in specs else v for k, v in table.items()}


def _servers(raw: Any, problems: list[str]) -> tuple[AsteriskServer, ...]:
    """``[[asterisk]]`` tables: one per Asterisk server."""
    if not isinstance(raw, list):
        problems.append("asterisk: cần dạng [[asterisk]] (mỗi máy chủ Asterisk một bảng)")
        return ()
    servers = []
    for n, table in enumerate(raw):
        where = f"asterisk[{n}]."
        if not isinstance(table, dict):
            problems.append(f"asterisk[{n}]: phải là một bảng")
            continue
        if not table.get("name"):
            problems.append(f"{where}name: bắt buộc (tên máy chủ, ví dụ 'tong-dai-xa')")
            continue
        server = _check(AsteriskServer, _typed(AsteriskServer, table), where, problems, {})
        if server is None:
            continue
        if "{number}" not in server.dial and "{e164}" not in server.dial:
            problems.append(f"{where}dial: phải chứa {{number}} hoặc {{e164}}, ví dụ PJSIP/{{number}}@viettel")
        if "/" not in server.dial:
            problems.append(f"{where}dial: phải có dạng Công_nghệ/đích, ví dụ PJSIP/{{number}}@viettel")
        servers.append(server)
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        problems.append("asterisk: tên máy chủ bị trùng")
    return tuple(servers)


def _quiet(raw: Any, problems: list[str]) -> dict[str, QuietHours]:
    quiet: dict[str, QuietHours] = dict(Settings().quiet_hours)
    if not isinstance(raw, dict):
        problems.append("quiet_hours: cần bảng [quiet_hours.sms] / [quiet_hours.call]")
        return quiet
    for channel, spec in raw.items():
        if channel not in QUIET_CHANNELS:
            problems.append(f"quiet_hours.{channel}: khóa không được hỗ trợ (các khóa: {', '.join(QUIET_CHANNELS)})")
        elif not isinstance(spec, dict):
            problems.append(f"quiet_hours.{channel}: cần bảng với 'start' và 'end'")
        else:
            hours = _check(QuietHours, spec, f"quiet_hours.{channel}.", problems, {})
            if hours is not None:
                quiet[channel] = hours
    return quiet


def load_settings(
    path: Path | None = None, env: dict[str, str] | None = None, cli: dict[str, str] | None = None
) -> Settings:
    """The file's keys, then ``LOA_<KEY>`` variables over them, then command-line values
    (``cli``: key -> text, e.g. ``loa serve --port``); every problem of every key at once
    in ``ConfigError`` (``loa config check`` prints them)."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError([f"{path}: không đọc được tệp cấu hình ({exc.strerror})"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: TOML sai cú pháp ({exc})"]) from exc
    values = _typed(Settings, {k: v for k, v in raw.items() if k not in NESTED})
    specs = {f.name: FIELDS[f.name] for f in fields(Settings) if f.name not in NESTED}
    sources: dict[str, str] = {}
    for name, text in sorted(env.items()):
        if not name.startswith("LOA_") or name in NOT_SETTINGS:
            continue
        key = name[4:].lower()
        if key not in specs:
            problems.append(f"{name}: biến môi trường không được hỗ trợ (LOA_ + tên khóa, ví dụ LOA_PORT)")
            continue
        values[key], sources[key] = from_env(specs[key].annotation, text), f"biến môi trường {name}"
    for key, text in (cli or {}).items():
        values[key], sources[key] = from_env(specs[key].annotation, text), f"tham số --{key.replace('_', '-')}"
    values["asterisk"] = _servers(raw.get("asterisk", []), problems)
    values["quiet_hours"] = _quiet(raw.get("quiet_hours", {}), problems)
    settings = _check(Settings, values, "", problems, sources)
    if settings is not None and not problems:
        problems += _validate(settings)
    if problems:
        raise ConfigError(problems)
    assert isinstance(settings, Settings)  # no problems: built
    return settings


def _validate(s: Settings) -> list[str]:
    """Rules between keys (each key's own rules are in its type)."""
    problems = []
    transport = s.sms_transport_kind
    if transport == "kannel" and not s.kannel_sendsms_url:
        problems.append("kannel_sendsms_url: bắt buộc khi sms_transport = kannel")
    if transport == "smpp" and not (s.smpp_host and s.smpp_system_id):
        problems.append("smpp_host, smpp_system_id: bắt buộc khi sms_transport = smpp")
    if transport == "modem" and not s.modem_device:
        problems.append("modem_device: bắt buộc khi sms_transport = modem (ví dụ /dev/ttyUSB0)")
    if s.asterisk_media == "http":
        if not s.asterisk_media_url and s.host in ("0.0.0.0", "::", ""):
            where = f"asterisk_media_url: bắt buộc khi asterisk_media = http và host = {s.host}"
            problems.append(f"{where} (Asterisk cần một địa chỉ thật của Loa)")
        for n, server in enumerate(s.asterisk):
            if not server.ari_url:
                problems.append(f"asterisk[{n}].ari_url: bắt buộc khi asterisk_media = http (ghi âm lấy về qua ARI)")
    return problems


__all__ = [
    "DEFAULT_DATA_DIR",
    "AsteriskServer",
    "ConfigError",
    "QuietHours",
    "Settings",
    "load_settings",
    "parse_delays",
]
