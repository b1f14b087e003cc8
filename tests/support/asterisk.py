"""An Asterisk stand-in: the manager interface (AMI) on TCP, and the FastAGI client side of
calls, written from Asterisk's documentation and source (reference/telephony.md §2), not
from what Loa sends.

- AMI (main/manager.c): the ``Asterisk Call Manager/<version>`` banner, ``Key: Value`` lines
  ending in CRLF (bare LF accepted on input), a blank line ending a message, ActionID echoed
  only when given, Login (failure: 1 s pause, ``Authentication failed``, connection closed),
  ``Permission denied`` before login, FullyBooted only for sessions that receive system
  events, Ping, Logoff, CoreShowChannels as an EventList, unknown actions refused, Originate
  with its pre-checks, sync (held until the outcome) or async (``Originate successfully
  queued`` then an OriginateResponse whose Reason follows pbx_dial_reason), channel events
  (Newchannel, Newstate, Hangup with Cause and Cause-txt), the Hangup action for an
  answered call (the channel found by name or Uniqueid, its Cause given), Shutdown on restart.
- FastAGI (res/res_agi.c): the ``agi_*`` environment block, ``200 result=`` replies for
  ANSWER, STREAM FILE, GET DATA, WAIT FOR DIGIT, RECORD FILE, SAY DIGITS, SET/GET VARIABLE,
  EXEC, HANGUP; ``510`` for unknown commands, multi-line ``520`` usage errors; after the
  caller hangs up, the media command returns ``result=-1``, an unsolicited ``HANGUP`` line
  follows, and later commands that are not dead-safe get ``511``.

Sound files named by URL are fetched over HTTP as Asterisk's media cache does, and stored
recordings are served over ARI (tests/support/asterisk_http.py); the stand-in keeps its
files in its own directory (``root``: its astspooldir), never Loa's.

Callers are scripted: the outcome of dialling them, the keys they press, the command
during which they hang up, and what they say (a WAV) when recorded. Media plays at
``speed`` times real time so tests stay short.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import shlex
import shutil
import tempfile
import time
import wave
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.asterisk_http import AriServer, MediaCache

AMI_VERSION = "9.0.0"  # Asterisk 20
DIALPLAN = Path(__file__).resolve().parents[2] / "conf" / "asterisk" / "extensions.conf"
CAUSES = {
    "answer": (16, "Normal Clearing"),
    "unallocated": (1, "Unallocated (unassigned) number"),
    # res_pjsip.c ast_sip_hangup_sip2cause: a trunk's 401/403/407 is cause 21, its 404 cause 1,
    # the same causes as a resident declining (603) or a number that does not exist.
    "sip401": (21, "Call Rejected"),
    "sip403": (21, "Call Rejected"),
    "sip407": (21, "Call Rejected"),
    "sip404": (1, "Unallocated (unassigned) number"),
    "sip603": (21, "Call Rejected"),
    "busy": (17, "User busy"),
    "no_response": (18, "No user responding"),
    "no_answer": (19, "User alerting, no answer"),
    "absent": (20, "Subscriber absent"),
    "rejected": (21, "Call Rejected"),
    "congestion": (34, "Circuit/channel congestion"),
    "network_down": (38, "Network out of order"),
    "chanunavail": (0, "Unknown"),  # the channel could not even be created: no channel, no Hangup
}
# main/pbx.c pbx_dial_reason (Asterisk >= 12): the Reason of an OriginateResponse.
CONGESTION_CAUSES = {21, 27, 34, 38, 41, 42}
DEAD_SAFE = {"EXEC", "GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "VERBOSE", "NOOP"}
SOUND_EXTENSIONS = ("ulaw", "alaw", "sln", "wav", "gsm", "g722", "wav16", "sln16")
USAGE = {
    "STREAM FILE": " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
    "RECORD FILE": " Usage: RECORD FILE <filename> <format> <escape digits> <timeout> [offset samples] [BEEP]"
    " [s=silence]",
    "GET DATA": " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    "WAIT FOR DIGIT": " Usage: WAIT FOR DIGIT <timeout>",
    "SAY DIGITS": " Usage: SAY DIGITS <number> <escape digits>",
    "SET VARIABLE": " Usage: SET VARIABLE <variablename> <value>",
}


SIP_CODES = {"sip401": 401, "sip403": 403, "sip407": 407, "sip404": 404, "sip603": 603, "busy": 486}
AMD_CAUSES = {  # app_amd.c: AMDCAUSE for each AMDSTATUS
    "HUMAN": "HUMAN-300-800",
    "MACHINE": "LONGGREETING-1600-1500",
    "NOTSURE": "TOOLONG-5000",
    "HANGUP": "",
}


def dial_reason(cause: int, answered: bool) -> int:
    if answered:
        return 4
    if cause == 17:
        return 5
    if cause in (19, 26):
        return 3
    if cause in CONGESTION_CAUSES:
        return 8
    return 0


@dataclass
class Script:
    """What one caller does."""

    outcome: str = "answer"  # a key of CAUSES
    keys: list[str] = field(default_factory=list)  # one entry per prompt that waits for keys; "" = none
    hangup_at: int | None = None  # the caller hangs up during this AGI command (0 = the first)
    say: Path | None = None  # an 8 kHz mono WAV spoken when recorded
    ring_seconds: float = 0.02
    amd: str = "HUMAN"  # what AMD() concludes: HUMAN, MACHINE, NOTSURE or HANGUP (app_amd.c)
    record_error: str = ""  # RECORD FILE fails: "writefile" (file not opened) or "randomerror"
    unreadable: tuple[str, ...] = ()  # sound files Asterisk cannot open (not on its disk): name parts


@dataclass
class CallLog:
    uniqueid: str
    number: str
    script_name: str = ""
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, reply)
    played: list[str] = field(default_factory=list)  # sound files found and played (from their start)
    finished: list[str] = field(default_factory=list)  # those played to their end (no key, no hang-up, no cut)
    on_finished: Callable[[str], None] | None = None  # told of each, as it ends (a log that outlives a kill)
    missing: list[str] = field(default_factory=list)  # sound files asked for but not found
    recorded: list[Path] = field(default_factory=list)
    execs: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[str] = field(default_factory=list)  # the AGI URLs the dialplan connected to
    cause: int = 0
    waits: list[float] = field(default_factory=list)  # seconds from a reply (or the header) to the next command


class _Dead(Exception):
    pass


class AgiCall:
    """The Asterisk side of one FastAGI session (res_agi.c launch_netscript + run_agi)."""

    def __init__(
        self,
        log: CallLog,
        script: Script,
        speed: float,
        env: dict[str, str],
        media: MediaCache | None = None,
        local: str = "",
    ) -> None:
        self.log = log
        self.media = media  # None: a name with :// is never found
        self.local = local  # the address the FastAGI connection comes from ("": any)
        self.script = script
        self.speed = speed
        self.env = env
        self.keys = list(script.keys)
        self.count = 0
        self.hung_up = False
        self.replied = 0.0
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def run(self, url: str) -> None:
        self.log.requests.append(url)
        parts = urlsplit(url)
        self.reader, self.writer = await asyncio.open_connection(
            parts.hostname, parts.port or 4573, local_addr=(self.local, 0) if self.local else None
        )
        script = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        header = {"agi_network": "yes"}
        if script:
            header["agi_network_script"] = script
        header["agi_request"] = url
        header.update(self.env)
        self.writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
        await self.writer.drain()
        loop = asyncio.get_running_loop()
        self.replied = loop.time()
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                self.log.waits.append(loop.time() - self.replied)
                command = line.decode("utf-8", "replace").strip()
                if command:
                    await self._one(command)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\n")
        await self.writer.drain()
        self.replied = asyncio.get_running_loop().time()

    async def _one(self, command: str) -> None:
        index = self.count
        self.count += 1
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        name = _command_name(words)
        hangs_now = self.script.hangup_at == index and not self.hung_up
        if self.hung_up or (hangs_now and name not in MEDIA):
            if hangs_now:
                self.hung_up = True
                await self._send("HANGUP")
            if name in DEAD_SAFE:
                reply = self._dead_safe(name, words)
            else:
                reply = "511 Command Not Permitted on a dead channel or intercept routine"
            self.log.commands.append((command, reply))
            await self._send(reply)
            return
        handler = HANDLERS.get(name)
        if handler is None:
            reply = "510 Invalid or unknown command"
            self.log.commands.append((command, reply))
            await self._send(reply)
            return
        args = words[len(name.split()) :]
        try:
            reply = await handler(self, args, hangs_now)
        except _Usage:
            usage = USAGE.get(name, "")
            self.log.commands.append((command, "520"))
            await self._send(f"520-Invalid command syntax.  Proper usage follows:\n{usage}\n520 End of proper usage.")
            return
        self.log.commands.append((command, reply))
        await self._send(reply)
        if hangs_now:
            self.hung_up = True
            await self._send("HANGUP")  # unsolicited, after the interrupted command's result

    def _dead_safe(self, name: str, words: list[str]) -> str:
        if name == "GET VARIABLE" and len(words) > 2:
            value = self.log.variables.get(words[2])
            return f"200 result=1 ({value})" if value is not None else "200 result=0"
        if name == "SET VARIABLE" and len(words) > 3:
            self.log.variables[words[2]] = words[3]
            return "200 result=1"
        return "200 result=0"

    # --- media ---------------------------------------------------------------------
    def _find(self, name: str) -> tuple[Path, float] | None:
        if any(part in name for part in self.script.unreadable):
            return None
        base = Path(name)
        for ext in SOUND_EXTENSIONS:
            path = base.with_name(f"{base.name}.{ext}")
            if path.exists():
                return path, _seconds(path)
        return None

    async def _locate(self, name: str) -> tuple[Path, float] | None:
        """file.c fileexists_test: a name with ``://`` comes from the media cache."""
        if "://" not in name:
            return self._find(name)
        if self.media is None or any(part in name for part in self.script.unreadable):
            return None
        path = await self.media.retrieve(name)
        return (path, _seconds(path)) if path is not None else None

    async def _play(self, name: str, escape: str) -> tuple[str, int, bool]:
        """Play one file; (digit pressed or '', samples played, found)."""
        found = await self._locate(name)
        if found is None:
            self.log.missing.append(name)
            return "", 0, False
        path, seconds = found
        self.log.played.append(name if "://" in name else str(path))
        # One entry of the caller's keys per prompt that accepts keys; "" = pressed nothing.
        # A key that is not an escape digit is ignored, as Asterisk ignores it.
        entry = self.keys.pop(0) if escape and self.keys else ""
        if entry and entry[0] in escape:
            await asyncio.sleep(seconds / self.speed / 3)
            return entry[0], int(seconds * 8000 / 3), True
        played = await self._for(seconds / self.speed)
        if played < seconds / self.speed:
            return "", int(played * self.speed * 8000), True
        self.log.finished.append(self.log.played[-1])
        if self.log.on_finished is not None:
            self.log.on_finished(self.log.played[-1])
        return "", int(seconds * 8000), True

    async def _for(self, seconds: float) -> float:
        """Play for ``seconds``, watching the FastAGI socket as res_agi.c handle_streamfile
        does (ast_waitstream_full with the session's control fd): once Loa's end of the
        session is gone, the playback stops there. The seconds actually played."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (left := start + seconds - loop.time()) > 0:
            if self.reader.at_eof():
                break
            await asyncio.sleep(min(left, 0.05))
        return min(seconds, loop.time() - start)


class _Usage(Exception):
    pass


MEDIA = {"STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "RECORD FILE", "SAY DIGITS", "GET OPTION"}


def _command_name(words: list[str]) -> str:
    upper = [w.upper() for w in words]
    for size in (3, 2, 1):
        candidate = " ".join(upper[:size])
        if candidate in HANDLERS or candidate in DEAD_SAFE:
            return candidate
    return " ".join(upper[:2])


def _seconds(path: Path) -> float:
    if path.suffix in (".wav", ".wav16"):
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    size = path.stat().st_size
    per_second = {".ulaw": 8000, ".alaw": 8000, ".sln": 16000, ".sln16": 32000, ".g722": 8000, ".gsm": 1650}
    return size / per_second.get(path.suffix, 8000)


async def _answer(call: AgiCall, args: list[str], hangs: bool) -> str:
    return "200 result=0"


async def _stream_file(call: AgiCall, args: list[str], hangs: bool) -> str:
    if len(args) < 2:
        raise _Usage
    if hangs:
        found = await call._locate(args[0])
        return f"200 result=-1 endpos={int(found[1] * 8000 / 2) if found else 0}"
    digit, samples, found = await call._play(args[0], args[1])
    if not found:
        return "200 result=-1 endpos=0"
    return f"200 result={ord(digit) if digit else 0} endpos={samples}"


async def _get_data(call: AgiCall, args: list[str], hangs: bool) -> str:
    if not args:
        raise _Usage
    if hangs:
        return "200 result=-1"
    maxdigits = int(args[2]) if len(args) > 2 else 1024
    _, _, found = await call._play(args[0], "")
    if not found:  # ast_app_getdata_full: the prompt failed to stream -> res < 0, caller still up
        return "200 result=-1"
    entry = call.keys.pop(0) if call.keys else ""
    if "#" in entry:
        return f"200 result={entry.split('#')[0]}"
    if len(entry) >= maxdigits:
        return f"200 result={entry[:maxdigits]}"
    return f"200 result={entry} (timeout)"


async def _wait_for_digit(call: AgiCall, args: list[str], hangs: bool) -> str:
    if len(args) != 1:
        raise _Usage
    if hangs:
        return "200 result=-1"
    entry = call.keys.pop(0) if call.keys else ""
    return f"200 result={ord(entry[0]) if entry else 0}"


async def _record_file(call: AgiCall, args: list[str], hangs: bool) -> str:
    if len(args) < 4:
        raise _Usage
    filename, fmt, escape = args[0], args[1], args[2]
    if call.script.record_error == "writefile":  # ast_writefile failed: nothing recorded
        return "200 result=-1 (writefile)"
    path = Path(f"{filename}.{fmt}")
    frames = b""
    if call.script.say is not None:
        with wave.open(str(call.script.say), "rb") as w:
            frames = w.readframes(w.getnframes())
    samples = len(frames) // 2
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "wav":
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(frames)
    else:
        path.write_bytes(frames)  # noqa: ASYNC240 (a test peer; small files)
    call.log.recorded.append(path)
    await asyncio.sleep(samples / 8000 / call.speed)
    if call.script.record_error == "randomerror":  # ast_waitfor/ast_read failed: the file is cut short
        return f"200 result=-1 (randomerror) endpos={samples}"
    if hangs:
        return f"200 result=-1 (hangup) endpos={samples}"
    entry = call.keys.pop(0) if escape and call.keys else ""
    if entry and entry[0] in escape:
        return f"200 result={ord(entry[0])} (dtmf) endpos={samples}"
    return f"200 result=0 (timeout) endpos={samples}"


async def _say_digits(call: AgiCall, args: list[str], hangs: bool) -> str:
    if len(args) < 2 or not args[0].isdigit():
        raise _Usage
    if hangs:
        return "200 result=-1"
    await asyncio.sleep(0.5 * len(args[0]) / call.speed)
    return "200 result=0"


async def _set_variable(call: AgiCall, args: list[str], hangs: bool) -> str:
    if len(args) != 2:
        raise _Usage
    call.log.variables[args[0]] = args[1]
    return "200 result=1"


async def _get_variable(call: AgiCall, args: list[str], hangs: bool) -> str:
    value = call.log.variables.get(args[0]) if args else None
    return f"200 result=1 ({value})" if value is not None else "200 result=0"


async def _exec(call: AgiCall, args: list[str], hangs: bool) -> str:
    if not args:
        raise _Usage
    app, data = args[0], " ".join(args[1:])
    call.log.execs.append((app, data))
    if app.lower() not in ("playback", "dial", "queue", "wait", "noop", "set", "background"):
        return "200 result=-2"
    if app.lower() in ("playback", "background"):
        for name in data.split(",")[0].split("&"):
            if await call._locate(name) is None:
                call.log.missing.append(name)
    return "200 result=0"


async def _noop(call: AgiCall, args: list[str], hangs: bool) -> str:
    return "200 result=0"


async def _channel_status(call: AgiCall, args: list[str], hangs: bool) -> str:
    return "200 result=6"  # AST_STATE_UP


async def _hangup(call: AgiCall, args: list[str], hangs: bool) -> str:
    call.hung_up = True
    return "200 result=1"


HANDLERS = {
    "ANSWER": _answer,
    "STREAM FILE": _stream_file,
    "GET DATA": _get_data,
    "WAIT FOR DIGIT": _wait_for_digit,
    "RECORD FILE": _record_file,
    "SAY DIGITS": _say_digits,
    "SET VARIABLE": _set_variable,
    "GET VARIABLE": _get_variable,
    "EXEC": _exec,
    "HANGUP": _hangup,
    "CHANNEL STATUS": _channel_status,
    "NOOP": _noop,
}


class Asterisk:
    """The stand-in server. ``scripts`` maps a dialled number to what its owner does."""

    def __init__(
        self,
        username: str = "loa",
        secret: str = "s3cret",
        speed: float = 50.0,
        read_system: bool = True,
        fragment: int = 0,
        host: str = "127.0.0.1",
        root: Path | None = None,
    ) -> None:
        self.host = host  # AMI and ARI listen here; FastAGI connects from here
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="asterisk-standin-"))
            weakref.finalize(self, shutil.rmtree, root, True)
        self.root = root  # astspooldir: nothing here is shared with Loa
        self.recording_dir = root / "recording"  # ast_config_AST_RECORDING_DIR, where ARI looks
        self.recording_dir.mkdir(parents=True, exist_ok=True)
        self.media = MediaCache(root / "media_cache")
        self.ari = AriServer(self.recording_dir, {"loa": "ari-s3cret"}, host)
        self.username = username
        self.secret = secret
        self.speed = speed
        self.read_system = read_system  # the AMI user's read= includes "system"
        self.fragment = fragment  # write AMI output in pieces of this many bytes (0: whole)
        self.write = {"originate", "reporting", "call"}  # the AMI user's write= classes: conf/asterisk/manager.conf
        self.tech_cause = False  # Hangup carries TechCause (the SIP code): 20/22 since Oct 2025
        self.ring_timeout_cause = 19  # before 20.18 / 22.8 a ring timeout hung up with cause 0
        self.hangup_first = True  # the Hangup event before the OriginateResponse (either may come first)
        self.drop_hangup = False  # lose the Hangup events of failed calls (a reconnect window)
        self.dialplan = Dialplan(DIALPLAN)
        self.scripts: dict[str, Script] = {}
        self.default = Script()
        self.calls: dict[str, CallLog] = {}
        self.originates: list[dict[str, str]] = []
        self.port = 0
        self.server: asyncio.Server | None = None
        self.sessions: set[_AmiSession] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.live: dict[str, dict[str, str]] = {}  # uniqueid -> channel snapshot
        self.answered: dict[str, asyncio.Task[None]] = {}  # uniqueid -> the call's dialplan (AGI) running
        self.hangup_causes: dict[str, int] = {}  # uniqueid -> cause given by a manager Hangup
        self.seq = itertools.count(1)
        self.login_fail_delay = 1.0

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._session, self.host, port or self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        if self.ari.server is None:
            await self.ari.start()
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for session in list(self.sessions):
            session.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None
        await self.ari.stop()
        self.live.clear()

    async def restart(self, down_for: float = 0.5) -> None:
        """``core restart now``: Shutdown event, every call and connection dropped, then
        the manager listens again on the same port."""
        for session in list(self.sessions):
            session.event("Shutdown", "system", {"Shutdown": "Uncleanly", "Restart": "True"})
        await asyncio.sleep(0.05)
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start(self.port)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        try:
            await _serve(session)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def broadcast(self, name: str, headers: dict[str, str], klass: str = "call") -> None:
        for session in list(self.sessions):
            session.event(name, klass, headers)

    # --- calls -----------------------------------------------------------------------
    def _snapshot(self, channel: str, uniqueid: str, number: str, state: tuple[int, str]) -> dict[str, str]:
        return {
            "Channel": channel,
            "ChannelState": str(state[0]),
            "ChannelStateDesc": state[1],
            "CallerIDNum": number,
            "CallerIDName": "<unknown>",
            "ConnectedLineNum": "<unknown>",
            "ConnectedLineName": "<unknown>",
            "Language": "vi",
            "AccountCode": "",
            "Context": "loa-outbound",
            "Exten": "s",
            "Priority": "1",
            "Uniqueid": uniqueid,
            "Linkedid": uniqueid,
        }

    async def originate(self, action: dict[str, str]) -> tuple[bool, dict[str, str]]:
        """Dial as app_originate/fast_originate would; returns (answered, OriginateResponse)."""
        self.originates.append(action)
        tech_data = action["channel"]
        number = tech_data.split("/", 1)[1].split("@")[0]
        script = self.scripts.get(number, self.default)
        seq = next(self.seq)
        uniqueid = action.get("channelid") or f"{int(time.time())}.{seq}"
        channel = f"{tech_data.split('@')[0].split('/')[0]}/trunk-{seq:08x}"
        log = CallLog(uniqueid, number)
        self.calls[uniqueid] = log
        if script.outcome == "chanunavail":  # fast_originate: Reason 0, no channel, so no Hangup
            log.ended.set()
            return False, {
                "Response": "Failure",
                "Channel": tech_data,
                "Reason": "0",
                # manager.c action_originate copies ChannelId into the assigned ids, and
                # fast_originate prints it as the Uniqueid: <unknown> only without one.
                "Uniqueid": action.get("channelid") or "<unknown>",
                "CallerIDNum": "<unknown>",
                "CallerIDName": "<unknown>",
                "Application": action.get("application", ""),
                "Data": action.get("data", ""),
            }
        snap = self._snapshot(channel, uniqueid, number, (0, "Down"))
        self.live[uniqueid] = snap
        self.broadcast("Newchannel", snap)
        await asyncio.sleep(script.ring_seconds)
        cause, cause_txt = CAUSES[script.outcome]
        answered = script.outcome == "answer"
        reason = dial_reason(cause, answered)
        if script.outcome == "no_answer":  # dial.c: the ring timeout, not the channel driver
            cause = self.ring_timeout_cause
            cause_txt = "Unknown" if cause == 0 else cause_txt
        elif not answered and tech_data.upper().startswith("PJSIP/"):
            reason = 0  # chan_pjsip hangs up on the final SIP response: the dial sees no control frame
        response = {
            "Response": "Success" if answered else "Failure",
            "Channel": tech_data,
            "Reason": str(reason),
            "Uniqueid": uniqueid,
            "CallerIDNum": action.get("callerid", "<unknown>") or "<unknown>",
            "CallerIDName": "<unknown>",
        }
        if "application" in action:
            response.update(Application=action["application"], Data=action.get("data", ""))
        else:
            response.update(Context=action.get("context", ""), Exten=action.get("exten", ""))
        if not answered:
            self.live.pop(uniqueid, None)
            hangup = dict(snap, Cause=str(cause), **{"Cause-txt": cause_txt})
            if self.tech_cause and script.outcome in SIP_CODES:
                hangup["TechCause"] = str(SIP_CODES[script.outcome])
            log.cause = cause
            log.ended.set()
            if self.drop_hangup:
                return False, response
            if self.hangup_first:
                self.broadcast("Hangup", hangup)
                return False, response
            # The OriginateResponse first: the Hangup follows once the dial thread lets go.
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, lambda: self.server is not None and self.broadcast("Hangup", hangup))
            return False, response
        up = self._snapshot(channel, uniqueid, number, (6, "Up"))
        self.live[uniqueid] = up
        self.broadcast("Newstate", up)
        task = asyncio.create_task(self._run_answered(action, log, script, up, number))
        self.tasks.add(task)
        self.answered[uniqueid] = task
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _t: self.answered.pop(uniqueid, None))
        return True, response

    def hangup(self, name_or_uniqueid: str, cause: int) -> bool:
        """manager.c action_hangup: the channel is found by its name, else by its Uniqueid
        (ast_channel_get_by_name); its dialplan is soft-hung-up with the cause given."""
        for uniqueid, snap in list(self.live.items()):
            if name_or_uniqueid in (snap["Channel"], uniqueid) and uniqueid in self.answered:
                self.hangup_causes[uniqueid] = cause
                self.answered[uniqueid].cancel()
                return True
        return False

    async def _run_answered(
        self, action: dict[str, str], log: CallLog, script: Script, snap: dict[str, str], number: str
    ) -> None:
        try:
            for item in action.get("variable", "").split("\x00"):
                if "=" in item:
                    key, value = item.split("=", 1)
                    log.variables[key] = value
            if action.get("application", "").upper() == "AGI":
                data = action.get("data", "")
                url, *args = data.split(",")
                env = self._env(snap, number, args, "loa-outbound")
                await AgiCall(log, script, self.speed, env, self.media, self.host).run(url)
            elif "context" in action:
                await self._run_dialplan(action["context"], log, script, snap, number)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.live.pop(log.uniqueid, None)
            cause = self.hangup_causes.pop(log.uniqueid, 16)
            if self.server is not None:
                text = next((t for c, t in CAUSES.values() if c == cause), "Normal Clearing")
                self.broadcast("Hangup", dict(snap, Cause=str(cause), **{"Cause-txt": text}))
            log.cause = cause
            log.ended.set()

    async def _run_dialplan(
        self, context: str, log: CallLog, script: Script, snap: dict[str, str], number: str
    ) -> None:
        """pbx.c: the priorities of ``s`` in the context, one after another, until one
        hangs up; channel variables shadow the [globals]."""
        for app, data in self.dialplan.contexts[context]:
            data = self.dialplan.substitute(data, log.variables)
            if app == "Set":
                name, _, value = data.partition("=")
                if "(" not in name:  # CHANNEL(language) and other functions: nothing to keep
                    log.variables[name] = value
            elif app == "AMD":
                # app_amd.c: sets AMDSTATUS (MACHINE, HUMAN, NOTSURE, HANGUP) and AMDCAUSE;
                # on HANGUP the caller is gone and the dialplan stops here.
                log.variables["AMDSTATUS"] = script.amd
                log.variables["AMDCAUSE"] = AMD_CAUSES[script.amd]
                log.execs.append(("AMD", data))
                if script.amd == "HANGUP":
                    return
            elif app == "AGI":
                url, *args = data.split(",")
                env = self._env(snap, number, args, context)
                await AgiCall(log, script, self.speed, env, self.media, self.host).run(url)
            elif app == "Hangup":
                return
            elif app != "NoOp":
                raise NotImplementedError(f"the stand-in does not run {app}() from {self.dialplan.path}")

    def _env(self, snap: dict[str, str], number: str, args: list[str], context: str) -> dict[str, str]:
        env = {
            "agi_channel": snap["Channel"],
            "agi_language": "vi",
            "agi_type": snap["Channel"].split("/")[0],
            "agi_uniqueid": snap["Uniqueid"],
            "agi_version": "20.5.0",
            "agi_callerid": number or "unknown",
            "agi_calleridname": "unknown",
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": "unknown",
            "agi_rdnis": "unknown",
            "agi_context": context,
            "agi_extension": "s",
            "agi_priority": "1",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": str(id(snap)),
        }
        for n, arg in enumerate(args, 1):
            env[f"agi_arg_{n}"] = arg
        return env

    async def call_in(self, number: str, url: str, script: Script, args: tuple[str, ...] = ()) -> CallLog:
        """A resident calls the hotline: the dialplan runs ``AGI(url,args)``."""
        seq = next(self.seq)
        uniqueid = f"{int(time.time())}.{seq}"
        log = CallLog(uniqueid, number)
        self.calls[uniqueid] = log
        snap = self._snapshot(f"PJSIP/trunk-{seq:08x}", uniqueid, number, (6, "Up"))
        env = self._env(snap, number, list(args), "loa-hotline")
        await AgiCall(log, script, self.speed, env, self.media, self.host).run(url)
        log.ended.set()
        return log


class Dialplan:
    """The ``s`` extension of each context of a shipped extensions.conf, and its [globals]."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.globals: dict[str, str] = {}
        self.contexts: dict[str, list[tuple[str, str]]] = {}
        context = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split(";", 1)[0].strip()
            if line.startswith("[") and line.endswith("]"):
                context = line[1:-1]
                if context != "globals":
                    self.contexts[context] = []
            elif context == "globals" and "=" in line:
                name, _, value = line.partition("=")
                self.globals[name.strip()] = value.strip()
            elif line.startswith(("exten", "same")) and "=>" in line:
                step = line.split("=>", 1)[1].strip().split(",", 2)[-1]
                app, _, rest = step.partition("(")
                self.contexts[context].append((app.strip(), rest[: rest.rfind(")")] if rest else ""))

    def substitute(self, text: str, variables: dict[str, str]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            return variables.get(name, self.globals.get(name, ""))

        previous = None
        while previous != text:
            previous, text = text, re.sub(r"\$\{([A-Za-z0-9_]+)\}", one, text)
        return text


class _AmiSession:
    def __init__(self, server: Asterisk, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.events = False
        self.system = False

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        if self.writer.is_closing():
            return
        if not self.server.fragment:
            self.writer.write(data)
            return
        for i in range(0, len(data), self.server.fragment):  # splits inside UTF-8 sequences too
            self.writer.write(data[i : i + self.server.fragment])

    def send(self, headers: dict[str, str]) -> None:
        self.write("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")

    def respond(self, action: dict[str, str], response: str, **extra: str) -> None:
        headers = {"Response": response}
        if "actionid" in action:
            headers["ActionID"] = action["actionid"]
        headers.update(extra)
        self.send(headers)

    def event(self, name: str, klass: str, headers: dict[str, str]) -> None:
        if not self.authenticated or not self.events or (klass == "system" and not self.system):
            return
        self.send({"Event": name, "Privilege": f"{klass},all", **headers})

    def close(self) -> None:
        self.writer.close()

    async def read_message(self) -> dict[str, str] | None:
        message: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            if len(line) > 1024:
                return {"__error__": "Failed to parse message: line too long"}
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if message:
                    return message
                continue
            key, sep, value = text.partition(":")
            if not sep:
                continue
            key = key.strip().lower()
            value = value.lstrip()
            if key == "variable" and key in message:  # repeatable
                message[key] += "\x00" + value
            else:
                message[key] = value


async def _handle(session: _AmiSession, action: dict[str, str]) -> bool:
    server = session.server
    if "__error__" in action:
        session.respond(action, "Error", Message=action["__error__"])
        return True
    name = action.get("action", "")
    if not name:
        session.respond(action, "Error", Message="Missing action in request")
        return True
    lname = name.lower()
    if lname == "login":
        if session.authenticated:
            session.respond(action, "Success", Message="Already authenticated")
            return True
        if action.get("username") != server.username or action.get("secret") != server.secret:
            await asyncio.sleep(server.login_fail_delay)
            session.respond(action, "Error", Message="Authentication failed")
            return False
        session.authenticated = True
        session.events = action.get("events", "on").lower() not in ("off", "no", "false", "0")
        session.system = server.read_system
        session.respond(action, "Success", Message="Authentication accepted")
        session.event("FullyBooted", "system", {"Uptime": "100", "LastReload": "100", "Status": "Fully Booted"})
        return True
    if not session.authenticated:
        session.respond(action, "Error", Message="Permission denied")
        return True
    if lname == "ping":
        session.respond(action, "Success", Ping="Pong", Timestamp=f"{time.time():.6f}")
    elif lname == "logoff":
        session.respond(action, "Goodbye", Message="Thanks for all the fish.")
        return False
    elif lname == "coreshowchannels" and not server.write & {"system", "reporting", "all"}:
        # manager.c: registered EVENT_FLAG_SYSTEM | EVENT_FLAG_REPORTING; a user whose write=
        # has neither class gets the generic refusal of process_message
        session.respond(action, "Error", Message="Permission denied")
    elif lname == "coreshowchannels":
        session.respond(action, "Success", EventList="start", Message="Channels will follow")
        for snap in list(server.live.values()):
            session.send({"Event": "CoreShowChannel", "ActionID": action.get("actionid", ""), **snap})
        session.send(
            {
                "Event": "CoreShowChannelsComplete",
                "ActionID": action.get("actionid", ""),
                "EventList": "Complete",
                "ListItems": str(len(server.live)),
            }
        )
    elif lname == "originate":
        await _originate(session, action)
    elif lname == "hangup" and not server.write & {"system", "call", "all"}:
        # manager.c: Hangup is registered EVENT_FLAG_SYSTEM | EVENT_FLAG_CALL
        session.respond(action, "Error", Message="Permission denied")
    elif lname == "hangup":
        channel = action.get("channel", "")
        cause = action.get("cause", "")
        if not channel:
            session.respond(action, "Error", Message="No channel specified")
        elif not server.hangup(channel, int(cause) if cause.isdigit() else 16):
            session.respond(action, "Error", Message="No such channel")
        else:
            session.respond(action, "Success", Message="Channel Hungup")
    else:
        message = f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
        session.respond(action, "Error", Message=message)
    return True


async def _originate(session: _AmiSession, action: dict[str, str]) -> None:
    server = session.server
    if "originate" not in server.write:  # manager.c: the action is registered EVENT_FLAG_ORIGINATE
        session.respond(action, "Error", Message="Permission denied")
        return
    app = action.get("application", "").lower()
    shell_like = ("system", "exec", "agi", "mixmonitor", "externalivr", "originate")
    if app and "system" not in server.write and any(word in app for word in shell_like):
        # manager.c action_originate: without write=system no application that reaches a shell
        session.respond(action, "Error", Message="Originate Access Forbidden: Application")
        return
    channel = action.get("channel", "")
    if not channel:
        session.respond(action, "Error", Message="Channel not specified")
        return
    if "/" not in channel:
        session.respond(action, "Error", Message="Invalid channel")
        return
    timeout = action.get("timeout", "30000")
    if not timeout.isdigit():
        session.respond(action, "Error", Message="Invalid timeout")
        return
    if "exten" in action and not ("context" in action and "priority" in action):
        session.respond(action, "Error", Message="Originate with 'Exten' requires 'Context' and 'Priority'")
        return
    if "exten" in action and action["context"] not in server.dialplan.contexts:
        session.respond(action, "Error", Message="Extension does not exist.")
        return
    is_async = action.get("async", "").lower() in ("yes", "true", "y", "t", "1", "on")
    if not is_async:  # held until the outcome; the session does nothing else meanwhile
        answered, _ = await server.originate(action)
        if answered:
            session.respond(action, "Success", Message="Originate successfully queued")
        else:
            session.respond(action, "Error", Message="Originate failed")
        return
    session.respond(action, "Success", Message="Originate successfully queued")

    async def dial() -> None:
        _, response = await server.originate(action)
        headers = {"Event": "OriginateResponse", "Privilege": "call,all"}
        if "actionid" in action:
            headers["ActionID"] = action["actionid"]
        headers.update(response)
        if session.authenticated and session.events:
            session.send(headers)

    task = asyncio.create_task(dial())
    server.tasks.add(task)
    task.add_done_callback(server.tasks.discard)


async def _serve(session: _AmiSession) -> None:
    session.write(f"Asterisk Call Manager/{AMI_VERSION}\r\n")
    while True:
        action = await session.read_message()
        if action is None:
            return
        if not await _handle(session, action):
            return
