"""Gateway configuration: a TOML file plus ``LOA_*`` environment variables.

``load_settings`` never raises on a bad value half-way: it collects every wrong key and
value, and ``ConfigError`` lists them all (``loa config check`` prints them).
"""

from __future__ import annotations

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
    quiet_hours: dict[str, QuietHours] = field(default_factory=lambda: {"sms": QuietHours(), "call": QuietHours()})

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'loa.db').as_posix()}"

    @property
    def sms_transport_kind(self) -> str:
        return self.sms_transport or ("kannel" if self.kannel_sendsms_url else "")

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
}


def _coerce(key: str, value: Any, problems: list[str]) -> Any:
    kind = _TYPES[key]
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
        if key == "quiet_hours":
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
    settings = Settings(**values, quiet_hours=quiet) if not problems else Settings()
    if not problems:
        problems += _validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


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
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.timezone)
    except Exception:
        problems.append(f"timezone: không biết múi giờ '{s.timezone}'")
    return problems
