"""Gateway configuration: a TOML file plus ``LOA_*`` environment variables.

``load_settings`` never raises on a bad value half-way: it collects every wrong key and
value, and ``ConfigError`` lists them all (``loa config check`` prints them).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data")


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class QuietHours:
    start: str = "21:00"
    end: str = "06:00"


@dataclass(frozen=True)
class AsteriskServer:
    """One Asterisk server: its manager login and its trunk's budget of calls."""

    name: str
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = ""
    channels: int = 10
    dial: str = "PJSIP/{number}@trunk"  # {number}: 0912345678; {e164}: +84912345678
    caller_id: str = ""


def parse_delays(text: str) -> list[float]:
    """ "5m,15m,1h" -> seconds; raises ValueError naming the bad item."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        unit = {"s": 1, "m": 60, "h": 3600}.get(item[-1])
        number = item[:-1] if unit else item
        if not number.replace(".", "", 1).isdigit():
            raise ValueError(item)
        out.append(float(number) * (unit or 1))
    return out


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""  # default: sqlite+aiosqlite:///<data_dir>/loa.db
    host: str = "127.0.0.1"
    port: int = 8080
    voice: str = "vi-espeak"
    timezone: str = "Asia/Ho_Chi_Minh"
    secret_key: str = ""  # default: generated once into <data_dir>/secret_key
    file_channel_dir: Path | None = None  # default: <data_dir>/outbox
    worker_id: str = ""
    lease_seconds: int = 60
    max_attempts: int = 5
    role: str = "all"  # all | web | worker
    kannel_sendsms_url: str = ""  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms; empty: no Kannel
    kannel_username: str = ""
    kannel_password: str = ""
    sms_sender: str = ""
    sms_transport: str = ""  # kannel | smpp | modem; empty: kannel when kannel_sendsms_url is set
    sms_tps: int = 10  # messages per second the operator contract allows; 0: no limit
    sms_daily_cap: int = 3  # bulletin SMS per number per day (emergencies exempt); 0: no cap
    smpp_host: str = ""
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_system_type: str = ""
    smpp_window: int = 10
    smpp_number_format: str = "international"  # international (84...) | national (0...)
    modem_device: str = ""  # e.g. /dev/ttyUSB0
    modem_connection: str = "at"  # Gammu connection, e.g. at115200
    modem_poll_seconds: int = 10
    icecast_password: str = ""  # the Icecast server's source password, for stream devices
    asr_model: str = ""  # installed ASR model name (loa asr list); empty: the first installed
    agi_listen: str = "127.0.0.1:4573"  # where Loa's FastAGI server listens
    agi_url: str = ""  # how Asterisk reaches it, e.g. agi://10.0.0.5:4573; default: agi://<agi_listen>
    asterisk_sounds_dir: Path | None = None  # shared with Asterisk; default: <data_dir>/asterisk/sounds
    asterisk_recordings_dir: Path | None = None  # shared with Asterisk; default: <data_dir>/asterisk/recordings
    ivr_flows_dir: Path | None = None  # default: the ivr_flows/ shipped with Loa
    call_cps: float = 2.0  # new calls per second over all Asterisk servers
    call_ring_seconds: int = 30
    call_retry_busy: str = "5m,15m"  # delays before each retry of a busy number (17)
    call_retry_no_answer: str = "15m,60m"  # no answer (18/19), phone off (20)
    call_congestion_backoff: str = "2m"  # a congested trunk (34, 38, 41, 42) takes no calls this long
    call_daily_cap: int = 2  # bulletin calls answered per number per day (emergencies exempt); 0: none
    trusted_proxies: str = ""  # reverse proxies whose X-Forwarded-For/-Proto count, e.g. "127.0.0.1, 10.0.0.0/8"
    secure_cookies: str = "auto"  # auto: Secure when served over HTTPS; always: behind a TLS proxy
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
    def flows_dir(self) -> Path:
        return self.ivr_flows_dir or Path(__file__).resolve().parent.parent / "ivr_flows"

    @property
    def agi_address(self) -> tuple[str, int]:
        host, _, port = self.agi_listen.rpartition(":")
        return host or "127.0.0.1", int(port)

    @property
    def outbox(self) -> Path:
        return self.file_channel_dir or self.data_dir / "outbox"


_TYPES: dict[str, type] = {
    "data_dir": Path,
    "database_url": str,
    "host": str,
    "port": int,
    "voice": str,
    "timezone": str,
    "secret_key": str,
    "file_channel_dir": Path,
    "worker_id": str,
    "lease_seconds": int,
    "max_attempts": int,
    "role": str,
    "kannel_sendsms_url": str,
    "kannel_username": str,
    "kannel_password": str,
    "sms_sender": str,
    "sms_transport": str,
    "sms_tps": int,
    "sms_daily_cap": int,
    "smpp_host": str,
    "smpp_port": int,
    "smpp_system_id": str,
    "smpp_password": str,
    "smpp_system_type": str,
    "smpp_window": int,
    "smpp_number_format": str,
    "modem_device": str,
    "modem_connection": str,
    "modem_poll_seconds": int,
    "asr_model": str,
    "icecast_password": str,
    "agi_listen": str,
    "agi_url": str,
    "asterisk_sounds_dir": Path,
    "asterisk_recordings_dir": Path,
    "ivr_flows_dir": Path,
    "call_cps": float,
    "call_ring_seconds": int,
    "call_retry_busy": str,
    "call_retry_no_answer": str,
    "call_congestion_backoff": str,
    "call_daily_cap": int,
    "trusted_proxies": str,
    "secure_cookies": str,
}
_SERVER_TYPES: dict[str, type] = {
    "name": str,
    "host": str,
    "port": int,
    "username": str,
    "secret": str,
    "channels": int,
    "dial": str,
    "caller_id": str,
}


def _coerce(key: str, value: Any, problems: list[str]) -> Any:
    kind = _TYPES[key]
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            problems.append(f"{key}: phải là số (nhận được {value!r})")
            return None
    if kind is int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            problems.append(f"{key}: phải là số nguyên (nhận được {value!r})")
            return None
        return number
    if kind is Path:
        if not isinstance(value, str) or not value:
            problems.append(f"{key}: phải là đường dẫn (chuỗi không rỗng)")
            return None
        return Path(value)
    if not isinstance(value, str):
        problems.append(f"{key}: phải là chuỗi ký tự")
        return None
    return value


def _check_hhmm(key: str, value: Any, problems: list[str]) -> str | None:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        problems.append(f"{key}: phải có dạng GG:PP, ví dụ 21:00")
        return None
    hh, mm = value[:2], value[3:]
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        problems.append(f"{key}: giờ phải từ 00:00 đến 23:59")
        return None
    return value


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
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
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    for key, value in raw.items():
        if key in ("quiet_hours", "asterisk"):
            continue
        if key not in known:
            problems.append(f"{key}: khóa không được hỗ trợ (các khóa: {', '.join(sorted(known))})")
            continue
        coerced = _coerce(key, value, problems)
        if coerced is not None:
            values[key] = coerced
    for key in _TYPES:
        env_key = f"LOA_{key.upper()}"
        if env_key in env:
            coerced = _coerce(key, env[env_key], problems)
            if coerced is not None:
                values[key] = coerced
    quiet: dict[str, QuietHours] = dict(Settings().quiet_hours)
    for channel, spec in dict(raw.get("quiet_hours", {})).items():
        if not isinstance(spec, dict) or set(spec) - {"start", "end"}:
            problems.append(f"quiet_hours.{channel}: cần bảng với 'start' và 'end'")
            continue
        start = _check_hhmm(f"quiet_hours.{channel}.start", spec.get("start", "21:00"), problems)
        end = _check_hhmm(f"quiet_hours.{channel}.end", spec.get("end", "06:00"), problems)
        if start and end:
            quiet[channel] = QuietHours(start, end)
    servers = _servers(raw.get("asterisk", []), problems)
    settings = Settings(**values, quiet_hours=quiet, asterisk=servers) if not problems else Settings()
    if not problems:
        problems += _validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _servers(raw: Any, problems: list[str]) -> tuple[AsteriskServer, ...]:
    """``[[asterisk]]`` tables: one per Asterisk server."""
    if not isinstance(raw, list):
        problems.append("asterisk: cần dạng [[asterisk]] (mỗi máy chủ Asterisk một bảng)")
        return ()
    servers = []
    for n, table in enumerate(raw):
        where = f"asterisk[{n}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: phải là một bảng")
            continue
        values: dict[str, Any] = {}
        for key, value in table.items():
            kind = _SERVER_TYPES.get(key)
            if kind is None:
                problems.append(f"{where}.{key}: khóa không được hỗ trợ (các khóa: {', '.join(_SERVER_TYPES)})")
            elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(f"{where}.{key}: phải là số nguyên")
            elif kind is str and not isinstance(value, str):
                problems.append(f"{where}.{key}: phải là chuỗi ký tự")
            else:
                values[key] = value
        if not values.get("name"):
            problems.append(f"{where}.name: bắt buộc (tên máy chủ, ví dụ 'tong-dai-xa')")
            continue
        server = AsteriskServer(**values)
        if not 1 <= server.channels <= 1000:
            problems.append(f"{where}.channels: phải từ 1 đến 1000 (số cuộc gọi đồng thời của trung kế)")
        if "{number}" not in server.dial and "{e164}" not in server.dial:
            problems.append(f"{where}.dial: phải chứa {{number}} hoặc {{e164}}, ví dụ PJSIP/{{number}}@viettel")
        if "/" not in server.dial:
            problems.append(f"{where}.dial: phải có dạng Công_nghệ/đích, ví dụ PJSIP/{{number}}@viettel")
        servers.append(server)
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        problems.append("asterisk: tên máy chủ bị trùng")
    return tuple(servers)


def _validate(s: Settings) -> list[str]:
    problems = []
    if not 1 <= s.port <= 65535:
        problems.append("port: phải từ 1 đến 65535")
    if s.lease_seconds < 5:
        problems.append("lease_seconds: phải ít nhất 5 giây")
    if not 1 <= s.max_attempts <= 50:
        problems.append("max_attempts: phải từ 1 đến 50")
    transport = s.sms_transport or ("kannel" if s.kannel_sendsms_url else "")
    if transport not in ("", "kannel", "smpp", "modem"):
        problems.append("sms_transport: phải là kannel, smpp hoặc modem")
    if transport == "kannel" and not s.kannel_sendsms_url:
        problems.append("kannel_sendsms_url: bắt buộc khi sms_transport = kannel")
    if transport == "smpp" and not (s.smpp_host and s.smpp_system_id):
        problems.append("smpp_host, smpp_system_id: bắt buộc khi sms_transport = smpp")
    if transport == "modem" and not s.modem_device:
        problems.append("modem_device: bắt buộc khi sms_transport = modem (ví dụ /dev/ttyUSB0)")
    if not 1 <= s.smpp_window <= 100:
        problems.append("smpp_window: phải từ 1 đến 100 (tổng đài thường cho phép 10)")
    if s.smpp_number_format not in ("international", "national"):
        problems.append("smpp_number_format: phải là international hoặc national")
    if s.sms_tps < 0 or s.sms_daily_cap < 0:
        problems.append("sms_tps, sms_daily_cap: không được âm")
    if s.role not in ("all", "web", "worker"):
        problems.append("role: phải là all, web hoặc worker")
    if not (s.db_url.startswith("sqlite+aiosqlite://") or s.db_url.startswith("postgresql+asyncpg://")):
        problems.append("database_url: phải bắt đầu bằng sqlite+aiosqlite:// hoặc postgresql+asyncpg://")
    for key in ("call_retry_busy", "call_retry_no_answer", "call_congestion_backoff"):
        try:
            delays = parse_delays(getattr(s, key))
        except ValueError as exc:
            problems.append(f"{key}: '{exc}' không phải khoảng thời gian (ví dụ 30s, 5m, 1h)")
            continue
        if len(delays) > 10:
            problems.append(f"{key}: tối đa 10 lần thử lại")
    if not 0.05 <= s.call_cps <= 100:
        problems.append("call_cps: phải từ 0.05 đến 100 cuộc gọi mỗi giây")
    if not 5 <= s.call_ring_seconds <= 120:
        problems.append("call_ring_seconds: phải từ 5 đến 120 giây")
    if s.call_daily_cap < 0:
        problems.append("call_daily_cap: không được âm")
    try:
        s.agi_address  # noqa: B018 (parse check)
    except ValueError:
        problems.append("agi_listen: phải có dạng máy:cổng, ví dụ 127.0.0.1:4573")
    if s.secure_cookies not in ("auto", "always"):
        problems.append("secure_cookies: phải là auto (theo HTTPS của yêu cầu) hoặc always")
    for part in filter(None, (p.strip() for p in s.trusted_proxies.split(","))):
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            problems.append(f"trusted_proxies: '{part}' không phải địa chỉ IP hay dải mạng (ví dụ 10.0.0.0/8)")
    if s.agi_url and not s.agi_url.startswith("agi://"):
        problems.append("agi_url: phải bắt đầu bằng agi://")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.timezone)
    except Exception:
        problems.append(f"timezone: không biết múi giờ '{s.timezone}'")
    return problems
