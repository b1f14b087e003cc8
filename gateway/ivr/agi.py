"""The FastAGI wire format (res/res_agi.c, reference/telephony.md §2.5): the ``agi_*``
environment block Asterisk sends first, commands as one ``\\n``-terminated line with
``"``-quoted arguments, and the replies ``200 result=<n>[ (<data>)][ endpos=<n>]``,
``510``, ``511``, one-line or multi-line ``520``; ``HANGUP`` arrives out of band.
Parsing only: no sockets here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_HEADER_BYTES = 16 * 1024
MAX_LINE = 8192  # Asterisk's AGI_BUF_LEN
DTMF = set("0123456789*#ABCD")
_REPLY = re.compile(r"^(\d{3})(?:[ -](.*))?$")
_RESULT = re.compile(r"result=(\S*)(?:\s+\((.*?)\))?(?:\s+endpos=(-?\d+))?")


class AgiProtocolError(Exception):
    """The peer sent something that is not FastAGI."""


@dataclass(frozen=True)
class Reply:
    code: int
    result: str = ""
    data: str = ""
    endpos: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int:
        """The numeric result (-1 failure/hangup); 0 when not numeric."""
        try:
            return int(self.result)
        except ValueError:
            return 0

    @property
    def digit(self) -> str:
        """The key pressed, from a result that is its ASCII code (STREAM FILE, WAIT FOR DIGIT);
        empty when the result is no DTMF key (a peer may send any number)."""
        code = self.value
        key = chr(code) if 0 < code < 128 else ""
        return key if key in DTMF else ""


def parse_reply(line: str) -> Reply:
    match = _REPLY.match(line.strip())
    if match is None:
        raise AgiProtocolError(f"dòng trả lời AGI không hợp lệ: {line[:80]!r}")
    code = int(match.group(1))
    rest = match.group(2) or ""
    if code != 200:
        return Reply(code, text=line)
    result = _RESULT.search(rest)
    if result is None:
        raise AgiProtocolError(f"trả lời 200 thiếu result=: {line[:80]!r}")
    endpos = int(result.group(3)) if result.group(3) is not None else None
    return Reply(200, result.group(1), result.group(2) or "", endpos, line)


@dataclass(frozen=True)
class Environment:
    values: dict[str, str]

    @property
    def script(self) -> str:
        """The script name without its query string (Asterisk sends both)."""
        return self.values.get("agi_network_script", "").split("?", 1)[0].strip("/")

    @property
    def query(self) -> dict[str, str]:
        raw = self.values.get("agi_network_script", "")
        return dict(parse_qsl(raw.split("?", 1)[1])) if "?" in raw else {}

    @property
    def args(self) -> list[str]:
        out = []
        n = 1
        while f"agi_arg_{n}" in self.values:
            out.append(self.values[f"agi_arg_{n}"])
            n += 1
        return out

    @property
    def caller(self) -> str:
        value = self.values.get("agi_callerid", "")
        return "" if value in ("", "unknown") else value

    @property
    def uniqueid(self) -> str:
        return self.values.get("agi_uniqueid", "")


def parse_environment(block: bytes) -> Environment:
    """The header block up to (not including) the blank line."""
    values: dict[str, str] = {}
    for raw in block.decode("utf-8", "replace").split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise AgiProtocolError(f"dòng môi trường AGI không hợp lệ: {line[:80]!r}")
        values[key.strip()] = value.strip()
    if "agi_request" not in values and "agi_network" not in values:
        raise AgiProtocolError("thiếu agi_request/agi_network: không phải FastAGI")
    return Environment(values)


def quote(arg: str) -> str:
    """One argument as res_agi.c's parser reads it: quoted when it holds blanks or quotes."""
    if arg and not any(c in arg for c in ' \t"\\'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(*words: str) -> str:
    for word in words:
        if "\n" in word or "\r" in word:
            raise ValueError("an AGI argument cannot hold a line break")
    line = " ".join(quote(w) if n else w for n, w in enumerate(words))
    if len(line) >= MAX_LINE:
        raise ValueError(f"AGI command longer than {MAX_LINE} bytes")
    return line
