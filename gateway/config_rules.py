"""The rules a configuration value must follow, as typed annotations for the settings
dataclasses (pydantic, strict mode: nothing is coerced), and the Vietnamese sentence for
each broken rule. ``gateway.config`` declares the keys; this module knows no key.

A new key is one typed field: ``Annotated[int, Field(ge=0, le=100)]``, a ``Literal`` of
the allowed values, or one of the named types below.
"""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field
from pydantic_core import ErrorDetails

STRICT = ConfigDict(strict=True, extra="forbid")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


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


def _path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value:
        return Path(value)
    raise ValueError("phải là đường dẫn (chuỗi không rỗng)")


def _delays(value: str) -> str:
    try:
        delays = parse_delays(value)
    except ValueError as exc:
        raise ValueError(f"'{exc}' không phải khoảng thời gian (ví dụ 30s, 5m, 1h)") from None
    if len(delays) > 10:
        raise ValueError("tối đa 10 lần thử lại")
    return value


def _hhmm(value: str) -> str:
    if len(value) != 5 or value[2] != ":" or not (value[:2].isdigit() and value[3:].isdigit()):
        raise ValueError("phải có dạng GG:PP, ví dụ 21:00")
    if int(value[:2]) > 23 or int(value[3:]) > 59:
        raise ValueError("giờ phải từ 00:00 đến 23:59")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"không biết múi giờ '{value}' (ví dụ Asia/Ho_Chi_Minh)") from None
    return value


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError("phải có dạng máy:cổng, ví dụ 127.0.0.1:4573")
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"'{value}' không phải địa chỉ IP hay dải mạng (ví dụ 10.0.0.0/8)") from None
    return value


def _absolute_paths(value: str) -> str:
    for root in (r.strip() for r in value.split(",")):
        if root and not Path(root).is_absolute():
            raise ValueError(f"'{root}' phải là đường dẫn tuyệt đối, ví dụ /srv/loa/tin-moi")
    return value


def _hosts_or_networks(value: str) -> str:
    for entry in (e.strip().lower() for e in value.split(",")):
        if not entry:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", entry) is None:
                raise ValueError(f"'{entry}' không phải tên máy, địa chỉ IP hay dải mạng (ví dụ 10.0.0.0/8)") from None
    return value


def _prefix(*prefixes: str) -> AfterValidator:
    def check(value: str) -> str:
        if value and not value.startswith(prefixes):
            raise ValueError(f"phải bắt đầu bằng {' hoặc '.join(prefixes)}")
        return value

    return AfterValidator(check)


PathValue = Annotated[Path, BeforeValidator(_path)]
Text = Annotated[str, Field(min_length=1)]  # must not be empty
Delays = Annotated[str, AfterValidator(_delays)]
Clock = Annotated[str, AfterValidator(_hhmm)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Listen = Annotated[str, AfterValidator(_listen)]
Network = Annotated[str, AfterValidator(_network)]  # an IP address or a network, e.g. 10.0.0.0/8
DatabaseUrl = Annotated[str, _prefix("sqlite+aiosqlite://", "postgresql+asyncpg://")]
HttpUrl = Annotated[str, _prefix("http://", "https://")]
AgiUrl = Annotated[str, _prefix("agi://")]
Port = Annotated[int, Field(ge=1, le=65535)]
AbsolutePaths = Annotated[str, AfterValidator(_absolute_paths)]  # comma-separated
HostsOrNetworks = Annotated[str, AfterValidator(_hosts_or_networks)]  # comma-separated


def base_type(annotation: Any) -> Any:
    """``Annotated[int, ...] | None`` -> ``int``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def from_env(annotation: Any, text: str) -> Any:
    """An environment variable's text as the field's type, only where it reads exactly as
    one (``8080``, not ``8080.9``); otherwise the text itself, which the strict check refuses
    with the field's rule."""
    kind = base_type(annotation)
    stripped = text.strip()
    if kind is int:
        return int(stripped) if _INT.fullmatch(stripped) else text
    if kind is float:
        return float(stripped) if _FLOAT.fullmatch(stripped) else text
    if kind is bool:
        return {"true": True, "false": False}.get(stripped.lower(), text)
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text


def from_toml(annotation: Any, value: Any) -> Any:
    """TOML has arrays, Python's strict tuples do not: an array for a tuple key is one."""
    if typing.get_origin(base_type(annotation)) is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _bounds(metadata: list[Any]) -> tuple[Any, Any]:
    """(low, high) from a field's ``Field(ge=…, le=…)`` constraints (annotated-types objects)."""
    low = next((getattr(m, a) for m in metadata for a in ("ge", "gt") if getattr(m, a, None) is not None), None)
    high = next((getattr(m, a) for m in metadata for a in ("le", "lt") if getattr(m, a, None) is not None), None)
    return low, high


def explain(error: ErrorDetails, annotation: Any, metadata: list[Any], keys: list[str]) -> str:
    """One pydantic error as a Vietnamese rule (without the key's name)."""
    kind, value = error["type"], error.get("input")
    got = f" (nhận được {value!r})"
    if kind == "int_type":
        return "phải là số nguyên" + got
    if kind == "float_type":
        return "phải là số" + got
    if kind == "finite_number":
        return "phải là số hữu hạn" + got
    if kind == "bool_type":
        return "phải là true hoặc false" + got
    if kind == "string_type":
        return "phải là chuỗi ký tự" + got
    if kind == "tuple_type":
        return "phải là danh sách, ví dụ [\"10.0.0.2\"]" + got
    if kind == "string_too_short":
        return "không được để trống"
    if kind == "literal_error":
        allowed = [repr(a) if a == "" else str(a) for a in typing.get_args(base_type(annotation))]
        return f"phải là một trong: {', '.join(allowed)}" + got
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(metadata)
        if low is not None and high is not None:
            return f"phải từ {low} đến {high}" + got
        return (f"phải ít nhất {low}" if low is not None else f"phải nhiều nhất {high}") + got
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"khóa không được hỗ trợ (các khóa: {', '.join(keys)})"
    if kind in ("missing_argument", "missing"):
        return "bắt buộc"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return f"không hợp lệ ({error['msg']})"

